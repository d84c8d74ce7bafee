"""Painting a person's albedo texture from a drawn :class:`~photometric.sim.skin.Skin` on the
baked UV charts (:mod:`photometric.sim.uvbake`): skin, lips, brows, hair, stubble and eyes.
See :mod:`photometric.sim.skin` for how and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# --- painting --------------------------------------------------------------------------
from photometric.sim import parts
from photometric.sim.people import CAVITY, SKIN, Template
from photometric.sim.skin import (
    BASE,
    BROW_INNER,
    BROW_OUTER,
    CAVITY_ALBEDO,
    EPS_CAROTENE,
    EPS_HAEMOGLOBIN,
    EPS_MELANIN,
    GREY_HAIR,
    HAIR,
    PUPIL,
    SCLERA,
    Skin,
)
from photometric.sim.uvbake import Chart, baked, smooth


def _noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth noise of unit spread with features about ``cell`` texels across."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 1), max(2, int(np.ceil(w / cell)) + 1)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) * np.float32(1.25)


def _spots(rng: np.random.Generator, weight: np.ndarray, count: float, sigma_px: float,
           amount: float) -> np.ndarray:
    """Round spots (Gaussian, ``sigma_px``) of peak ``amount`` (varied), placed with density
    following ``weight`` (0..1)."""
    out = np.zeros(weight.shape, np.float32)
    n = int(rng.poisson(max(count, 0.0)))
    if n == 0:
        return out
    idx = rng.integers(0, weight.size, n)
    keep = rng.random(n) < weight.ravel()[idx]
    amp = amount * rng.uniform(0.4, 1.0, n)[keep] * 2.0 * np.pi * sigma_px ** 2
    np.add.at(out.ravel(), idx[keep], amp.astype(np.float32))
    return cv2.GaussianBlur(out, (0, 0), sigma_px)


def _periodic(rng: np.random.Generator, t: np.ndarray, lowest: int = 3, highest: int = 14
              ) -> np.ndarray:
    """A smooth periodic noise of unit spread at angles ``t`` (radians): harmonics
    ``lowest`` to ``highest`` of the circle, amplitudes falling as 1/k."""
    k = np.arange(lowest, highest + 1)
    amp = rng.standard_normal(len(k)) / k
    phase = rng.uniform(0, 2 * np.pi, len(k))
    out = (amp[:, None] * np.cos(k[:, None] * t + phase[:, None])).sum(0)
    return out / np.sqrt(np.sum(1.0 / k ** 2) / 2)


def _over(chans: list[np.ndarray], alpha: np.ndarray, colour: Sequence,
          sl: tuple[slice, slice] = (slice(None), slice(None))) -> None:
    """Lay ``colour`` (3 values, or 3 arrays the shape of ``alpha``) at opacity ``alpha``
    over the channels ``chans`` (3 arrays) within ``sl``, in place."""
    for c in range(3):
        ch = chans[c][sl]
        ch += alpha * (colour[c] - ch)


def _hairline(skin: Skin, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per azimuth (361 samples, -180..180 degrees, 0 the front): the hairline's height above
    the eye centres (mm), and the upper edge of the hair (mm; inf but for the bald)."""
    a = np.abs(np.arange(-180, 181, dtype=np.float64))
    t = np.radians(np.arange(-180, 181, dtype=np.float64))
    f, r, s = skin.hairline, skin.recession, skin.sideburn
    line = np.interp(a, [0, 12, 28, 40, 50, 58, 66, 72, 80, 88, 110, 130, 155, 180],
                     [f, f + 0.5, f + 0.4 * r + 1.5, f + r, f + 0.7 * r - 6,
                      0.55 * f + 0.3 * r, 18, -s * 0.6, -s, -28, -42, -60, -68, -70])
    line = line + 2.5 * _periodic(rng, t)
    top = np.full(len(a), np.inf)
    if skin.baldness > 0:
        top = np.interp(a, [0, 60, 90, 130, 180], [-20, 20, 35, 45, 50])
        top = top + (1.0 - skin.baldness) * 40.0 + 2.5 * _periodic(rng, t)
    return line.astype(np.float32), top.astype(np.float32)


def _paint_skin(ch: Chart, skin: Skin, rng: np.random.Generator,
                hairline: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A skin chart's albedo (H, W, 3): chromophores, then pores, stubble, lids, brows and
    hair laid over; and its parts (H, W) uint8 (:mod:`photometric.sim.parts`: skin, lips,
    brows, hair where each is more than half opaque). Worked a channel at a time
    (contiguous arrays: this is the hot path)."""
    f = ch.fields
    shape = ch.shape
    part = np.full(shape, parts.SKIN, np.uint8)
    mm = ch.mm_per_texel
    f32 = np.float32
    # Chromophores: blotches, freckles, sun spots, flush, lips.
    n_lo = _noise(rng, shape, 30.0 / mm)
    n_mid = _noise(rng, shape, 7.0 / mm)
    n_lo2 = _noise(rng, shape, 22.0 / mm)
    mel = n_mid * f32(0.5)
    mel += n_lo
    mel *= f32(skin.melanin * skin.blotch)
    mel += f32(skin.melanin)
    base_spot = 0.2 + 0.4 * skin.melanin
    if skin.freckles > 0:
        area = f["freckle"].sum() * mm * mm  # mm² of (weighted) face
        mel += _spots(rng, f["freckle"], skin.freckles * area / 2.0, 0.8 / mm, base_spot)
    if skin.sun_spots > 0:
        mel += _spots(rng, f["freckle"], skin.sun_spots * 25.0, 2.2 / mm, 0.5 * base_spot)
    hb = n_lo2
    hb *= f32(0.7 * skin.haemoglobin * skin.blotch)
    hb += f32(skin.haemoglobin)
    hb += f32(skin.flush) * f["flush"]
    lips = _lips(f, ch.regions["lips"], skin)
    if lips is not None:
        sl, alpha = lips
        mel[sl] *= 1.0 + f32(skin.lip_melanin - 1.0) * alpha
        hb[sl] += f32(skin.lip_haemoglobin) * alpha
        part[sl][alpha > 0.5] = parts.LIPS
    # Pores and fine texture: white noise (uniform, unit spread), slightly blurred.
    white = rng.random(shape, dtype=f32)
    white -= f32(0.5)
    white *= f32(np.sqrt(12.0))
    pores = cv2.GaussianBlur(white, (0, 0), max(0.6, 0.4 / mm))
    pores *= f32(2.0)
    texture = n_mid * f32(0.5)
    texture += pores
    texture *= f32(skin.pores)  # log of the albedo's relative change
    chans = []
    for c in range(3):
        log = cv2.addWeighted(mel, -float(EPS_MELANIN[c]), hb, -float(EPS_HAEMOGLOBIN[c]),
                              float(np.log(BASE[c]) - skin.carotene * EPS_CAROTENE[c]))
        log += texture
        chans.append(cv2.exp(log))
    hair = np.asarray(skin.hair, f32)
    strands = cv2.blur(white, (1, 5))
    strands *= f32(np.sqrt(5.0))
    # Stubble: dots of beard colour, denser with the amount.
    if skin.stubble > 0:
        sl = ch.regions["beard"]
        w = f["beard"][sl].copy()
        if lips is not None:  # the lips' box lies within the beard's (see _regions)
            inner = tuple(slice(a.start - b.start, a.stop - b.start)
                          for a, b in zip(lips[0], sl, strict=True))
            w[inner] *= 1.0 - lips[1]
        dots = smooth((pores[sl] + 1.2 - 2.0 * (1.0 - skin.stubble)) * 0.6)
        alpha = f32(0.55 * skin.stubble) * w * (0.35 + 0.65 * dots)
        _over(chans, alpha, hair * 0.8, sl)
    # Lids: a dark line along the upper lid (lashes), a fainter one along the lower.
    sl = ch.regions["lash"]
    d, up, t = f["rim_d"][sl], f["rim_up"][sl], f["rim_t"][sl]
    width = np.where(up > 0.5, skin.lash_width * (0.5 + 0.7 * smooth(t / 0.4)),
                     0.55 + 0.3 * t).astype(f32)
    strength = np.where(up > 0.5, 1.0, 0.45 * smooth(t / 0.3)).astype(f32)
    alpha = f32(skin.lash) * strength * smooth((width - d) / 0.5 + 0.5)
    _over(chans, alpha, np.minimum(hair, np.array(HAIR["dark brown"], f32)) * 0.6, sl)
    # Brows: the hair's colour, greying later, and darker than the skin whatever the hair.
    sl = ch.regions["brow"]
    brow = _brows(f, sl, skin, n_mid[sl], strands[sl])
    brow_col = hair * (1.0 - 0.4 * skin.grey) + GREY_HAIR * (0.4 * skin.grey)
    _over(chans, brow, np.minimum(brow_col * 0.7, skin.albedo * 0.35), sl)
    part[sl][brow > 0.5 * skin.brow_darkness] = parts.BROWS
    # Scalp hair: strands of the hair's colour with some grey ones.
    line, top = hairline
    az = f["az"]
    y = f["y"]
    edge = line[az]
    np.subtract(y, edge, out=edge)
    edge *= f32(1 / 2.5)
    edge += f32(0.4) * n_mid
    if skin.baldness > 0:
        np.minimum(edge, (top[az] - y) * f32(1 / 4.0) + f32(0.5) * n_mid, out=edge)
    alpha = smooth(edge)
    alpha *= 1.0 - f["ear"]
    alpha *= np.clip(f32(0.92) + f32(0.08) * strands, 0.0, 1.0)
    alpha *= f32(skin.hair_density)
    part[alpha > 0.5] = parts.HAIR
    grey = np.clip(f32(skin.grey) + f32(0.2) * strands, 0.0, 1.0)
    shine = f32(1.0) + f32(0.15) * strands
    for c in range(3):
        col = grey * f32(GREY_HAIR[c] - hair[c])
        col += hair[c]
        col *= shine
        col -= chans[c]
        col *= alpha
        chans[c] += col
    img = cv2.merge(chans)
    return np.clip(img, 0.0, 1.0, out=img), part


def _lips(f: dict[str, np.ndarray], region: tuple[slice, slice], skin: Skin
          ) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The vermilion's opacity (soft-edged), within its bounding box of the chart."""
    sl = region
    t, y, ok = f["lip_t"][sl], f["lip_y"][sl], f["lip_ok"][sl]
    if t.size == 0:
        return None
    at = np.abs(t)
    env = np.clip(1.0 - at ** 2, 0.0, 1.0)
    # The cupid's bow: two gentle peaks and a dip between them (the upper lip's border faces
    # up-forward, so small steps in height are long on the skin).
    bow = 1.0 + 0.04 * np.exp(-((at - 0.22) / 0.14) ** 2) - 0.07 * np.exp(-(t / 0.1) ** 2)
    upper = skin.lip_upper * env ** 0.55 * bow
    lower = skin.lip_lower * np.clip(1.0 - at ** 2.5, 0.0, 1.0) ** 0.6
    inside = np.minimum(upper - y, lower + y)
    return sl, (smooth(inside / 1.2 + 0.3) * ok).astype(np.float32)


def _brows(f: dict[str, np.ndarray], sl: tuple[slice, slice], skin: Skin,
           n_mid: np.ndarray, strands: np.ndarray) -> np.ndarray:
    """Brows' opacity within ``sl``: arched bands above each eye, thinning toward the
    tail."""
    s = (np.abs(f["x"][sl]) - BROW_INNER) / (BROW_OUTER - BROW_INNER)
    y = f["y"][sl]
    sc = np.clip(s, 0.0, 1.0)
    centre = skin.brow_height + skin.brow_arch * np.sin(np.pi * sc ** 1.35) - 3.0 * sc ** 2
    half = skin.brow_thickness * (1.0 - 0.6 * sc)
    across = smooth((half - np.abs(y - centre)) / 1.2 + 0.5 + 0.3 * n_mid)
    along = smooth(s / 0.08 + 0.2) * smooth((1.0 - s) / 0.12)
    texture = np.clip(0.8 + 0.2 * strands, 0.0, 1.0)
    return skin.brow_darkness * across * along * texture * f["brow_ok"][sl]


def _paint_eye(ch: Chart, skin: Skin, rng: np.random.Generator) -> np.ndarray:
    """Sclera, iris (radial streaks, a lighter collarette, a dark limbal ring) and pupil."""
    rho, psi = ch.fields["rho"], ch.fields["psi"]
    f32 = np.float32
    # Redder and a little darker toward the corners, away from the iris.
    red = 0.3 * smooth((rho - 8.0) / 6.0) * np.cos(psi) ** 2
    chans = [np.full(ch.shape, SCLERA[0], f32), SCLERA[1] * (1.0 - 0.35 * red),
             SCLERA[2] * (1.0 - 0.45 * red)]
    ri, rp = skin.iris_radius, skin.pupil_radius
    # Streaks: noise on a polar grid, long along the radius.
    polar = rng.standard_normal((12, 160)).astype(f32)
    polar = cv2.GaussianBlur(polar, (0, 0), sigmaX=0.6, sigmaY=1.5)
    polar /= max(float(polar.std()), 1e-6)
    mx = ((psi + np.pi) / (2 * np.pi) * 160.0).astype(f32)
    my = np.clip(rho / ri * 11.0, 0.0, 11.0).astype(f32)
    streak = cv2.remap(polar, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    # The iris: streaked, a lighter brownish collarette around the pupil, a dark limbal ring.
    streak = np.clip(1.0 + 0.3 * streak, 0.3, 2.0)
    collarette = 0.4 * np.exp(-((rho - (rp + 0.35 * (ri - rp))) / 0.6) ** 2)
    limbus = 1.0 - 0.6 * smooth((rho - (ri - 1.0)) / 1.0)
    iris = [(skin.iris[c] * streak * (1.0 - collarette) + collarette * (0.16, 0.10, 0.04)[c])
            * limbus for c in range(3)]
    _over(chans, smooth((ri - rho) / 0.3 + 0.5), iris)
    _over(chans, smooth((rp - rho) / 0.2 + 0.5), PUPIL)
    return np.clip(cv2.merge([c.astype(f32) for c in chans]), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Texture:
    """A painted albedo: per chart a rectangle of UV space ``(u0, v0, u1, v1)`` with its
    linear RGB image (H, W, 3) float32 (row 0 at v1), of triangles labelled ``label``; UVs of
    a label outside its charts (and every cavity) take ``fallback[label]``."""

    charts: tuple[tuple[int, tuple[float, float, float, float], np.ndarray], ...]
    fallback: np.ndarray  # (4, 3): per label SKIN, EYE, CAVITY, BODY
    parts: tuple[np.ndarray | None, ...] = ()  # per chart (H, W) uint8, None: the label's

    def part(self, uv: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The part (:mod:`photometric.sim.parts`) at texture coordinates ``uv`` (P, 2) of
        triangles labelled ``labels`` (P,), the nearest texel's: (P,) uint8. Labels map to
        skin, eyes, mouth and (the body) neck where no chart says more."""
        uv = np.asarray(uv, np.float32).reshape(-1, 2)
        labels = np.asarray(labels).reshape(-1)
        default = np.array([parts.SKIN, parts.EYES, parts.MOUTH, parts.NECK], np.uint8)
        out = default[labels.astype(np.int64)]
        for (label, (u0, v0, u1, v1), _), part in zip(self.charts, self.parts,
                                                        strict=False):
            if part is None:
                continue
            h, w = part.shape
            u, v = uv[:, 0], uv[:, 1]
            sel = np.flatnonzero((labels == label) & (u >= u0) & (u <= u1) & (v >= v0)
                                 & (v <= v1))
            col = np.clip(((u[sel] - u0) / (u1 - u0) * w).astype(np.int64), 0, w - 1)
            row = np.clip(((v1 - v[sel]) / (v1 - v0) * h).astype(np.int64), 0, h - 1)
            out[sel] = part[row, col]
        return out

    def sample(self, uv: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Bilinear albedo at texture coordinates ``uv`` (P, 2) of triangles labelled
        ``labels`` (P,): (P, 3) float32 linear RGB in [0, 1]."""
        uv = np.asarray(uv, np.float32).reshape(-1, 2)
        labels = np.asarray(labels).reshape(-1)
        out = self.fallback[labels.astype(np.int64)].astype(np.float32)
        for label, (u0, v0, u1, v1), img in self.charts:
            h, w = img.shape[:2]
            u, v = uv[:, 0], uv[:, 1]
            sel = np.flatnonzero((labels == label) & (u >= u0) & (u <= u1) & (v >= v0)
                                 & (v <= v1))
            if sel.size == 0:
                continue
            col = np.clip((u[sel] - u0) / (u1 - u0) * w - 0.5, 0.0, w - 1.0)
            row = np.clip((v1 - v[sel]) / (v1 - v0) * h - 0.5, 0.0, h - 1.0)
            c0 = np.minimum(col.astype(np.int64), w - 2)
            r0 = np.minimum(row.astype(np.int64), h - 2)
            fc = (col - c0)[:, None]
            fr = (row - r0)[:, None]
            out[sel] = ((img[r0, c0] * (1 - fc) + img[r0, c0 + 1] * fc) * (1 - fr)
                        + (img[r0 + 1, c0] * (1 - fc) + img[r0 + 1, c0 + 1] * fc) * fr)
        return out

    def atlas(self, size: int = 2048) -> np.ndarray:
        """The whole UV square as one image (size, size, 3), row 0 at v = 1: each chart
        resampled into its rectangle, cavities and gaps their fallback colour (cavity)."""
        out = np.empty((size, size, 3), np.float32)
        out[:] = self.fallback[CAVITY]
        for _, (u0, v0, u1, v1), img in self.charts:
            c0, c1 = int(round(u0 * size)), int(round(u1 * size))
            r0, r1 = int(round((1 - v1) * size)), int(round((1 - v0) * size))
            c0, r0 = max(c0, 0), max(r0, 0)
            c1, r1 = min(c1, size), min(r1, size)
            if c1 > c0 and r1 > r0:
                out[r0:r1, c0:c1] = cv2.resize(img, (c1 - c0, r1 - r0),
                                               interpolation=cv2.INTER_AREA)
        return out


def paint(template: Template, skin: Skin, resolution: int = 1024) -> Texture:
    """The albedo of ``skin`` on ``template``'s UV layout; ``resolution`` texels along the
    longest side of the largest skin chart (eyeball charts get an eighth of it, at least
    64). Deterministic in ``skin``."""
    bake = baked(template, resolution)
    rng = np.random.default_rng(skin.noise_seed)
    hairline = _hairline(skin, rng)
    charts, chart_parts = [], []
    for ch in bake.charts:
        img, part = (_paint_skin(ch, skin, rng, hairline) if ch.label == SKIN
                     else (_paint_eye(ch, skin, rng), None))
        charts.append((ch.label, ch.rect, img))
        chart_parts.append(part)
    # The body below the head is the skin's base colour (:mod:`photometric.sim.skin`).
    fallback = np.stack([skin.albedo, SCLERA, CAVITY_ALBEDO, skin.albedo]).astype(np.float32)
    return Texture(tuple(charts), fallback, tuple(chart_parts))
