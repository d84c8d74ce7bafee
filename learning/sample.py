"""A training sample as arrays, and the names its channels use: apart from the crops that make
it (:mod:`learning.preprocess`, OpenCV and MediaPipe) so that reading a dataset for training
needs numpy alone (the GPU machine has torch and numpy, not OpenCV)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The landmark channels' encodings (:mod:`learning.preprocess`).
ENCODINGS = ("points", "dense", "none")
#: The facial parts of the ``points`` encoding's part channel, by id from 1.
PARTS = ("face", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye", "left_iris",
         "right_iris", "nose", "lips")


@dataclass
class Sample:
    """One training sample (all size × size): ``image`` RGB float32 in [0, 1], ``channels``
    the landmark channels (0 or 2), ``normals`` float32 unit vectors (0 outside the mask),
    ``mask`` bool, ``landmarks`` (478, 3) in crop pixels; ``parts`` what each pixel shows
    (``photometric.sim.parts`` codes) where the truth says so, else None."""

    image: np.ndarray
    channels: np.ndarray
    normals: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray
    encoding: str
    parts: np.ndarray | None = None  # (size, size) uint8 part codes (simulated people only)

    @property
    def input(self) -> np.ndarray:
        """The network's input, (size, size, 3 + channels)."""
        return np.concatenate([self.image, self.channels], axis=-1)
