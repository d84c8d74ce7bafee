"""Imported by the dataset export's fork server before it forks any worker (the preload list
in :func:`learning.dataset.export`), so that every worker starts warm.

Importing the modules is not enough: numba's first kernel call in a process initialises its
typing and target registries (~0.3-0.45 s measured, more than the cached kernel itself).
One tiny call here does it once; each forked worker inherits the result instead of paying
it again. Nothing here starts a thread (the kernels are single-threaded; Face Mesh, which
does start threads, is created in each worker), so forking from this process stays safe.
"""

import numpy as np

from photometric import stereo
from photometric.lights import CHANNELS

stereo.lambertian({c: np.full((4, 4, 3), 100, np.uint8) for c in CHANNELS})
