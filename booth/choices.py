"""The names the command line offers and the modules doing the work accept, defined once.

``booth --help`` imports every command's parser, so the choices and defaults it shows must
come from somewhere light: here, not the simulated booth, the renderer or the relighting code
(numba, OpenCV), which import these same names from here. Photometric stereo's methods are
``photometric.stereo.METHODS`` (light too: the package loads its solvers on first use).
"""

from __future__ import annotations

#: The booth's hardware: the simulated booth, or a camera over libgphoto2 and a serial port.
BACKENDS = ("sim", "gphoto2")
#: What the simulated camera saves per shot (booth.hardware.simulated).
IMAGE_FORMATS = ("jpeg", "raw", "raw+jpeg")
#: What ``booth simulate`` writes, and the file extensions of each (booth.simulation).
SIMULATE_FORMATS = {"png": (".png",), "jpeg": (".jpg",), "dng": (".dng",),
                    "raw+jpeg": (".dng", ".jpg")}
#: ``booth relight``'s ambient light when none is given (booth.lighting).
RELIGHT_AMBIENT = 0.15
