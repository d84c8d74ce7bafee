"""What the headless commands do, as functions: the CLI and the demo call these.

Each reads and writes files (that is ``booth``'s job) and leaves the math to ``photometric``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from booth.files import atomic_write, make_dir, write_text
from photometric import imageio, normalmap, stereo, synthetic
from photometric.calibrate import Calibration, Circle, calibrate
from photometric.errors import InputError
from photometric.lights import CHANNELS, LightRig, read_yaml
from photometric.render import Camera, Surface


@dataclass
class SimulatedSubject:
    folder: Path
    surface: Surface
    images: dict[str, np.ndarray]


def simulate_subject(
    out: str | Path,
    kind: str = "face",
    seed: int = 0,
    size: int = 512,
    ambient: bool = False,
    noise: float = 0.0,
    bits: int = 16,
    distance: float | None = None,
    specular: float = 0.0,
    force: bool = False,
) -> SimulatedSubject:
    """Render a synthetic subject under the five flashes and write it as a capture folder."""
    if size < 32:
        raise InputError(f"--size: expected at least 32 pixels, got {size}")
    if bits not in (8, 16):
        raise InputError(f"--bits: expected 8 or 16, got {bits}")
    if not 0 <= noise < 1:
        raise InputError(f"--noise: expected a fraction of full scale in [0, 1), got {noise}")
    folder = make_dir(out)
    names = [*CHANNELS, "ambient"]
    clash = [n for n in names if imageio.find_image(folder, n) is not None]
    if clash and not force:
        raise InputError(f"{folder}: already holds capture images ({', '.join(clash)}); "
                         "choose an empty folder or pass --force to overwrite")
    surface = synthetic.subject(kind, seed, size, specular)
    booth = synthetic.Booth(distance=distance)
    images = synthetic.capture(surface, booth, Camera(noise=noise, bits=bits), ambient, seed)
    for name, img in images.items():
        atomic_write(folder / f"{name}.png", lambda p, img=img: imageio.write_image(p, img))
    truth = make_dir(folder / "truth")
    atomic_write(truth / "normals.npy", lambda p: normalmap.write_npy(p, surface.normals))
    atomic_write(truth / "mask.png",
                 lambda p: imageio.write_image(p, surface.mask.astype(np.uint8) * 255))
    rig = booth.rig.to_dict()
    rig["simulation"] = {"kind": kind, "seed": seed, "size": size, "noise": noise, "bits": bits,
                         "distance_mm": distance, "ambient": ambient, "specular": specular}
    write_text(folder / "lights.yaml", yaml.safe_dump(rig, sort_keys=False))
    return SimulatedSubject(folder, surface, images)


def calibrate_folder(sphere_dir: str | Path, out: str | Path,
                     circle: str | None = None) -> Calibration:
    """Calibrate from a sphere capture folder and write the calibration YAML."""
    images = imageio.read_capture(sphere_dir)
    try:
        cal = calibrate(images, Circle.parse(circle) if circle else None)
    except InputError as exc:
        raise InputError(f"{sphere_dir}: {exc}") from None
    out = Path(out)
    if out.parent != Path(""):
        make_dir(out.parent)
    write_text(out, yaml.safe_dump(cal.to_dict(), sort_keys=False))
    return cal


def _rig_file(path: str | Path) -> LightRig:
    """A lights file; a simulated capture's lights.yaml carries an extra 'simulation' block."""
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "simulation"}
    return LightRig.from_dict(data, source=str(path))


def compute_normals(
    capture_dir: str | Path,
    out: str | Path,
    method: str = "simplified",
    calibration: str | Path | None = None,
    lights: str | Path | None = None,
    images: dict[str, np.ndarray] | None = None,
) -> stereo.StereoResult:
    """Photometric stereo on a capture folder; writes normals.png/.npy, albedo, mask.
    ``images``: the folder's photos when the caller has already read them."""
    if method not in stereo.METHODS:
        raise InputError(f"--method: expected one of {stereo.METHODS}, got {method!r}")
    cal = Calibration.load(calibration) if calibration else None
    rig = _rig_file(lights) if lights else None
    if rig is None and cal is not None:
        rig = cal.rig
    if images is None:
        images = imageio.read_capture(capture_dir)
    if method == "simplified":
        model = cal.simplified if cal is not None and lights is None else None
        result = stereo.simplified(images, model, rig)
    else:
        result = stereo.lambertian(images, rig)
    stereo.despeckle(result)
    write_result(result, out, {
        "capture": str(capture_dir),
        "calibration": str(calibration) if calibration else None,
        "lights": str(lights) if lights else None,
        "ambient_subtracted": "ambient" in images,
    })
    return result


def write_result(result: stereo.StereoResult, out: str | Path, provenance: dict) -> Path:
    """Write a StereoResult's files into ``out`` (each file atomically)."""
    folder = make_dir(out)
    atomic_write(folder / "normals.png",
                 lambda p: normalmap.write_png16(p, result.normals, result.mask))
    atomic_write(folder / "normals.npy", lambda p: normalmap.write_npy(p, result.normals))
    atomic_write(folder / "normals_preview.png", lambda p: imageio.write_image(
        p, normalmap.preview8(result.normals, result.mask)))
    atomic_write(folder / "albedo.png", lambda p: imageio.write_image(
        p, imageio.to_uint(result.albedo, 16)))
    atomic_write(folder / "mask.png", lambda p: imageio.write_image(
        p, result.mask.astype(np.uint8) * 255))
    atomic_write(folder / "confidence.png", lambda p: imageio.write_image(
        p, imageio.to_uint(result.confidence, 8)))
    flags = result.flags
    meta = {
        "method": result.method,
        "convention": normalmap.CONVENTION,
        **provenance,
        "pixels": int(result.mask.size),
        "valid_pixels": int(result.mask.sum()),
        "flagged_pixels": {
            "shadowed": int(((flags & stereo.SHADOWED) != 0).sum()),
            "saturated": int(((flags & stereo.SATURATED) != 0).sum()),
            "underdetermined": int(((flags & stereo.UNDERDETERMINED) != 0).sum()),
            "clamped": int(((flags & stereo.CLAMPED) != 0).sum()),
        },
    }
    write_text(folder / "normals.yaml", yaml.safe_dump(meta, sort_keys=False))
    return folder


def export_sources(roots) -> tuple[list, list]:
    """The captures of session stores that a dataset can use: complete, not superseded,
    checksums intact (``Source``), and those refused with the reason (``Outcome``)."""
    import hashlib

    from booth.session import SessionStore
    from learning.dataset import Outcome, Source

    sources, rejected = [], []
    for root in roots:
        for session in SessionStore(root).sessions():
            cal = session.calibration_file()
            for info in session.verify():
                if info.subject == "calibration-sphere" or info.superseded_by:
                    continue
                key = f"{session.name}/{info.subject}/{info.capture_id}"
                if info.status != "complete":
                    why = "; ".join(info.problems) or f"capture is {info.status}"
                    rejected.append(Outcome(key, info.subject, "", "", reason=why))
                    continue
                digest = hashlib.sha256((info.path / "capture.yaml").read_bytes()).hexdigest()
                sources.append(Source(key, info.subject, str(info.path), digest,
                                      str(cal) if cal and cal.is_file() else None))
    return sources, rejected


def landmarks_doc(image: str, shape: tuple[int, ...], lm) -> dict:
    """The JSON form of Face Mesh landmarks (``booth landmarks``, a capture's derived/)."""
    return {"image": image, "width": shape[1], "height": shape[0],
            "faces_found": lm.faces_found,
            "convention": "x, y in pixels from the top-left corner; z in pixels, smaller = "
                          "nearer the camera (MediaPipe Face Mesh, refined: 478 points)",
            "landmarks": [[round(float(v), 3) for v in p] for p in lm.points]}


def write_landmarks(image: str | Path, out: str | Path, overlay: str | Path | None = None):
    """Face Mesh landmarks of a photo -> JSON (and the mesh drawn over it, if asked)."""
    import json

    import cv2

    from learning import landmarks

    img = imageio.read_image(image)
    try:
        lm = landmarks.detect(img)
    except InputError as exc:
        raise InputError(f"{image}: {exc}") from None
    write_text(out, json.dumps(landmarks_doc(str(image), img.shape, lm), indent=1))
    if overlay:
        from mediapipe.python.solutions import face_mesh_connections as c

        pic = landmarks.rgb8(img).copy()
        pts = np.round(lm.points[:, :2] * 16).astype(np.int32)  # 4 fractional bits
        for a, b in c.FACEMESH_TESSELATION:
            cv2.line(pic, tuple(pts[a]), tuple(pts[b]), (160, 160, 160), 1, cv2.LINE_AA, 4)
        for a, b in c.FACEMESH_CONTOURS | c.FACEMESH_IRISES:
            cv2.line(pic, tuple(pts[a]), tuple(pts[b]), (40, 220, 40), 1, cv2.LINE_AA, 4)
        atomic_write(overlay, lambda p: imageio.write_image(p, pic))
    return lm

