"""Imported by the dataset export's fork server before it forks any worker (see
``learning.workers.context``), so that every worker starts warm and single-threaded.

- BLAS: each worker is pinned to one core, so its BLAS must have one thread. OpenBLAS sizes
  its pool when it loads, from the cores the process may use; loaded here, in the unpinned
  fork server, it would give every pinned worker a pool of threads spinning on one core
  (measured: a `dense` export of 8 captures took 32 s instead of 2.4 s). The variables are set
  before numpy is imported (and so before any BLAS loads).
- The heavy modules (numpy, OpenCV, MediaPipe, numba) are imported once here; not scipy's
  interpolation (0.45 s), which only the `dense` encoding uses.
- numba's first kernel call in a process initialises its typing and target registries
  (0.3-0.45 s measured, more than loading the cached kernel itself); one tiny call does it
  once, and each forked worker inherits the result.

Nothing here starts a thread (the kernels are single-threaded; Face Mesh, which does start
threads, is created in each worker), so forking from this process stays safe. OpenCV is set
to one thread before anything runs: the warm-up call below labels connected regions
(``photometric.stereo.fill.mark_holes``), which would start OpenCV's thread pool here, and a
worker forked
from a process with a live pool deadlocks in its first parallel OpenCV call (measured: the
export hung in ``futex_wait``).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import cv2  # noqa: E402

cv2.setNumThreads(1)  # before any OpenCV call: no thread pool in the process we fork from
import mediapipe  # noqa: E402, F401
import numpy as np  # noqa: E402

import learning.exporter  # noqa: E402, F401
import learning.facemesh  # noqa: E402, F401
import photometric.calibration  # noqa: E402, F401
from photometric import stereo  # noqa: E402
from photometric.lights import CHANNELS  # noqa: E402

stereo.lambertian({c: np.full((4, 4, 3), 100, np.uint8) for c in CHANNELS})
