"""After a capture: its normal map and quality checks, written to the capture's ``derived/``.

The camera originals are never touched; everything here is derived and can be recomputed
(each file written atomically). ``derived/qc.yaml`` lists the warnings the operator saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from booth import commands, qc
from booth.files import write_text
from photometric import imageio, stereo

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
    result = commands.compute_normals(capture_dir, out, method, calibration)
    warnings = qc.assess(imageio.read_capture(capture_dir), find_face=None if face else False)
    write_text(out / "qc.yaml", yaml.safe_dump({"warnings": qc.to_dict(warnings)},
                                               sort_keys=False))
    return Processed(out, result, warnings)
