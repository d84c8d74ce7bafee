"""Normal maps on disk: 16-bit PNG (RGB = (n + 1) / 2 × 65535), float32 .npy, 8-bit preview.

Pixels outside the mask are written as (0, 0, 0), which no unit normal encodes to closely
(it would be n = (-1, -1, -1)), and read back as the zero vector.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from photometric.errors import InputError
from photometric.io import imageio

CONVENTION = ("camera space, x right, y up, z toward the camera; "
              "PNG RGB = (n + 1) / 2 * 65535, (0, 0, 0) = no normal")


def encode16(normals: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint16 RGB encoding of a normal map."""
    enc = np.rint((np.clip(normals, -1.0, 1.0) + 1.0) * (65535.0 / 2.0)).astype(np.uint16)
    if mask is None:
        mask = np.any(normals != 0, axis=-1)
    enc[~mask] = 0
    return enc


def decode16(enc: np.ndarray) -> np.ndarray:
    """Normals (float32) from the 16-bit encoding; (0, 0, 0) pixels decode to zero."""
    n = enc.astype(np.float32) * np.float32(2.0 / 65535.0) - np.float32(1.0)
    n[~np.any(enc != 0, axis=-1)] = 0.0
    return n


def write_png16(path: str | Path, normals: np.ndarray, mask: np.ndarray | None = None) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(encode16(normals, mask), cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write PNG")


def read_png16(path: str | Path) -> np.ndarray:
    """Normals from a 16-bit PNG, read through imageio so that a cut file is an error."""
    img = imageio.read_image(path)
    if img.dtype != np.uint16 or img.ndim != 3:
        raise InputError(f"{path}: expected a 16-bit RGB normal map, got {img.dtype} "
                         f"with shape {img.shape}")
    return decode16(img)


def write_npy(path: str | Path, normals: np.ndarray) -> None:
    np.save(path, np.asarray(normals, np.float32))


def read_npy(path: str | Path) -> np.ndarray:
    try:
        n = np.load(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from None
    if n.ndim != 3 or n.shape[2] != 3:
        raise InputError(f"{path}: expected an (H, W, 3) normal map, got shape {n.shape}")
    return n.astype(np.float32, copy=False)


def preview8(normals: np.ndarray, mask: np.ndarray | None = None,
             background: int = 0) -> np.ndarray:
    """8-bit RGB picture of a normal map, the usual (n + 1) / 2 colouring."""
    img = np.rint((np.clip(normals, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    if mask is None:
        mask = np.any(normals != 0, axis=-1)
    img[~mask] = background
    return img
