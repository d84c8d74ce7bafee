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
#: A simulated person's record of every choice (:mod:`photometric.sim.sitter`).
RECORD = "person.yaml"
#: --format -> the extensions of the files of one shot.
FORMATS = SIMULATE_FORMATS
_NAMES = {*(f"{c}{ext}" for c in (*CHANNELS, "ambient") for ext in (".png", ".jpg", ".dng")),
          "truth", "lights.yaml", "portrait.jpg", RECORD}


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
                   distance: float | None, specular: float, fmt: str,
                   lighting: str = "booth", take: int = 0) -> str:
    """What a simulated subject was made from, as its output folder's marker records it."""
    if lighting == "portrait":
        return f"{kind} seed {seed} take {take}, {size}×{size}, portrait light"
    return (f"{kind} seed {seed}, {size}×{size}, {fmt}" + (f" {bits}-bit" if fmt == "png" else "")
            + f", noise {noise:g}, specular {specular:g}"
            + (f", flashes at {distance:g} mm" if distance else "")
            + (", ambient" if ambient else "") + (f", take {take}" if take else ""))


def read_record(path: str | Path) -> dict:
    """A person.yaml an earlier run wrote, checked enough to render: one clear error naming
    the file and the field otherwise."""
    data = read_yaml(path)
    need = ("id", "take", "lighting", "person", "sitting", "garment", "hair")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a person record (a mapping), got "
                         f"{type(data).__name__}")
    missing = [k for k in need if k not in data]
    if missing:
        raise InputError(f"{path}: not a person record: missing {', '.join(missing)}")
    if data["lighting"] not in ("booth", "portrait"):
        raise InputError(f"{path}: lighting: expected booth or portrait, got "
                         f"{data['lighting']!r}")
    if data["lighting"] == "portrait" and "scene" not in data:
        raise InputError(f"{path}: a portrait record needs its scene")
    from photometric.sim import sitter

    try:
        sitter.check(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a person record this version renders ({exc})") from None
    return data


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
                   take: int = 0, lighting: str = "booth", record: dict | None = None
                   ) -> SimulatedSubject:
    """Render one subject and write its capture folder's files into ``stage`` (errors name
    the file under ``final``, where it will be). A person (``kind`` face) is rendered from
    ``record`` (:mod:`photometric.sim.sitter`; None: the choices person ``seed`` makes in
    sitting ``take``) and the record written beside the photos; in portrait ``lighting`` the
    photo is the camera's ``portrait.jpg``."""
    from photometric.sim import sitter

    def write(rel: str, fn) -> None:
        with naming(final / rel):
            atomic_write(stage / rel, fn)

    booth = synthetic.Booth(distance=distance)
    if kind == "face":
        record = record or sitter.choose(seed, take, lighting)
        lighting = record["lighting"]
        with naming(final / RECORD):
            write_text(stage / RECORD, yaml.safe_dump(record, sort_keys=False))
    if kind == "face" and lighting == "portrait":
        made = sitter.render(record, size)
        surface, images = made.surface, made.images
        write("portrait.jpg", lambda p: p.write_bytes(made.jpeg))
    else:
        surface = (sitter.surface(record, size, specular)[0] if kind == "face"
                   else synthetic.subject(kind, seed, size, specular, take=take))
        camera = SensorModel(noise=noise, bits=bits if fmt == "png" else None)
        images = synthetic.capture(surface, booth, camera, ambient, seed)
        rig = booth.rig.to_dict()
        depth = {"png": bits, "jpeg": 8}.get(fmt, _RAW_BITS)  # of the files written
        rig["simulation"] = {"kind": kind, "seed": seed, "size": size, "noise": noise,
                             "bits": depth, "distance_mm": distance, "ambient": ambient,
                             "specular": specular, "take": take}
        for name, img in images.items():
            for ext, data in camera_files(img, fmt):
                if data is None:
                    write(f"{name}{ext}", lambda p, img=img: imageio.write_image(p, img))
                else:
                    write(f"{name}{ext}", lambda p, data=data: p.write_bytes(data))
        with naming(final / "lights.yaml"):
            write_text(stage / "lights.yaml", yaml.safe_dump(rig, sort_keys=False))
    (stage / "truth").mkdir(mode=0o700)
    for rel, data in synthetic.truth_files(surface, booth).items():
        write(rel, lambda p, data=data: p.write_bytes(data))
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
    lighting: str = "booth",
    take: int = 0,
    record: dict | None = None,
) -> SimulatedSubject:
    """Render a synthetic subject and write it as a capture folder: under the five flashes
    the photos (``fmt``: linear PNGs of ``bits``, or camera files) and ``lights.yaml`` (the
    rig and how it was simulated); in portrait ``lighting`` (a person only) the camera's
    ``portrait.jpg``; and ``truth/`` (normals, mask, depth, albedo, lit, parts) and, for a
    person, ``person.yaml`` (every choice, :mod:`photometric.sim.sitter`; ``record`` renders
    one read back). ``images`` are the renders: uint PNG pixels, or the linear floats the
    camera files were encoded from, or the portrait's sRGB pixels. A face ``seed`` is a
    person (:mod:`photometric.sim.people`), ``take`` their sitting."""
    check_options(size, bits, noise, fmt)
    if record is not None:
        kind, seed, take, lighting = "face", int(record["id"]), int(record["take"]), str(
            record["lighting"])
    if lighting == "portrait" and kind != "face":
        raise InputError("--lighting portrait: a person only (--kind face); the calibration "
                         "sphere is photographed under the booth's flashes")
    target = OutputDir(out, COMMAND, _NAMES, also_ours=_earlier_output, force=force,
                       source=subject_source(kind, seed, size, ambient, noise, bits,
                                             distance, specular, fmt, lighting, take))
    with target as stage:
        result = write_capture(stage, Path(out), kind, seed, size, ambient, noise, bits,
                               distance, specular, fmt, take, lighting, record)
    return result
