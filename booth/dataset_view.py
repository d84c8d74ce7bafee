"""A dataset's samples as pictures for a person: the photo, its landmark channels and the
normal map, as the app's dataset browser shows them (``booth export`` makes the samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learning.sample_format import read_manifest, read_sample
from photometric.io import normalmap


def samples(dataset: str | Path) -> tuple[list[dict], list[dict], dict]:
    """The manifest's samples (file, key, subject, split), the sources it skipped (key,
    reason) and its settings."""
    m = read_manifest(Path(dataset) / "manifest.json")
    skipped = [s for s in m.get("sources", []) if s.get("status") != "exported"]
    return list(m.get("samples", [])), skipped, dict(m.get("settings", {}))


def pictures(dataset: str | Path, sample: dict, encoding: str) -> dict[str, np.ndarray]:
    """RGB uint8 pictures of one sample: ``photo``, ``landmarks`` (the landmark channels in
    red and green over the darkened photo; absent for encoding none) and ``normals``."""
    s = read_sample(Path(dataset) / "samples" / sample["file"], encoding)
    photo = (np.clip(s.image, 0, 1) * 255).astype(np.uint8)
    out = {"photo": photo}
    if s.channels.shape[-1]:
        over = photo.astype(np.float32) * 0.35
        for c in range(min(2, s.channels.shape[-1])):
            ch = s.channels[..., c]
            span = float(np.ptp(ch)) or 1.0
            over[..., c] += 255 * 0.65 * (ch - ch.min()) / span
        out["landmarks"] = np.clip(over, 0, 255).astype(np.uint8)
    out["normals"] = normalmap.preview8(s.normals, s.mask)
    return out
