"""``booth simulate people N``: a population of simulated people, each a capture folder.

Person ``seed + i`` for i < N, each rendered under the five flashes as ``booth simulate
subject --kind face`` renders one (photos, ``truth/`` and ``lights.yaml``) into
``person-NNNN/``, in worker processes with a progress bar; then ``people.yaml`` (who each
one is) and ``contact_sheet.png`` (each person's ring-flash photo beside their true normal
map) to look at the population in one picture. The folder is written whole or not at all.
"""

from __future__ import annotations

import concurrent.futures as cf
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from booth.simulation import camera_files, check_options, write_capture
from learning.workers import context as worker_context
from photometric import response
from photometric.errors import InputError
from photometric.io.files import OutputDir, atomic_write, check_output_dir, naming, write_text

COMMAND = "simulate people"
SHEET = "contact_sheet.png"
MANIFEST = "people.yaml"
_PERSON = re.compile(r"^person-\d{4,}$")
THUMB = 128  # contact-sheet cell: a photo and a normal map this many pixels square


def folder_name(pid: int) -> str:
    return f"person-{pid:04d}"


@dataclass
class Rendered:
    """What a worker reports for one person."""

    id: int
    folder: str
    description: str
    phenotype: dict[str, float]
    thumbs: np.ndarray  # (THUMB, 2 THUMB, 3) uint8 sRGB: ring-flash photo | normal map
    looks: dict[str, str]  # skin type, hair, garment, glasses (and the scene's lens, backdrop)


def _names(out: Path) -> list[str]:
    """What this command writes in ``out``: its two files and the person folders there."""
    found = [p.name for p in out.iterdir() if _PERSON.match(p.name)] if out.is_dir() else []
    return [SHEET, MANIFEST, *found]


def people_source(count: int, seed: int, size: int, fmt: str, noise: float, bits: int,
                  ambient: bool, lighting: str = "booth") -> str:
    """What a population was made from, as its output folder's marker records it."""
    if lighting == "portrait":
        return f"people {seed}..{seed + count - 1}, {size}×{size}, portrait light"
    return (f"people {seed}..{seed + count - 1}, {size}×{size}, {fmt}"
            + (f" {bits}-bit" if fmt == "png" else "") + f", noise {noise:g}"
            + (", ambient" if ambient else ""))


def check_out(out: str | Path, force: bool, source: str | None = None) -> Path:
    """The output folder, refused before any rendering if it is not ours; an earlier
    population of other settings (``source``) is replaced (whole) only with ``force``."""
    return check_output_dir(out, COMMAND, None, _names(Path(out)), source, force)


def _thumbs(images: dict[str, np.ndarray], normals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    from photometric.io import normalmap

    photo = (images["portrait"] if "portrait" in images
             else response.encode_srgb8(np.asarray(images["center"])))
    nmap = normalmap.preview8(normals, mask)
    cells = [cv2.resize(a, (THUMB, THUMB), interpolation=cv2.INTER_AREA) for a in (photo, nmap)]
    return np.hstack(cells)


def _render_one(stage: str, final: str, pid: int, size: int, fmt: str, noise: float,
                bits: int, ambient: bool, lighting: str = "booth") -> Rendered:
    from photometric.sim import people, sitter

    name = folder_name(pid)
    sub = Path(stage) / name
    sub.mkdir(mode=0o700)
    record = sitter.choose(pid, 0, lighting)
    r = write_capture(sub, Path(final) / name, "face", pid, size, ambient, noise, bits, None,
                      0.0, fmt, 0, lighting, record)
    who = people.person(pid)
    return Rendered(pid, name, who.describe(), who.phenotype,
                    _thumbs(r.images, r.surface.normals, r.surface.mask), looks(record))


def looks(record: dict) -> dict[str, str]:
    """A person record's choices in a few words, for people.yaml."""
    g, h = record["garment"], record["hair"]
    out = {"skin type": "I II III IV V VI".split()[int(record["person"]["fitzpatrick"]) - 1],
           "hair": h["style"], "garment": f"{g['colour']} {g['pattern']} {g['style']}"}
    if record.get("glasses"):
        gl = record["glasses"]
        out["glasses"] = f"{gl['colour']} {gl['shape']}" + (
            " (tinted)" if min(gl["tint"]) < 1.0 else "")
    if record.get("beard"):
        out["beard"] = record["beard"]["style"]
    if "scene" in record:
        sc = record["scene"]
        out["scene"] = (f"{sc['focal_mm']:.0f} mm, framing {sc['framing']:.2f}, "
                        f"{sc['backdrop']}, exposure {sc['exposure']:+.1f}")
    return out


def _render_files(pid: int, size: int, fmt: str, noise: float, ambient: bool
                  ) -> tuple[int, dict[str, bytes], dict[str, bytes]]:
    """Person ``pid`` as the simulated booth photographs them (exposed for their skin, the
    camera's files of ``fmt``): (pid, photos by file name, truth files)."""
    from photometric.render import SensorModel
    from photometric.sim import synthetic

    surface = synthetic.face(pid, size)
    booth = synthetic.Booth()
    camera = synthetic.metered(surface, booth, SensorModel(noise=noise))
    images = synthetic.capture(surface, booth, camera, ambient, pid)
    photos = {f"{name}{ext}": data for name, img in images.items()
              for ext, data in camera_files(img, fmt)}
    return pid, photos, synthetic.truth_files(surface, booth)


def _each(fn: Callable, args: list[tuple], workers: int,
          progress: Callable[[int, int], None] | None) -> Iterator:
    """``fn(*a)`` for each of ``args``, in this process or in ``workers`` processes (the
    export's fork server: warm, single-threaded BLAS and OpenCV, no torch threads to fork),
    results as they come, with ``progress(done, total)`` after each."""
    pool = None if workers == 1 or len(args) == 1 else _pool(workers, len(args))
    if pool is None:
        results: Iterator = (fn(*a) for a in args)
    else:
        results = (f.result() for f in cf.as_completed([pool.submit(fn, *a) for a in args]))
    try:
        for done, result in enumerate(results, start=1):
            yield result
            if progress:
                progress(done, len(args))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _pool(workers: int, count: int):
    ctx = worker_context()
    counter = ctx.Value("i", 0)
    return cf.ProcessPoolExecutor(min(workers, count), mp_context=ctx,
                                  initializer=_init_worker, initargs=(counter,))


def simulate_people_store(root: str | Path, session: str, count: int, seed: int = 0,
                          workers: int = 1, size: int = 512, fmt: str = "jpeg",
                          noise: float = 0.003, ambient: bool = False,
                          progress: Callable[[int, int], None] | None = None) -> Path:
    """People ``seed`` .. ``seed + count - 1`` captured into a new session ``session`` of the
    session store at ``root``, as the simulated booth would store them (camera files of
    ``fmt``, ``truth/``, consent recorded as subject ``person-NNNN``), after a calibration
    sphere photographed and fitted as the session's calibration: what ``booth export`` reads.
    """
    from booth.session import CALIBRATION_FILE, SessionStore
    from booth.workflows import calibrate_folder
    from photometric.lights import CHANNELS
    from photometric.render import SensorModel
    from photometric.sim import synthetic

    if fmt not in ("jpeg", "dng", "raw+jpeg"):
        raise InputError(f"--format {fmt}: a session store holds camera files; expected jpeg, "
                         "dng or raw+jpeg")
    check_options(size, 16, noise, fmt)
    if count < 1 or workers < 1:
        raise InputError(f"N and --workers: expected at least 1, got {count} and {workers}")
    store = SessionStore(root)
    if (Path(root) / session / "session.yaml").exists():
        raise InputError(f"{Path(root) / session}: the session exists; give a new --session")
    sess = store.create_session(session)
    # The calibration sphere, as the booth photographs it.
    shots = synthetic.capture(synthetic.sphere(size), synthetic.Booth(), SensorModel(noise=noise),
                              ambient, seed)
    w = sess.begin_calibration()
    for ch in CHANNELS:
        for ext, data in camera_files(shots[ch], fmt):
            w.add_shot(ch, f"{ch}{ext}", data)
    sphere = w.commit()
    calibrate_folder(sphere, sphere / CALIBRATION_FILE)
    sess.set_calibration(sphere.name)

    def store_one(result) -> None:
        pid, photos, truth = result
        subject = folder_name(pid)
        sess.add_subject(subject, consent=True, note="simulated person")
        cw = sess.begin_capture(subject)
        for name, data in photos.items():
            channel = name.rsplit(".", 1)[0]
            if channel in CHANNELS:
                cw.add_shot(channel, name, data)
        for rel, data in truth.items():
            cw.add_file(rel, data)
        cw.commit()

    args = [(pid, size, fmt, noise, ambient) for pid in range(seed, seed + count)]
    for result in _each(_render_files, args, workers, progress):
        store_one(result)
    return sess.path


def _init_worker(counter) -> None:
    """The export's worker set-up (one core per worker, one OpenCV thread), one torch
    thread too, and the body model loaded before the first person."""
    import torch

    from learning.workers import init_worker
    from photometric.sim import people

    init_worker(counter)
    torch.set_num_threads(1)
    people.template()


def contact_sheet(rows: list[Rendered], columns: int | None = None) -> np.ndarray:
    """Each person's photo and normal map side by side, with their id, in a grid."""
    import cv2

    columns = columns or max(1, min(10, int(np.ceil(np.sqrt(len(rows) / 2)))))
    h, w = THUMB + 14, 2 * THUMB + 4
    n_rows = -(-len(rows) // columns)
    sheet = np.full((n_rows * h, columns * w, 3), 24, np.uint8)
    for k, r in enumerate(rows):
        y, x = (k // columns) * h, (k % columns) * w
        sheet[y:y + THUMB, x:x + 2 * THUMB] = r.thumbs
        cv2.putText(sheet, str(r.id), (x + 2, y + THUMB + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                    (230, 230, 230), 1, cv2.LINE_AA)
    return sheet


@dataclass
class Population:
    folder: Path
    people: list[Rendered]


def simulate_people(out: str | Path, count: int, seed: int = 0, workers: int = 1,
                    size: int = 512, fmt: str = "png", noise: float = 0.0, bits: int = 16,
                    ambient: bool = False, force: bool = False,
                    progress: Callable[[int, int], None] | None = None,
                    lighting: str = "booth") -> Population:
    """People ``seed`` .. ``seed + count - 1``, each a capture folder in ``out`` (in portrait
    ``lighting``: each a portrait.jpg with its truth), each with its person.yaml."""
    if count < 1:
        raise InputError(f"N: expected at least one person, got {count}")
    if workers < 1:
        raise InputError(f"--workers: expected at least 1, got {workers}")
    check_options(size, bits, noise, fmt)
    target = OutputDir(out, COMMAND, _names(Path(out)), force=force,
                       source=people_source(count, seed, size, fmt, noise, bits, ambient,
                                            lighting))
    final = Path(out)
    ids = list(range(seed, seed + count))
    with target as stage:
        args = [(str(stage), str(final), pid, size, fmt, noise, bits, ambient, lighting)
                for pid in ids]
        done = list(_each(_render_one, args, workers, progress))
        done.sort(key=lambda r: r.id)
        manifest = {"count": count, "seed": seed, "size": size,
                    "format": "jpeg" if lighting == "portrait" else fmt, "lighting": lighting,
                    "people": [{"id": r.id, "folder": r.folder, "description": r.description,
                                "looks": r.looks, "record": f"{r.folder}/person.yaml",
                                "phenotype": {k: round(v, 4) for k, v in r.phenotype.items()}}
                               for r in done]}
        with naming(final / MANIFEST):
            write_text(stage / MANIFEST, yaml.safe_dump(manifest, sort_keys=False))
        from photometric.io import imageio

        sheet = contact_sheet(done)
        with naming(final / SHEET):
            atomic_write(stage / SHEET, lambda p: imageio.write_image(p, sheet))
    return Population(final, done)
