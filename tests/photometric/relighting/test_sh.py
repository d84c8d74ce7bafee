"""Second-order SH environment light: basis, projection, shading, files, the portrait fit."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from photometric.errors import InputError
from photometric.io import environment
from photometric.relighting import harmonics as sh
from photometric.response import srgb_decode
from tests.conftest import env_without
from tests.photometric.conftest import refused

SQRT_PI = math.sqrt(math.pi)


def solid_angles(height: int, width: int) -> np.ndarray:
    """(H, W) solid angle of each equirectangular pixel, exactly (sums to 4π)."""
    edges = np.linspace(0.5 * math.pi, -0.5 * math.pi, height + 1)
    band = np.sin(edges[:-1]) - np.sin(edges[1:])
    return np.repeat((band * 2.0 * math.pi / width)[:, None], width, axis=1)


def sh_environment(c: np.ndarray, height: int) -> np.ndarray:
    """The radiance Σ c_k Y_k at each pixel centre of an equirectangular image."""
    d = sh.directions(height, 2 * height).astype(np.float64)
    return sh.basis(d).astype(np.float64) @ c


def sphere(size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A sphere's normal map seen by the camera (float32 (H, W, 3)) and its mask."""
    yy, xx = np.mgrid[0:size, 0:size]
    x = (xx + 0.5) / size * 2 - 1
    y = 1 - (yy + 0.5) / size * 2
    r2 = x * x + y * y
    mask = r2 < 0.97
    n = np.zeros((size, size, 3), np.float32)
    n[..., 0], n[..., 1] = x, y
    n[..., 2] = np.sqrt(np.clip(1 - r2, 0, 1))
    n[~mask] = 0
    return n, mask


# -- basis --------------------------------------------------------------------------------
def test_basis_is_orthonormal():
    h = 200
    d = sh.directions(h, 2 * h).astype(np.float64)
    b = sh.basis(d).astype(np.float64).reshape(-1, 9)
    w = solid_angles(h, 2 * h).reshape(-1, 1)
    gram = (b * w).T @ b
    np.testing.assert_allclose(gram, np.eye(9), atol=1e-4)


def test_basis_constants_and_order():
    x, y, z = 0.36, 0.48, 0.8
    b = sh.basis(np.array([x, y, z]))
    assert b.dtype == np.float32 and b.shape == (9,)
    expect = [0.282095, 0.488603 * y, 0.488603 * z, 0.488603 * x, 1.092548 * x * y,
              1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z,
              0.546274 * (x * x - y * y)]
    np.testing.assert_allclose(b, expect, rtol=2e-6)
    assert sh.basis(np.zeros((4, 5, 3), np.float32)).shape == (4, 5, 9)


# -- uniform and constant lights ----------------------------------------------------------
def test_uniform_environment():
    env = np.ones((32, 64, 3), np.float32)
    c = sh.project(env)
    np.testing.assert_allclose(c[0], 2 * SQRT_PI, rtol=1e-12)
    np.testing.assert_allclose(c[1:], 0, atol=1e-12)  # pixels are integrated exactly
    n = sh.directions(20, 40)
    np.testing.assert_allclose(sh.shading(n, c), 1.0, atol=1e-6)
    np.testing.assert_allclose(sh.PRESETS["uniform"], c, atol=1e-12)


def test_constant_band_only():
    c = np.zeros((9, 3))
    c[0] = [1.0, 2.0, 0.5]
    s = sh.shading(sh.directions(10, 20), c)
    np.testing.assert_allclose(s, np.broadcast_to(0.282095 * c[0], s.shape), rtol=1e-5)


# -- projection and directions ------------------------------------------------------------
def test_project_recovers_sh_function():
    c = np.random.default_rng(1).normal(size=(9, 3))
    got = sh.project(sh_environment(c, 128))
    np.testing.assert_allclose(got, c, atol=5e-4)  # the midpoint rule's error, O(1/H²)
    got = sh.project(sh_environment(c, 512))
    np.testing.assert_allclose(got, c, atol=5e-5)


def test_project_refuses_bad_input():
    with pytest.raises(InputError, match="non-finite"):
        sh.project(np.full((8, 16, 3), np.nan))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        sh.project(np.ones((8, 16)))


def test_directions_convention():
    h, w = 64, 128
    d = sh.directions(h, w)
    assert d.shape == (h, w, 3) and d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 1, atol=1e-6)
    centre = d[h // 2 - 1:h // 2 + 1, w // 2 - 1:w // 2 + 1].mean((0, 1))
    np.testing.assert_allclose(centre / np.linalg.norm(centre), [0, 0, 1], atol=1e-3)
    right = d[h // 2 - 1:h // 2 + 1, 3 * w // 4 - 1:3 * w // 4 + 1].mean((0, 1))
    np.testing.assert_allclose(right / np.linalg.norm(right), [1, 0, 0], atol=1e-3)
    assert (d[0, :, 1] > 0.999).all()  # the top row is up
    assert (d[-1, :, 1] < -0.999).all()
    assert d[h // 2, 0, 2] < -0.99 and d[h // 2, -1, 2] < -0.99  # the edges meet behind


def test_directional_light_within_truncation_error():
    """A small bright disc: SH shading vs the exact Lambertian irradiance of the same pixels."""
    h = 128
    d = sh.directions(h, 2 * h).astype(np.float64)
    light = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    env = np.zeros((h, 2 * h, 3))
    disc = d @ light > math.cos(math.radians(4))
    env[disc] = [100.0, 50.0, 25.0]
    omega = solid_angles(h, 2 * h)[disc]
    n = sh.directions(48, 96).astype(np.float64).reshape(-1, 3)
    exact = (np.maximum(n @ d[disc].T, 0) @ omega / math.pi)[:, None] * env[disc][0]
    approx = sh.shading(n, sh.project(env))
    peak = exact.max(axis=0)
    err = np.abs(approx - exact) / peak
    # and against max(n·l, 0)·E of an ideal directional light of the disc's irradiance
    ideal = np.maximum(n @ light, 0)[:, None] * peak
    # second order smooths the clamped cosine: 0.0625 of the peak at n = ±l, 0.094 at the
    # terminator; measured 0.080 max, 0.031 mean (0.094 max against the ideal light)
    assert err.max() < 0.10
    assert err.mean() < 0.035
    assert (np.abs(approx - ideal) / peak).max() < 0.10


# -- evaluation paths agree ---------------------------------------------------------------
def test_matrices_shading_and_basis_agree():
    rng = np.random.default_rng(3)
    c = rng.normal(size=(9, 3))
    n = rng.normal(size=(37, 41, 3))
    n = (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)
    m = sh.matrices(c)
    assert m.shape == (3, 4, 4) and m.dtype == np.float64
    np.testing.assert_allclose(m, np.swapaxes(m, 1, 2))
    h = np.concatenate([n, np.ones(n.shape[:2] + (1,), np.float32)], axis=-1).astype(np.float64)
    by_matrix = np.einsum("hwi,cij,hwj->hwc", h, m, h)
    by_basis = sh.basis(n).astype(np.float64) @ (sh.KERNEL[:, None] * c)
    s = sh.shading(n, c)
    assert s.dtype == np.float32 and s.shape == n.shape
    np.testing.assert_allclose(s, by_matrix, atol=1e-5)
    np.testing.assert_allclose(s, by_basis, atol=1e-5)
    # Ramamoorthi & Hanrahan's c1..c5 (for irradiance; ours is divided by π)
    e = np.zeros(9)
    e[8], e[1], e[6], e[0] = 1.0, 1.0, 1.0, 1.0
    m0 = sh.matrices(e)[0] * math.pi
    np.testing.assert_allclose([m0[0, 0], m0[1, 3], m0[2, 2], m0[3, 3]],
                               [0.429043, 0.511664, 0.743125, 0.886227 - 0.247708], atol=2e-6)


def test_shading_in_blocks(monkeypatch):
    c = sh.PRESETS["studio"]
    n = sh.directions(30, 60)
    whole = sh.shading(n, c)
    monkeypatch.setattr(sh, "CHUNK", 7)
    np.testing.assert_array_equal(sh.shading(n, c), whole)
    np.testing.assert_array_equal(sh.shading(n, c[:, 1]), sh.shading(n, np.repeat(
        c[:, 1:2], 3, axis=1)))  # (9,) is grey


# -- reading environments -----------------------------------------------------------------
def gradient(h: int = 16) -> np.ndarray:
    """An RGB test picture in [0, 1], channels different (a BGR mix-up shows)."""
    yy, xx = np.mgrid[0:h, 0:2 * h] / (2 * h)
    return np.stack([xx, yy, 0.25 + 0 * xx], axis=-1)


def write(path: Path, rgb: np.ndarray) -> Path:
    os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


@pytest.mark.parametrize("bits", [8, 16])
def test_read_png_decodes_srgb(tmp_path, bits):
    code = gradient()
    top = (1 << bits) - 1
    stored = np.round(code * top).astype(np.uint8 if bits == 8 else np.uint16)
    got = environment.read_environment(write(tmp_path / "env.png", stored))
    assert got.dtype == np.float32 and got.shape == code.shape
    np.testing.assert_allclose(got, srgb_decode(stored / top), atol=1e-6)


def test_read_grey_and_rgba_png(tmp_path):
    grey = np.arange(16 * 32, dtype=np.uint16).reshape(16, 32) * 100
    assert cv2.imwrite(str(tmp_path / "g.png"), grey)
    got = environment.read_environment(tmp_path / "g.png")
    assert got.shape == (16, 32, 3)
    np.testing.assert_allclose(got[..., 1], srgb_decode(grey / 65535), atol=1e-6)
    rgba = np.concatenate([np.round(gradient() * 255), np.full((16, 32, 1), 7)], -1)
    assert cv2.imwrite(str(tmp_path / "a.png"), rgba[..., [2, 1, 0, 3]].astype(np.uint8))
    np.testing.assert_allclose(environment.read_environment(tmp_path / "a.png"),
                               srgb_decode(np.round(gradient() * 255) / 255), atol=1e-6)


def test_read_hdr_and_exr(tmp_path):
    rgb = (gradient() * 40 + 0.01).astype(np.float32)
    got = environment.read_environment(write(tmp_path / "env.hdr", rgb))
    assert got.shape == rgb.shape and got.dtype == np.float32
    # RGBE: an 8-bit mantissa per channel and one exponent per pixel
    assert (np.abs(got - rgb) <= 0.01 * rgb.max(axis=-1, keepdims=True)).all()
    assert got[0, -1, 0] > got[0, -1, 2]  # RGB, not BGR
    got = environment.read_environment(write(tmp_path / "env.exr", rgb))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, rgb)
    # the kind comes from the bytes, not the name
    (tmp_path / "env.dat").write_bytes((tmp_path / "env.exr").read_bytes())
    np.testing.assert_array_equal(environment.read_environment(tmp_path / "env.dat"), rgb)


def test_read_exr_without_the_opencv_flag(tmp_path):
    """A fresh process that never set OPENCV_IO_ENABLE_OPENEXR still reads an EXR."""
    path = write(tmp_path / "env.exr", np.full((8, 16, 3), 2.5, np.float32))
    env = env_without("OPENCV_IO_ENABLE_OPENEXR")
    code = ("import sys, cv2; from photometric.io.environment import read_environment; "
            "print(read_environment(sys.argv[1]).mean())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    assert float(out.stdout) == 2.5


def test_read_environment_refusals(tmp_path):
    read = environment.read_environment
    refused(read, tmp_path / "missing.hdr", "not found")
    refused(read, tmp_path, "folder")
    (tmp_path / "notes.png").write_text("not an image\n")
    refused(read, tmp_path / "notes.png", "not a readable image", "equirectangular")
    refused(read, write(tmp_path / "square.png", np.zeros((16, 16, 3), np.uint8)), "16×16",
            "twice as wide")
    refused(read, write(tmp_path / "tiny.exr", np.ones((2, 4, 3), np.float32)), "at least")
    neg = np.ones((8, 16, 3), np.float32)
    neg[2, 3, 1] = -0.5
    refused(read, write(tmp_path / "neg.exr", neg), "1 negative", "-0.5")
    nan = np.ones((8, 16, 3), np.float32)
    nan[0, 0] = np.nan
    refused(read, write(tmp_path / "nan.exr", nan), "non-finite")
    data = write(tmp_path / "cut.exr", np.ones((64, 128, 3), np.float32)).read_bytes()
    (tmp_path / "cut.exr").write_bytes(data[:len(data) // 2])
    refused(read, tmp_path / "cut.exr", "damaged")
    data = write(tmp_path / "cut.hdr", gradient(64).astype(np.float32) + 1).read_bytes()
    (tmp_path / "cut.hdr").write_bytes(data[:len(data) // 2])
    refused(read, tmp_path / "cut.hdr", "damaged")
    (tmp_path / "huge.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n"
                                        b"-Y 20000 +X 40000\n" + bytes(64))
    refused(read, tmp_path / "huge.hdr", "20000", "megapixels")
    data = write(tmp_path / "cut.png", np.zeros((16, 32, 3), np.uint8)).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:-20])
    refused(read, tmp_path / "cut.png", "truncated")


def test_read_environment_accepts_one_pixel_off(tmp_path):
    got = environment.read_environment(
        write(tmp_path / "odd.exr", np.ones((16, 33, 3), np.float32)))
    assert got.shape == (16, 33, 3)


# -- fitting a portrait's light -----------------------------------------------------------
def rendered(name: str = "studio", albedo=(0.7, 0.5, 0.4)):
    n, mask = sphere()
    truth = sh.PRESETS[name] * np.asarray(albedo)
    img = sh.shading(n, truth)
    img[~mask] = 0
    return img, n, mask, truth


@pytest.mark.parametrize("name", ["studio", "sunset"])
def test_fit_recovers_exact_light(name):
    img, n, mask, truth = rendered(name)
    got = sh.fit(img, n, mask)
    assert got.shape == (9, 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, truth, atol=1e-5 * np.abs(truth).max())


@pytest.mark.parametrize("name", ["studio", "window"])
def test_fit_is_robust_to_outliers(name):
    img, n, mask, truth = rendered(name)
    rng = np.random.default_rng(5)
    img = img + rng.normal(0, 0.005, img.shape).astype(np.float32)  # sensor noise
    idx = np.flatnonzero(mask)
    bad = rng.choice(idx, idx.size // 10, replace=False)
    flat = img.reshape(-1, 3)
    flat[bad[:bad.size // 2]] *= 0.2  # dark eyes, brows
    flat[bad[bad.size // 2:]] += 0.25  # highlights
    plain = sh.fit(img, n, mask, iterations=0)
    got = sh.fit(img, n, mask)
    scale = np.abs(truth).max()
    assert np.abs(plain - truth).max() > 0.02 * scale  # the outliers pull a plain fit (~4 %)
    assert np.abs(got - truth).max() < 0.02 * scale  # measured 0.5 %
    front = sh.shading(n[mask], truth)
    assert np.abs(sh.shading(n[mask], got) - front).max() < 0.01 * front.max()


def test_fit_leaves_out_saturated_and_black_pixels():
    img, n, mask, truth = rendered()
    img[:20] = 1.0  # clipped
    img[-20:] = 0.0  # black
    np.testing.assert_allclose(sh.fit(img, n, mask), truth, atol=1e-5 * np.abs(truth).max())


def test_fit_subsamples_large_masks(monkeypatch):
    img, n, mask, truth = rendered()
    monkeypatch.setattr(sh, "MAX_FIT_PIXELS", 500)
    np.testing.assert_allclose(sh.fit(img, n, mask), truth, atol=1e-5 * np.abs(truth).max())


def test_fit_refusals():
    img, n, mask, _ = rendered()
    few = np.zeros_like(mask)
    few[80, 80:120] = True
    with pytest.raises(InputError, match="only 40 usable pixels"):
        sh.fit(img, n, few)
    with pytest.raises(InputError, match="same size"):
        sh.fit(img, n, mask[1:])


# -- presets and files --------------------------------------------------------------------
def test_presets():
    assert {"uniform", "studio", "overcast", "window", "sunset"} <= set(sh.PRESETS)
    assert sh.PRESETS.keys() == sh.PRESET_INFO.keys()
    front = np.array([0.0, 0.0, 1.0])
    for name, c in sh.PRESETS.items():
        assert c.shape == (9, 3) and not c.flags.writeable
        s = sh.shading(front, c)
        assert 0.8 <= s.max() <= 1.0 + 1e-6, name
        assert s.min() > 0.2, name
        assert sh.PRESET_INFO[name]
    studio = sh.shading(np.array([[-0.6, 0.5, 0.62], [0.6, 0.5, 0.62]]), sh.PRESETS["studio"])
    assert studio[0, 1] > studio[1, 1]  # key light on the camera's left
    window = sh.shading(np.array([[1.0, 0, 0], [-1.0, 0, 0]]), sh.PRESETS["window"])
    assert window[0, 1] > 3 * window[1, 1]  # window on the camera's right
    sunset = sh.shading(front, sh.PRESETS["sunset"])
    assert sunset[0] > sunset[2]  # warm


def test_coefficients_round_trip(tmp_path):
    c = np.random.default_rng(2).normal(size=(9, 3))
    sh.write_coefficients(tmp_path / "light.yaml", c)
    np.testing.assert_array_equal(sh.read_coefficients(tmp_path / "light.yaml"), c)
    np.testing.assert_array_equal(sh.load(str(tmp_path / "light.yaml")), c)
    (tmp_path / "grey.yaml").write_text("coefficients: [1, 0, 0.5, 0, 0, 0, 0, 0, -0.25]\n")
    grey = sh.read_coefficients(tmp_path / "grey.yaml")
    assert grey.shape == (9, 3)
    np.testing.assert_array_equal(grey[:, 0], grey[:, 2])
    assert grey[8, 1] == -0.25


@pytest.mark.parametrize(("text", "words"), [
    ("coefficients: [1, 2, 3]\n", ["coefficients", "3 rows", "expected 9"]),
    ("coefficients: [" + ", ".join(["[1, 2, 3]"] * 8) + ", [1, 2]]\n",
     ["coefficients.8", "expected [r, g, b]"]),
    ("coefficients: [" + ", ".join(["[1, 2, 3]"] * 8) + ", [1, '2', 3]]\n",
     ["coefficients.8.1", "valid number"]),
    ("coefficients: [1, 1, 1, 1, 1, 1, 1, 1, x]\n", ["coefficients.8", "valid number"]),
    ("light: [1, 2, 3]\n", ["unknown key", "coefficients"]),
    ("{}\n", ["missing key", "coefficients"]),
    ("coefficients: 3\n", ["coefficients", "list"]),
    ("coefficients: [[1, 2, 3\n", ["malformed YAML"]),
])
def test_bad_coefficient_files(tmp_path, text, words):
    path = tmp_path / "light.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        sh.read_coefficients(path)
    for w in (str(path), *words):
        assert w in str(err.value)


def test_load():
    studio = sh.load("studio")
    np.testing.assert_array_equal(studio, sh.PRESETS["studio"])
    studio[0] = 0  # a copy: the preset is unchanged
    assert sh.PRESETS["studio"][0, 0] > 0
    with pytest.raises(InputError, match="'nope'.*uniform, studio, overcast, window, sunset"):
        sh.load("nope")
    with pytest.raises(InputError, match="neither a preset"):
        sh.load("/nonexistent/light.yaml")
