"""After a capture: its normal map and quality checks, written to the capture's ``derived/``.

The camera originals are never touched; everything here is derived and can be recomputed:
the files of ``booth normals`` (the same :func:`compute_normals`, so the same
method and the session's calibration), ``landmarks.json`` (Face Mesh on the ring-flash photo)
and ``qc.yaml`` (the warnings the operator saw). ``derived/`` is replaced whole
(:class:`~photometric.io.files.OutputDir`), so its normals, landmarks and QC always belong to one
run.

Normals from a capture (:func:`compute_normals`) are what ``booth normals``, this processing
and ``booth relight`` use: the light model is the ``calibration`` and/or ``lights`` files
given; else, for a capture inside a session store, the session's calibration; else the
nominal booth. The chain itself (linear photos, then photometric stereo) is
:func:`photometric.pipeline.solve_capture`, which the dataset export calls too. The method
defaults to ``lambertian``: least squares over the calibrated light directions, which the
simulated booth's sphere calibration brings to about 1° on a face, where the simplified
method's clamped linear model is several degrees off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from booth import qc
from learning.facemesh import landmarks_doc
from photometric import pipeline, stereo
from photometric.calibration import Calibration
from photometric.errors import InputError
from photometric.io import imageio, normalmap
from photometric.io.files import (
    OutputDir,
    atomic_write,
    check_output_dir,
    folder_of_names,
    naming,
    write_text,
)
from photometric.io.rigfile import load_rig

NORMALS_COMMAND = "normals"  # booth normals --out
DEFAULT_METHOD = stereo.DEFAULT_METHOD
METHODS = stereo.METHODS
#: The files :func:`write_files` writes, in the order it writes them.
FILES = ("normals.png", "normals.npy", "normals_preview.png", "albedo.png", "mask.png",
         "confidence.png", "normals.yaml")


DERIVED = "derived"
DERIVED_COMMAND = "capture"  # derived/ is made by the capture's processing, in the CLI or the app
#: What derived/ holds: the normal-map files, the landmarks and the QC.
NAMES = (*FILES, "landmarks.json", "qc.yaml")


@dataclass
class Normals:
    """A capture's normal map and where its light model came from."""

    result: stereo.StereoResult
    capture: Path
    method: str
    calibration: Path | None = None  # the calibration file used, if any
    lights: Path | None = None  # the lights file used, if any
    source: str = "nominal"  # given, session, beside, nominal (see LightModel)
    ambient: str | None = None  # the ambient frame subtracted, if any
    loaded: imageio.LoadedCapture | None = None  # the photos, and how they were made linear

    @property
    def valid_pixels(self) -> int:
        return int(self.result.mask.sum())

    def describe(self) -> str:
        """One line saying which light model was used."""
        if self.lights is not None:
            text = f"lights {self.lights}"
            if self.calibration is not None:
                text += f" (in place of calibration {self.calibration}'s)"
            if self.source == "beside":
                text += " (beside the photos; no calibration given)"
            return text
        if self.source == "session":
            return f"calibration {self.calibration} (the session's)"
        if self.calibration is not None:
            return f"calibration {self.calibration}"
        return "no calibration: the nominal booth's light directions"

    def provenance(self) -> dict:
        return {
            "capture": str(self.capture),
            "calibration": str(self.calibration) if self.calibration else None,
            "calibration_source": self.source,
            "lights": str(self.lights) if self.lights else None,
            "ambient_subtracted": self.ambient is not None,
            **(linearisation(self.loaded) if self.loaded is not None else {}),
        }


def linearisation(loaded: imageio.LoadedCapture) -> dict:
    """How a capture's pixels were made proportional to light, for the outputs' records."""
    out: dict = {"pixels_from": loaded.source, "linearisation": loaded.describe()}
    if loaded.white_balance is not None:
        out["white_balance"] = [round(v, 5) for v in loaded.white_balance]
    if loaded.response is not None:
        out["response"] = loaded.response.to_dict()
    return out


def session_calibration(capture_dir: str | Path) -> tuple[bool, Path | None]:
    """For a capture inside a session store (``<root>/<session>/subjects/<subject>/captures/
    <id>/`` or ``<root>/<session>/calibration/<id>/``): (True, the session's calibration file
    or None when it has none). (False, None) for a folder outside any session."""
    from booth.session import SessionStore

    d = Path(capture_dir).absolute()
    parts = d.parts
    if len(parts) >= 6 and parts[-2] == "captures" and parts[-4] == "subjects":
        session_dir = d.parents[3]
    elif len(parts) >= 4 and parts[-2] == "calibration":
        session_dir = d.parents[1]
    else:
        return False, None
    if not (session_dir / "session.yaml").is_file():
        return False, None
    session = SessionStore(session_dir.parent).session(session_dir.name)
    return True, session.calibration_file()


#: The lights file a capture folder may carry beside its photos (a simulated capture does).
LIGHTS_BESIDE = "lights.yaml"


@dataclass(frozen=True)
class LightModel:
    """The files a capture's normals are computed with, and where they came from: 'given'
    (``--calibration``/``--lights``), 'session' (its session's calibration), 'beside' (a
    lights.yaml beside the photos) or 'nominal' (none: the nominal booth)."""

    calibration: Path | None
    lights: Path | None
    source: str


def resolve_light_model(capture: Path, calibration: str | Path | None = None,
                        lights: str | Path | None = None) -> LightModel:
    """The one rule for a capture's light model, for ``booth normals``, ``derived/`` and
    ``booth relight``: the files given; else its session's calibration; else a lights.yaml
    beside the photos; else the nominal booth."""
    def path(p: str | Path | None) -> Path | None:
        return Path(p) if p is not None else None

    if calibration is not None or lights is not None:
        return LightModel(path(calibration), path(lights), "given")
    in_session, found = session_calibration(capture)
    if in_session and found:
        return LightModel(Path(found), None, "session")
    beside = Path(capture) / LIGHTS_BESIDE
    if not in_session and beside.is_file():
        return LightModel(None, beside, "beside")
    return LightModel(None, None, "nominal")


def compute_normals(
    capture_dir: str | Path,
    method: str = DEFAULT_METHOD,
    calibration: str | Path | None = None,
    lights: str | Path | None = None,
    loaded: imageio.LoadedCapture | None = None,
) -> Normals:
    """Photometric stereo on a capture folder (``loaded``: its photos, when the caller has
    already read them with :func:`load_capture`). ``method`` defaults to ``lambertian``.
    Without ``calibration`` or ``lights``, a capture in a session store uses the session's
    calibration, whose fitted camera response makes its JPEGs linear (RAW needs none), and a
    folder outside a session the lights.yaml beside its photos, if it has one
    (:func:`resolve_light_model`).

    A map with no valid pixel is an error, not a result."""
    capture = Path(capture_dir)
    model = resolve_light_model(capture, calibration, lights)
    calibration, lights, source = model.calibration, model.lights, model.source
    cal = Calibration.load(calibration) if calibration else None
    rig = load_rig(lights) if lights else None
    solved = pipeline.solve_capture(capture, method, cal, rig, loaded)
    loaded, result, images = solved.loaded, solved.result, solved.loaded.images
    ambient = None
    if "ambient" in images:
        found = imageio.find_image(capture, "ambient") if capture.is_dir() else None
        ambient = found.name if found is not None else "ambient"
    out = Normals(result, capture, method, calibration, lights, source, ambient, loaded)
    if out.valid_pixels == 0:
        raise InputError(f"{capture}: no pixel has a valid normal ({method} method, "
                         f"{out.describe()}); are the photos lit by the flashes and is the "
                         "subject in frame?")
    return out


def load_capture(capture: Path, calibration: str | Path | None) -> imageio.LoadedCapture:
    """A capture's photos made linear: RAW as it is, JPEGs through ``calibration``'s camera
    response (sRGB's inverse without one)."""
    return pipeline.load_capture(capture,
                                 Calibration.load(calibration) if calibration else None)


def write_files(normals: Normals, folder: Path, final: Path | None = None) -> None:
    """Write :data:`FILES` into ``folder`` (a staging folder); an error names the file under
    ``final``, the folder the user asked for."""
    result = normals.result
    final = final or folder
    flags = result.flags
    meta = {
        "method": result.method,
        "convention": normalmap.CONVENTION,
        **normals.provenance(),
        "pixels": int(result.mask.size),
        "valid_pixels": normals.valid_pixels,
        "flagged_pixels": {
            "shadowed": int(((flags & stereo.SHADOWED) != 0).sum()),
            "saturated": int(((flags & stereo.SATURATED) != 0).sum()),
            "underdetermined": int(((flags & stereo.UNDERDETERMINED) != 0).sum()),
            "clamped": int(((flags & stereo.CLAMPED) != 0).sum()),
            "filled": int(((flags & stereo.FILLED) != 0).sum()),
            "specular": int(((flags & stereo.SPECULAR) != 0).sum()),
        },
    }
    writers = {
        "normals.png": lambda p: normalmap.write_png16(p, result.normals, result.mask),
        "normals.npy": lambda p: normalmap.write_npy(p, result.normals),
        "normals_preview.png": lambda p: imageio.write_image(
            p, normalmap.preview8(result.normals, result.mask)),
        "albedo.png": lambda p: imageio.write_image(p, imageio.to_uint(result.albedo, 16)),
        "mask.png": lambda p: imageio.write_image(p, result.mask.astype(np.uint8) * 255),
        "confidence.png": lambda p: imageio.write_image(
            p, imageio.to_uint(result.confidence, 8)),
    }
    for name in FILES:
        with naming(final / name):
            if name == "normals.yaml":
                write_text(folder / name, yaml.safe_dump(meta, sort_keys=False))
            else:
                atomic_write(folder / name, writers[name])


def _earlier_output(folder: Path) -> bool:
    """A ``booth normals`` output from before output folders had a marker."""
    return folder_of_names(folder, FILES, lambda p: (p / "normals.yaml").is_file())


def capture_source(capture: str | Path) -> str:
    """What a ``booth normals`` output was made from, as its folder's marker records it."""
    return f"capture {Path(capture).resolve()}"


def check_normals_out(out: str | Path, capture: str | Path | None = None,
                      force: bool = False) -> Path:
    """Refuse, before any work, an ``--out`` that is neither new, empty nor ours; ours made
    from another capture only with ``force``."""
    return check_output_dir(out, NORMALS_COMMAND, _earlier_output, FILES,
                            capture_source(capture) if capture is not None else None, force)


def write_normals(normals: Normals, out: str | Path, force: bool = False) -> Path:
    """``booth normals --out``: the folder replaced whole, or left exactly as it was; an
    earlier output of another capture only with ``force``."""
    target = OutputDir(out, NORMALS_COMMAND, FILES, also_ours=_earlier_output,
                       source=capture_source(normals.capture), force=force)
    with target as stage:
        write_files(normals, stage, Path(out))
    return Path(out)


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
    target = OutputDir(final, DERIVED_COMMAND, NAMES, also_ours=_earlier_derived)
    loaded = load_capture(capture_dir, resolve_light_model(capture_dir, calibration).calibration)
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

    def find_face(_image) -> np.ndarray | None:  # Face Mesh has run once, above
        if no_face is not None:
            raise no_face
        return lm.points

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
