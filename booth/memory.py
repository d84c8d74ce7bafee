"""Memory a job needs at a given image size, checked before the job starts.

``booth simulate --size 20000`` used to render for a minute and then die of memory; a job
that cannot fit is now refused at once, with how much it needs. The figures are peak resident
memory measured with ``/usr/bin/time -v`` at two sizes or more each (a fixed part: Python,
numba, torch, MediaPipe; and a part per pixel of the image):

=========  ========================================================  ==================
job        measured peak                                             model
=========  ========================================================  ==================
simulate   face 1024²: 0.46 GB, 2048²: 1.02 GB, 4096²: 3.15 GB       0.32 GB + 185 B/px
capture    simulated booth 1024²: 0.70 GB, 2048²: 1.35 GB            0.50 GB + 215 B/px
demo       256²: 0.54 GB, 1024²: 1.05 GB                             0.55 GB + 520 B/px
=========  ========================================================  ==================

The app (``tui``) is a capture plus the Textual app's own ~0.1 GB.

The memory available is the smaller of the machine's (``MemAvailable``) and, under an
address-space limit (``ulimit -v``, RLIMIT_AS), what is left of that limit: a job past it dies
of MemoryError however much RAM is free.
"""

from __future__ import annotations

import math
import os
import resource

from photometric.errors import InputError

MB = 2**20
GB = 2**30

#: job -> (fixed bytes, bytes per pixel); see the table above.
JOBS: dict[str, tuple[int, int]] = {
    "simulate": (320 * MB, 185),
    "capture": (500 * MB, 215),
    "tui": (600 * MB, 215),
    "demo": (550 * MB, 520),
}


def estimate_bytes(job: str, size: int) -> int:
    """Peak memory of ``job`` on ``size``×``size`` images."""
    fixed, per_pixel = JOBS[job]
    return fixed + per_pixel * size * size


def meminfo_available() -> int | None:
    """``MemAvailable`` of /proc/meminfo: what can be had without swapping; None where the
    kernel does not say (not Linux)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def address_space_limit() -> int | None:
    """The soft RLIMIT_AS (``ulimit -v``) in bytes; None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY or soft < 0 else soft


def virtual_size() -> int | None:
    """This process's current virtual size (first field of /proc/self/statm, in pages): what
    already counts against RLIMIT_AS; None where the kernel does not say."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def address_space_room() -> int | None:
    """What the address-space limit leaves this process; None when there is no limit (or
    the process's size is unknown)."""
    limit, used = address_space_limit(), virtual_size()
    if limit is None or used is None:
        return None
    return max(limit - used, 0)


def available_bytes() -> int | None:
    """The memory a job can have now: the smaller of ``MemAvailable`` and the room under
    the address-space limit; None where neither is known, and then nothing is refused."""
    known = [n for n in (meminfo_available(), address_space_room()) if n is not None]
    return min(known) if known else None


def _gb(n: float) -> str:
    return f"{n / GB:.1f} GB"


def largest_size(job: str, available: int) -> int:
    """The largest image side (a multiple of 32) whose estimate fits in ``available``."""
    fixed, per_pixel = JOBS[job]
    if available <= fixed:
        return 0
    return int(math.sqrt((available - fixed) / per_pixel)) // 32 * 32


def check_memory(job: str, size: int, option: str = "--size") -> None:
    """Refuse ``job`` at ``size`` when its estimate exceeds the memory available now."""
    need = estimate_bytes(job, size)
    have = available_bytes()
    if have is None or need <= have:
        return
    fits = largest_size(job, have)
    hint = f"; at most about {option} {fits} fits now" if fits >= 32 else ""
    room = address_space_room()
    why = (" under this process's address-space limit (ulimit -v)"
           if room is not None and room <= have else "")
    raise InputError(f"{option} {size}: {job} needs about {_gb(need)} of memory, only "
                     f"{_gb(have)} is available{why}{hint}")
