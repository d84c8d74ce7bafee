"""``booth simulate subject``: a synthetic subject under the five flashes, as a capture folder.

The photos are linear PNGs (``--format png``, the renders as they are) or the files a camera
writes (:mod:`photometric.io.camerafile`): sRGB JPEGs with EXIF (``jpeg``), DNG RAWs (``dng``),
or both (``raw+jpeg``), so that what reads captures is tested on camera radiometry.

The folder is written whole or not at all (:class:`~photometric.io.files.OutputDir`): without
``--force`` it must be new, empty or an earlier output of the same settings; with ``--force``
it may also hold an earlier simulate output, which is replaced entirely, so no file of the
earlier run (an ``ambient.png`` that this run did not make, say) survives to be read as part of
this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from booth.choices import SIMULATE_FORMATS
from photometric.errors import InputError
from photometric.io import camerafile, imageio
from photometric.io.files import (
    OutputDir,
    atomic_write,
    check_output_dir,
    folder_of_names,
    naming,
    read_yaml,
    write_text,
)
from photometric.lights import CHANNELS
from photometric.render import SensorModel, Surface
from photometric.sim import synthetic

COMMAND = "simulate"
#: --format -> the extensions of the files of one shot.
FORMATS = SIMULATE_FORMATS
_NAMES = {*(f"{c}{ext}" for c in (*CHANNELS, "ambient") for ext in (".png", ".jpg", ".dng")),
          "truth", "lights.yaml"}


@dataclass
class SimulatedSubject:
    folder: Path
    surface: Surface
    images: dict[str, np.ndarray]


def _earlier_output(folder: Path) -> bool:
    """A simulate output from before output folders had a marker: only its file names, and
    a lights.yaml with the 'simulation' block."""
    def has_simulation(p: Path) -> bool:
        try:
            data = read_yaml(p / "lights.yaml")
        except InputError:
            return False
        return isinstance(data, dict) and "simulation" in data

    return folder_of_names(folder, _NAMES, has_simulation)


def subject_source(kind: str, seed: int, size: int, ambient: bool, noise: float, bits: int,
                   distance: float | None, specular: float, fmt: str) -> str:
    """What a simulated subject was made from, as its output folder's marker records it."""
    return (f"{kind} seed {seed}, {size}×{size}, {fmt}" + (f" {bits}-bit" if fmt == "png" else "")
            + f", noise {noise:g}, specular {specular:g}"
            + (f", flashes at {distance:g} mm" if distance else "")
            + (", ambient" if ambient else ""))


def check_out(out: str | Path, force: bool, source: str | None = None) -> Path:
    """The output folder, refused before any rendering if it is not ours to write; an
    earlier simulate output of other settings (``source``) is replaced only with ``force``
    (:func:`photometric.io.files.check_output_dir`'s rule)."""
    return check_output_dir(out, COMMAND, _earlier_output, _NAMES, source, force)


_RAW_BITS = int(camerafile.Sensor().white).bit_length()  # 14


def camera_files(img: np.ndarray, fmt: str) -> list[tuple[str, bytes | None]]:
    """(extension, bytes) of one shot's files in ``fmt``; None: the PNG, written by OpenCV."""
    out: list[tuple[str, bytes | None]] = []
    for ext in FORMATS[fmt]:
        if ext == ".png":
            out.append((ext, None))
        else:
            encode = camerafile.encode_jpeg if ext == ".jpg" else camerafile.encode_dng
            out.append((ext, encode(img)))
    return out


def check_options(size: int, bits: int, noise: float, fmt: str) -> None:
    """The rendering options, refused with the option's name before anything is made."""
    if size < 32:
        raise InputError(f"--size: expected at least 32 pixels, got {size}")
    if bits not in (8, 16):
        raise InputError(f"--bits: expected 8 or 16, got {bits}")
    if not 0 <= noise < 1:
        raise InputError(f"--noise: expected a fraction of full scale in [0, 1), got {noise}")
    if fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if ".dng" in FORMATS[fmt] and size % 2:
        raise InputError(f"--size: a RAW (Bayer) image needs an even side, got {size}")


def write_capture(stage: Path, final: Path, kind: str, seed: int, size: int, ambient: bool,
                   noise: float, bits: int, distance: float | None, specular: float, fmt: str,
                   take: int = 0) -> SimulatedSubject:
    """Render one subject and write its capture folder's files into ``stage`` (errors name
    the file under ``final``, where it will be)."""
    surface = synthetic.subject(kind, seed, size, specular, take=take)
    booth = synthetic.Booth(distance=distance)
    camera = SensorModel(noise=noise, bits=bits if fmt == "png" else None)
    images = synthetic.capture(surface, booth, camera, ambient, seed)
    rig = booth.rig.to_dict()
    depth = {"png": bits, "jpeg": 8}.get(fmt, _RAW_BITS)  # of the files written
    rig["simulation"] = {"kind": kind, "seed": seed, "size": size, "noise": noise,
                         "bits": depth, "distance_mm": distance, "ambient": ambient,
                         "specular": specular, "take": take}

    def write(rel: str, fn) -> None:
        with naming(final / rel):
            atomic_write(stage / rel, fn)

    for name, img in images.items():
        for ext, data in camera_files(img, fmt):
            if data is None:
                write(f"{name}{ext}", lambda p, img=img: imageio.write_image(p, img))
            else:
                write(f"{name}{ext}", lambda p, data=data: p.write_bytes(data))
    (stage / "truth").mkdir(mode=0o700)
    for rel, data in synthetic.truth_files(surface, booth).items():
        write(rel, lambda p, data=data: p.write_bytes(data))
    with naming(final / "lights.yaml"):
        write_text(stage / "lights.yaml", yaml.safe_dump(rig, sort_keys=False))
    return SimulatedSubject(final, surface, images)


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
    fmt: str = "png",
) -> SimulatedSubject:
    """Render a synthetic subject under the five flashes and write it as a capture folder:
    the photos (``fmt``: linear PNGs of ``bits``, or camera files), ``truth/`` (normals,
    mask, depth, albedo) and ``lights.yaml`` (the rig and how it was simulated). ``images``
    are the renders: uint PNG pixels, or the linear floats the camera files were encoded
    from. A face ``seed`` is a person (:mod:`photometric.sim.people`)."""
    check_options(size, bits, noise, fmt)
    target = OutputDir(out, COMMAND, _NAMES, also_ours=_earlier_output, force=force,
                       source=subject_source(kind, seed, size, ambient, noise, bits,
                                             distance, specular, fmt))
    with target as stage:
        result = write_capture(stage, Path(out), kind, seed, size, ambient, noise, bits,
                                distance, specular, fmt)
    return result
