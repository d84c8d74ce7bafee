"""After a capture: its normal map and quality checks, written to the capture's ``derived/``.

The camera originals are never touched; everything here is derived and can be recomputed:
the files of ``booth normals`` (the same :func:`booth.normals.compute_normals`, so the same
method and the session's calibration), ``landmarks.json`` (Face Mesh on the ring-flash photo)
and ``qc.yaml`` (the warnings the operator saw). ``derived/`` is replaced whole
(:class:`~photometric.io.files.OutputDir`), so its normals, landmarks and QC always belong to one
run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from booth import qc
from booth.landmarks import landmarks_doc
from booth.normals import (
    DEFAULT_METHOD,
    FILES,
    Normals,
    compute_normals,
    load_capture,
    resolve_calibration,
    write_files,
)
from photometric import stereo
from photometric.errors import InputError
from photometric.io.files import OutputDir, folder_of_names, naming, write_text

DERIVED = "derived"
COMMAND = "capture"  # derived/ is made by the capture's processing, in the CLI or the app
#: What derived/ holds: the normal-map files, the landmarks and the QC.
NAMES = (*FILES, "landmarks.json", "qc.yaml")


@dataclass
class Processed:
    folder: Path  # the capture's derived/ folder
    normals: Normals
    warnings: list[qc.QcWarning]

    @property
    def result(self) -> stereo.StereoResult:
        return self.normals.result

    @property
    def preview(self) -> Path:
        return self.folder / "normals_preview.png"


def _earlier_derived(folder: Path) -> bool:
    """A derived/ from before output folders had a marker: only derived files."""
    return folder_of_names(folder, NAMES)


def process_capture(capture_dir: str | Path, calibration: str | Path | None = None,
                    method: str = DEFAULT_METHOD, face: bool = True) -> Processed:
    """Normals (with the session's calibration unless ``calibration`` is given) and QC of
    one capture, into its ``derived/``."""
    capture_dir = Path(capture_dir)
    final = capture_dir / DERIVED
    target = OutputDir(final, COMMAND, NAMES, also_ours=_earlier_derived)
    loaded = load_capture(capture_dir, resolve_calibration(capture_dir, calibration)[0])
    images = loaded.images
    normals = compute_normals(capture_dir, method, calibration, loaded=loaded)
    doc = None
    no_face: Exception | None = None
    if face:
        from learning.facemesh import detect

        try:
            portrait = loaded.display("center")
            lm = detect(portrait)
            doc = landmarks_doc("center", portrait.shape, lm)
        except InputError as exc:
            no_face = exc

    def find_face(_image) -> None:  # Face Mesh has run once, above
        if no_face is not None:
            raise no_face

    warnings = qc.assess(images, find_face=find_face if face else False)
    warnings += qc.highlights(normals.result.specular_pixels, normals.valid_pixels)
    with target as stage:
        write_files(normals, stage, final)
        if doc is not None:
            with naming(final / "landmarks.json"):
                write_text(stage / "landmarks.json", json.dumps(doc, indent=1))
        with naming(final / "qc.yaml"):
            write_text(stage / "qc.yaml", yaml.safe_dump({"warnings": qc.to_dict(warnings)},
                                                         sort_keys=False))
    return Processed(final, normals, warnings)
