"""Simulated ring-flash captures of synthetic faces, and a session store of them, shared by
the learning tests."""

import pytest

from learning import facemesh as landmarks
from photometric.render import SensorModel
from photometric.sim import synthetic
from tests.conftest import store_capture

STORE_SIZE = 160


@pytest.fixture(scope="session")
def face_capture():
    """(images, surface, landmarks) of synthetic face 2 at 384 px, 8-bit."""
    surf = synthetic.face(2, 384)
    imgs = synthetic.capture(surf, camera=SensorModel(noise=0.003, bits=8), seed=2)
    return imgs, surf, landmarks.detect(imgs["center"]).points


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """Two sessions: four subjects with faces, one with a sphere (no face), one altered.
    Read-only: tests export from it, never into it."""
    from booth.session import SessionStore

    root = tmp_path_factory.mktemp("store")
    cam = SensorModel(noise=0.003, bits=8)
    a = SessionStore(root).create_session("a")
    b = SessionStore(root).create_session("b")
    for i, (session, subject) in enumerate([(a, "p1"), (a, "p2"), (b, "p3"), (b, "p1"),
                                            (b, "p4")]):
        store_capture(session, subject,
                       synthetic.capture(synthetic.face(i, STORE_SIZE), camera=cam))
    store_capture(a, "ball", synthetic.capture(synthetic.sphere(STORE_SIZE), camera=cam))
    altered = store_capture(a, "p9", synthetic.capture(synthetic.face(7, STORE_SIZE),
                                                        camera=cam))
    (altered / "left.png").write_bytes(b"not the original")
    return root


@pytest.fixture(scope="session")
def store_sources(store):
    """``export_sources`` of the store: (sources, rejected)."""
    from booth.dataset_sources import export_sources

    return export_sources([store])


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, store_sources):
    """One face (p2) exported at 64 px, all in train. Read-only: copy it to change it."""
    from learning import exporter as export

    out = tmp_path_factory.mktemp("small") / "ds"
    face = [s for s in store_sources[0] if s.subject == "p2"]
    result = export.export(face, out, export.Settings(size=64, split=(1.0, 0.0, 0.0)))
    assert result.ok and len(result.exported) == 1
    return out


@pytest.fixture
def dataset(tmp_path, small_dataset):
    """A copy of the small dataset (one face at 64 px, points encoding), free to change:
    training packs into it."""
    import shutil

    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    return out
