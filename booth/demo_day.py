"""``booth demo``: the booth's main job end to end on the simulated booth.

Calibrate on a simulated white sphere, capture a simulated face (room light, sensor noise),
compute its normal map by both methods, and write a side-by-side figure of truth,
estimates and angular error to ``out/demo.png``; export the session as a training set, and
relight the capture from its normal map (``out/relight/``: relit photo, light orbit as GIF
and MP4, contact sheet of eight lightings). Each stage uses the same functions as
the headless commands, so the demo exercises what an operator runs.

``out/`` is refused when it holds anything but an earlier demo's outputs (a marker file
says whose it is); otherwise each run updates it in place: every output is replaced whole by
its own command's rules, and the dataset export reuses the samples of earlier runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from booth.processing import compute_normals, load_capture, write_normals
from booth.simulation import simulate_subject
from booth.workflows import calibrate_folder
from photometric import stereo
from photometric.io import imageio, normalmap
from photometric.io.files import (
    MARKER,
    atomic_write,
    check_output_dir,
    folder_of_names,
    make_dir,
    write_marker,
)

ERROR_SCALE_DEG = 10.0
COMMAND = "demo"
#: Everything a demo writes into its folder.
NAMES = ("sphere", "calibration.yaml", "sessions", "normals", "demo.png", "tui.svg",
         "tui.log", "export.log", "dataset", "relight")


def _earlier_demo(folder: Path) -> bool:
    """A demo folder from before output folders had a marker: a demo's names only."""
    return folder_of_names(folder, NAMES, lambda p: (p / "calibration.yaml").is_file())


def check_out(out: str | Path) -> Path:
    """Refuse a folder that is neither new, empty nor an earlier demo's."""
    return check_output_dir(out, COMMAND, _earlier_demo)


def _claim(out: str | Path) -> Path:
    """The checked folder, created if new and marked as the demo's."""
    out = make_dir(check_out(out))
    if not (out / MARKER).exists():
        write_marker(out, COMMAND)
    return out


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """An RGB uint8 panel with a caption strip on top."""
    h, w = img.shape[:2]
    strip = np.full((28, w, 3), 255, np.uint8)
    cv2.putText(strip, text, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, img])


def _error_panel(err: np.ndarray, mask: np.ndarray) -> np.ndarray:
    scaled = np.clip(np.nan_to_num(err) / ERROR_SCALE_DEG * 255.0, 0, 255).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    heat[~mask] = 0
    return heat


def _capture_in_the_app(out: Path, seed: int, size: int, step):
    """One capture as an operator makes it: the Textual app, driven headless by the scripted
    operator, on the simulated booth (emulated flash controller on a pty, libgphoto2's
    virtual camera). Saves a screenshot of the capture screen to ``out/tui.svg``."""
    from booth.config import BoothConfig, CaptureSection
    from booth.station import SimOptions
    from booth.tui import script
    from booth.tui.app import BoothApp

    config = BoothConfig(capture=CaptureSection(ambient=True))  # room light + ambient frame
    app = BoothApp(config, sessions=out / "sessions", image_mode="cells",
                   sim=SimOptions(seed=seed, size=size, per_subject=False))

    done = []

    async def operator(pilot):
        await script.open_session(pilot, "demo")
        await script.add_subject(pilot, f"synthetic-{seed}")
        screen = await script.capture(pilot)
        done.append(screen.finished)
        app.save_screenshot("tui.svg", str(out))
        await app.action_quit()

    from booth.tui.run import stderr_to

    with stderr_to(out / "tui.log"):  # MediaPipe's C++ start-up chatter goes to the log
        app.run(headless=True, size=(130, 44), auto_pilot=operator)
    finished = done[0] if done else None
    if finished is None:
        raise RuntimeError("the app stopped before the capture finished; see the log above")
    result = finished.result
    if result is None or result.status != "complete":
        why = finished.error or (result.reason if result else "")
        raise RuntimeError(f"simulated capture failed: {why}")
    step(f"  stored {result.path} in {result.timings['total'] * 1e3:.0f} ms; "
         f"QC warnings: {len(finished.processed.warnings) if finished.processed else '?'}")
    step(f"  the app's capture screen: {out / 'tui.svg'}")
    truth = normalmap.read_npy(result.path / "truth" / "normals.npy")
    mask = imageio.read_image(result.path / "truth" / "mask.png") > 0
    lit = imageio.read_image(result.path / "truth" / "lit.png")
    return result.path, truth, mask, lit


def run(out: str | Path = "out", seed: int = 0, size: int = 512) -> dict[str, dict[str, float]]:
    out = _claim(out)
    t0 = time.perf_counter()

    def step(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.2f} s] {msg}", flush=True)

    step("simulating the calibration sphere, as the simulated camera's sRGB JPEGs")
    simulate_subject(out / "sphere", "sphere", 0, size, noise=0.002, force=True, fmt="jpeg")
    step("calibrating")
    cal = calibrate_folder(out / "sphere", out / "calibration.yaml")
    step(f"  lambertian residual on the sphere {cal.residuals['lambertian_mean_deg']:.2f}°; "
         f"camera response {cal.response.describe()}")
    step(f"capturing face subject {seed} in the operator's app (headless) on the simulated "
         "booth: emulated flash controller on a pty, libgphoto2 virtual camera")
    capture_dir, truth, fmask, lit = _capture_in_the_app(out, seed, size, step)
    loaded = load_capture(capture_dir, out / "calibration.yaml")
    step(f"  pixels from {loaded.describe()}")
    # Where every flash reaches the face: no attached or cast shadow (the truth's lit.png).
    lit_by_all = fmask & (lit == 0b11111)

    results, figures = {}, {}
    panels = [_label(loaded.display("center"), "ring flash (center)"),
              _label(normalmap.preview8(truth, fmask), "truth")]
    errors = []
    for method in stereo.METHODS:
        step(f"normals by the {method} method")
        t = time.perf_counter()
        computed = compute_normals(capture_dir, method, out / "calibration.yaml",
                                   loaded=loaded)
        write_normals(computed, out / "normals" / method, force=True)  # the demo owns out/
        ms = (time.perf_counter() - t) * 1e3
        res = computed.result
        err = stereo.angular_error(res.normals, truth)
        whole = fmask & res.mask
        inner = lit_by_all & res.mask
        figures[method] = {
            "mean_deg_lit_by_all": float(err[inner].mean()),
            "mean_deg_whole_face": float(err[whole].mean()),
            "median_deg_whole_face": float(np.median(err[whole])),
            "coverage": float(res.mask[fmask].mean()),
            "ms": ms,
        }
        results[method] = res
        f = figures[method]
        panels.append(_label(normalmap.preview8(res.normals, res.mask), method))
        errors.append(_label(_error_panel(err, whole),
                             f"{method} error {f['mean_deg_whole_face']:.2f} deg mean"))
    albedo = imageio.to_uint(np.clip(results["lambertian"].albedo, 0, 1), 8)
    bottom = [_label(albedo, "albedo (lambertian)"),
              _label(cv2.cvtColor(imageio.to_uint(results["lambertian"].confidence, 8),
                                  cv2.COLOR_GRAY2RGB),
                     f"confidence; error scale below: 0 to {ERROR_SCALE_DEG:.0f} deg"), *errors]
    legend = bottom[1][28:]
    ramp = np.linspace(0, ERROR_SCALE_DEG, legend.shape[1])[None].repeat(24, 0)
    legend[-24:] = _error_panel(ramp, np.ones_like(ramp, bool))
    figure = np.vstack([np.hstack(panels), np.hstack(bottom)])
    atomic_write(out / "demo.png", lambda p: imageio.write_image(p, figure))

    print()
    print(f"{'method':<12}{'lit by all 5':>14}{'whole face':>12}{'median':>9}"
          f"{'coverage':>10}{'time':>10}")
    for method, f in figures.items():
        print(f"{method:<12}{f['mean_deg_lit_by_all']:>13.2f}°{f['mean_deg_whole_face']:>11.2f}°"
              f"{f['median_deg_whole_face']:>8.2f}°{100 * f['coverage']:>9.1f}%"
              f"{f['ms']:>8.0f} ms")
    step(f"wrote {out / 'demo.png'}")
    _export(out, step)
    _relight(capture_dir, out, step)
    return figures


def _relight(capture_dir: Path, out: Path, step) -> None:
    """The capture relit from its measured normals and albedo, as ``booth relight`` does it:
    a key light with cast shadows and skin's specular lobe, and a 24-frame light orbit."""
    from booth import lighting

    step("relighting the capture from its normal map (key light, shadows, specular; a "
         "24-frame orbit)")
    portrait = lighting.load_capture(capture_dir, None, None)
    scene_args = lighting.SceneArgs.parse(None, None, None, None, 0.55, True)
    written = lighting.run(portrait, scene_args.scene(portrait.rig, str(capture_dir)),
                           lighting.output(out / "relight"), orbit=24)
    step(f"  {', '.join(written)} -> {out / 'relight'}")


def _export(out: Path, step) -> None:
    """The session store as a training set, as ``booth export`` makes it."""
    from booth.dataset_sources import export_sources, run_export
    from learning.exporter import Settings

    step("exporting the session store as a training set (the sitter's crop, landmark "
         "channels, normal map, mask)")
    from booth.tui.run import stderr_to

    sources, rejected = export_sources([out / "sessions"])
    with stderr_to(out / "export.log"):  # MediaPipe's C++ start-up chatter
        res = run_export(sources, out / "dataset", Settings(), workers=1,
                         rejected=rejected)
    step(f"  {len(res.exported)} capture(s) exported ({res.reused} reused from earlier runs), "
         f"{len(res.skipped)} skipped -> {out / 'dataset'}")
