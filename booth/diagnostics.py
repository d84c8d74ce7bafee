"""``booth doctor``: check the booth's hardware and disk, one pass/fail line each, with what
to do about each failure."""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from pathlib import Path

Check = tuple[str, bool, str]


def _ports() -> list[str]:
    return sorted(glob.glob("/dev/ttyACM*") + glob.glob("/dev/ttyUSB*"))


def check_port(port: str | None) -> Check:
    if port is None:
        found = _ports()
        if not found:
            return ("serial port", False, "no /dev/ttyACM* or /dev/ttyUSB*: plug in the flash "
                    "controller (or pass --port)")
        port = found[0]
    if "://" in port:
        return ("serial port", True, f"{port} (URL)")
    if not os.path.exists(port):
        return ("serial port", False, f"{port} does not exist: plug in the flash controller")
    if not os.access(port, os.R_OK | os.W_OK):
        return ("serial port", False, f"no permission on {port}: add your user to the "
                "'dialout' group and log in again")
    return ("serial port", True, port)


def check_flash(fc) -> Check:
    """An open FlashController: it answers, and which flashes are ready."""
    from booth.hardware.flashlink import FlashError

    try:
        st = fc.status()
        fw = ".".join(map(str, fc.info.firmware))
        return ("flash controller", True, f"firmware {fw}, protocol {fc.info.version}, "
                f"ready mask {st.ready_mask:05b}")
    except FlashError as exc:
        return ("flash controller", False, str(exc))


def check_controller(port: str) -> Check:
    from booth.hardware.flashlink import FlashController, FlashError

    try:
        with FlashController(port) as fc:
            return check_flash(fc)
    except FlashError as exc:
        return ("flash controller", False, str(exc))


def check_camera(camera) -> Check:
    from booth.hardware.camera import CameraError

    try:
        camera.connect()
        return ("camera", True, camera.description)
    except CameraError as exc:
        return ("camera", False, str(exc))


#: Free space a session day needs; below it the doctor fails and the app shows red.
MIN_FREE_BYTES = 2 * 2**30


def check_disk(root: Path, need_bytes: int = MIN_FREE_BYTES) -> Check:
    """Free space under the sessions root; a root that is a file (or under one) fails, since
    no session could be stored there however much space is free."""
    from photometric.io.files import existing_parent

    probe = existing_parent(root)
    if not probe.is_dir():
        where = "" if probe == root.absolute() else f" (so {root} cannot be made)"
        return ("disk", False, f"{probe}: not a folder{where}; pass --sessions a folder, or "
                "a new path")
    free = shutil.disk_usage(probe).free
    ok = free >= need_bytes
    msg = f"{free / 2**30:.1f} GB free under {probe}"
    return ("disk", ok, msg if ok else msg + f"; free at least {need_bytes / 2**30:.0f} GB")


def station_checks(station, sessions: Path) -> list[Check]:
    """The checks of an open :class:`booth.station.Station` (what the app's doctor shows)."""
    checks = [check_port(station.port)]
    checks.append(check_flash(station.flash) if station.flash is not None else
                  ("flash controller", False, "not connected: check the port and cable"))
    checks.append(check_camera(station.camera) if station.camera is not None else
                  ("camera", False, "not connected"))
    checks.append(check_disk(sessions))
    return checks


def run_checks(backend: str, port: str | None, sessions: Path) -> list[Check]:
    if backend == "sim":
        from booth.station import SimOptions, Station

        with Station(backend="sim", sim=SimOptions(size=64)) as st:
            return station_checks(st, sessions)
    from booth.hardware.camera import GPhoto2Camera

    checks = [check_port(port)]
    if checks[-1][1]:
        checks.append(check_controller(port or _ports()[0]))
    camera = GPhoto2Camera()
    try:
        checks.append(check_camera(camera))
    finally:
        camera.close()
    checks.append(check_disk(sessions))
    return checks


def format_check(check: Check) -> str:
    name, ok, msg = check
    return f"{'PASS' if ok else 'FAIL'}  {name:<17} {msg}"


def run(backend: str, port: str | None, sessions: Path,
        out: Callable[[str], None] = print) -> bool:
    checks = run_checks(backend, port, sessions)
    for c in checks:
        out(format_check(c))
    return all(ok for _, ok, _ in checks)
