"""After a capture: its normal map and quality checks, written to the capture's ``derived/``.

The camera originals are never touched; everything here is derived and can be recomputed
(each file written atomically): the files of ``booth normals``, ``landmarks.json`` (Face Mesh
on the ring-flash photo) and ``qc.yaml`` (the warnings the operator saw).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from booth import commands, qc
from booth.files import write_text
from photometric import imageio, stereo
from photometric.errors import InputError

DERIVED = "derived"


@dataclass
class Processed:
    folder: Path  # the capture's derived/ folder
    result: stereo.StereoResult
    warnings: list[qc.QcWarning]

    @property
    def preview(self) -> Path:
        return self.folder / "normals_preview.png"


def process_capture(capture_dir: str | Path, calibration: str | Path | None = None,
                    method: str = "lambertian", face: bool = True) -> Processed:
    """Normals (with the session's calibration when there is one) and QC of one capture."""
    capture_dir = Path(capture_dir)
    out = capture_dir / DERIVED
    images = imageio.read_capture(capture_dir)
    result = commands.compute_normals(capture_dir, out, method, calibration, images=images)
    no_face: Exception | None = None
    if face:
        from learning.landmarks import detect

        try:
            lm = detect(images["center"])
            write_text(out / "landmarks.json", json.dumps(commands.landmarks_doc(
                "center", images["center"].shape, lm), indent=1))
        except InputError as exc:
            no_face = exc

    def find_face(_image) -> None:  # Face Mesh has run once, above
        if no_face is not None:
            raise no_face

    warnings = qc.assess(images, find_face=find_face if face else False)
    write_text(out / "qc.yaml", yaml.safe_dump({"warnings": qc.to_dict(warnings)},
                                               sort_keys=False))
    return Processed(out, result, warnings)
