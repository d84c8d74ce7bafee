"""Compile the photometric-stereo kernels ahead of first use: ``python -m photometric.warmup``.

numba compiles a kernel the first time it meets a new input type and caches the machine
code beside the source; doing it once at install time (the Makefile does) spares the
first ``booth normals`` on 8-bit, 16-bit or float images ~10 s of silent compiling.
"""

from __future__ import annotations

import time

import numpy as np

from photometric import stereo
from photometric.lights import CHANNELS


def main() -> None:
    t = time.perf_counter()
    for dtype in (np.uint8, np.uint16, np.float32):
        images = {c: np.full((4, 4, 3), 100, dtype) for c in CHANNELS}
        stereo.simplified(images)
        stereo.lambertian(images)
    print(f"photometric kernels ready ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
