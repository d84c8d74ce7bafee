"""Compile the kernels and build the body model ahead of first use:
``python -m photometric.warmup``.

numba compiles a kernel the first time it meets a new input type and caches the machine
code beside the source; doing it once at install time (the Makefile does) spares the
first ``booth normals`` on 8-bit, 16-bit or float images ~10 s of silent compiling. The
simulated people's body model (anny) takes about two minutes to build the first time on a
machine and is kept in :func:`photometric.sim.people.cache_dir`; a simulated face rendered here
builds it, and compiles the rasteriser.
"""

from __future__ import annotations

import time

import numpy as np

from photometric import stereo
from photometric.response import linearize
from photometric.sim import synthetic


def main() -> None:
    t = time.perf_counter()
    # A small sphere, with three flashes dark over its left part and the ring flash clipped
    # over its right: pixels that cannot be solved compile the hole filling too.
    shots = synthetic.capture(synthetic.sphere(48))
    for c in ("right", "top", "bottom"):
        shots[c][:, :20] = 0
    shots["center"][:, 30:] = 1.0
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)):
        images = {c: (v * top).astype(dtype) for c, v in shots.items()}
        for result in (stereo.simplified(images), stereo.lambertian(images)):
            assert result.filled.any(), "the warm-up capture must exercise the fill"
    linearize(np.zeros((2, 2, 3), np.uint8))  # a JPEG's table lookup
    print(f"photometric kernels ready ({time.perf_counter() - t:.1f} s)", flush=True)
    t = time.perf_counter()
    synthetic.capture(synthetic.face(0, 64))
    print(f"simulated people ready ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
