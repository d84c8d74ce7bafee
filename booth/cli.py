"""The ``booth`` command line: every step of the booth as a headless command.

User mistakes (missing files, bad YAML, wrong sizes) end with one line naming the file and
what was expected, and exit status 2; nothing already on disk is touched by a failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from photometric.errors import InputError
from photometric.lights import CHANNELS

EXIT_USAGE = 2
EXIT_IO = 1


def _float_or_none(text: str) -> float | None:
    if text.lower() in ("inf", "none", "infinite"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected millimetres or 'inf', got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive distance, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="booth", description="The photometric portrait booth: capture, normals, learning.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser("simulate", help="render synthetic subjects on the simulated booth")
    simsub = sim.add_subparsers(dest="what", required=True, metavar="WHAT")
    s = simsub.add_parser("subject", help="render one subject under the five flashes",
                          description="Write center/left/right/top/bottom.png (and ambient.png), "
                          "truth/normals.npy, truth/mask.png and lights.yaml into --out.")
    s.add_argument("--kind", choices=("face", "sphere"), default="face")
    s.add_argument("--seed", type=int, default=0, help="which subject (default 0)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--ambient", action="store_true", help="add room light and an ambient frame")
    s.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    s.add_argument("--noise", type=float, default=0.0,
                   help="sensor noise, standard deviation as a fraction of full scale")
    s.add_argument("--bits", type=int, choices=(8, 16), default=16, help="PNG bit depth")
    s.add_argument("--distance", type=_float_or_none, default=None, metavar="MM",
                   help="flash distance in mm (point lights); default: distant lights")
    s.add_argument("--specular", type=float, default=0.0,
                   help="Blinn-Phong specular weight (default 0: cross-polarised flashes)")
    s.add_argument("--force", action="store_true", help="overwrite images already in --out")

    c = sub.add_parser("calibrate", help="fit lights and coefficients from a sphere capture",
                       description="Find the white sphere, fit each flash's direction and "
                       "intensity and the simplified method's coefficients; write YAML.")
    c.add_argument("sphere_dir", metavar="SPHERE_DIR")
    c.add_argument("--out", required=True, help="calibration YAML to write")
    c.add_argument("--circle", metavar="CX,CY,R", help="sphere outline in pixels (skip detection)")

    n = sub.add_parser("normals", help="photometric stereo on a capture folder",
                       description="Write normals.png (16-bit), normals.npy, albedo.png, "
                       "mask.png, confidence.png, normals_preview.png and normals.yaml.")
    n.add_argument("capture_dir", metavar="CAPTURE_DIR")
    n.add_argument("--method", choices=("simplified", "lambertian"), default="simplified")
    n.add_argument("--calibration", metavar="FILE", help="calibration YAML from 'booth calibrate'")
    n.add_argument("--lights", metavar="FILE", help="lights YAML (overrides the calibration's)")
    n.add_argument("--out", required=True, help="output folder")

    fl = sub.add_parser("flash", help="talk to the flash controller",
                        description="Commands to the flash controller over its serial port.")
    flsub = fl.add_subparsers(dest="what", required=True, metavar="WHAT")
    h = flsub.add_parser("hello", help="handshake; print firmware version and channels")
    h.add_argument("--port", required=True, help="serial port path or pyserial URL")
    f = flsub.add_parser("fire", help="fire one flash and print its FIRED event")
    f.add_argument("channel", choices=CHANNELS)
    f.add_argument("--port", required=True, help="serial port path or pyserial URL")
    f.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for FIRED")

    cp = sub.add_parser("capture", help="capture one subject under the five flashes",
                        description="Run one capture (preflight, five flash shots, optional "
                        "ambient frame) into the session store and print where it went; "
                        "then compute its normal map and quality checks into derived/.")
    cp.add_argument("--backend", choices=("sim", "gphoto2"), default="sim")
    cp.add_argument("--config", metavar="FILE", help="booth.yaml (camera, flash, capture "
                    "settings); defaults suit the simulated booth")
    cp.add_argument("--sessions", metavar="ROOT",
                    help="session store root (default: the config's, sessions/)")
    cp.add_argument("--session", required=True, metavar="NAME")
    cp.add_argument("--subject", metavar="ID", help="pseudonymous subject id")
    cp.add_argument("--sphere", action="store_true",
                    help="capture the calibration sphere instead, fit it and make it the "
                    "session's calibration")
    cp.add_argument("--consent", action="store_true",
                    help="the subject has given consent (required)")
    cp.add_argument("--port", help="flash controller serial port (gphoto2 backend)")
    cp.add_argument("--ambient", action="store_true", help="also take a no-flash frame")
    cp.add_argument("--retake", metavar="CAPTURE_ID", help="supersede this earlier capture")
    cp.add_argument("--seed", type=int, default=0, help="simulated subject (sim backend)")
    cp.add_argument("--size", type=int, default=512, help="simulated image size (sim backend)")
    cp.add_argument("--operator", default="", help="recorded in session.yaml")
    cp.add_argument("--no-process", action="store_true",
                    help="skip the normal map and quality checks after the capture")

    dr = sub.add_parser("doctor", help="check serial port, controller, camera and disk",
                        description="One PASS/FAIL line per check, with what to do.")
    dr.add_argument("--backend", choices=("sim", "gphoto2"), default="gphoto2")
    dr.add_argument("--port", help="flash controller serial port (default: first found)")
    dr.add_argument("--sessions", default="sessions", metavar="ROOT")

    ss = sub.add_parser("sessions", help="list and verify the session store",
                        description="Inspect captured sessions on disk.")
    sssub = ss.add_subparsers(dest="what", required=True, metavar="WHAT")
    sl = sssub.add_parser("list", help="sessions, subjects and captures under ROOT")
    sl.add_argument("root", metavar="ROOT")
    sv = sssub.add_parser("verify", help="check every capture of a session (checksums, "
                          "completeness); non-zero exit when anything is missing or altered")
    sv.add_argument("session", metavar="ROOT/SESSION")

    lmk = sub.add_parser("landmarks", help="MediaPipe Face Mesh landmarks of a photo",
                         description="Write the 478 Face Mesh landmarks (x, y in pixels, z) of "
                         "the largest face in IMAGE as JSON; --overlay draws the mesh on it.")
    lmk.add_argument("image", metavar="IMAGE")
    lmk.add_argument("--out", required=True, metavar="FILE.json")
    lmk.add_argument("--overlay", metavar="FILE.png", help="the photo with the mesh drawn")

    ex = sub.add_parser("export", help="session stores -> a training dataset",
                        description="Export every complete, not superseded capture of the "
                        "session stores as a training sample (face crop, landmark channels, "
                        "normal map, mask), split by subject. Resumes an interrupted export and "
                        "reuses samples already exported with the same settings.")
    ex.add_argument("roots", nargs="+", metavar="SESSIONS_ROOT")
    ex.add_argument("--out", required=True, metavar="DATASET")
    ex.add_argument("--encoding", choices=("points", "dense", "none"), default="points",
                    help="landmark channels (default points)")
    ex.add_argument("--size", type=int, default=512, help="crop side in pixels (default 512)")
    ex.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="worker processes (default: one per core)")
    ex.add_argument("--augment", action="store_true",
                    help="also write flipped, darker and brighter copies (the paper's 4x data)")
    ex.add_argument("--brightness", default="0.7,1.3", metavar="F,...",
                    help="brightness factors of the --augment copies (default 0.7,1.3)")
    ex.add_argument("--compress", action="store_true",
                    help="deflate the photo and normals in each sample too: about 2.3x "
                    "smaller files, a slower export")
    ex.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    ex.add_argument("--split", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST",
                    help="subject fractions (default 0.8,0.1,0.1)")

    t = sub.add_parser("tui", help="the operator's terminal app",
                       description="Run capture sessions from the terminal: sessions, subjects "
                       "and consent, live hardware status, capture with thumbnails, normal map "
                       "and QC, calibration, doctor. Keys are shown at the bottom of each "
                       "screen; q quits (the flashes are disarmed on every exit).")
    t.add_argument("--config", metavar="FILE", help="booth.yaml (defaults suit the simulated "
                   "booth)")
    t.add_argument("--backend", choices=("sim", "gphoto2"), default="sim")
    t.add_argument("--sessions", metavar="ROOT",
                   help="session store root (default: the config's, sessions/)")
    t.add_argument("--port", help="flash controller serial port (gphoto2 backend)")
    t.add_argument("--seed", type=int, default=0, help="simulated subjects (sim backend)")
    t.add_argument("--size", type=int, default=512, help="simulated image size (sim backend)")
    t.add_argument("--images", choices=("auto", "cells", "none"), default="auto",
                   help="thumbnails: auto (the best the terminal supports), cells (coloured "
                   "half-blocks, any terminal), none (file names)")
    t.add_argument("--log", metavar="FILE", help="log file (default "
                   "~/.local/state/booth/tui.log)")

    d = sub.add_parser("demo", help="the booth's main job on the simulated booth",
                       description="Simulate a calibration sphere and a face, calibrate, "
                       "compute normals by both methods, write a side-by-side figure.")
    d.add_argument("--out", default="out", help="output folder (default out/)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--size", type=int, default=512)
    return p


def _run(args: argparse.Namespace) -> int:
    from booth import commands

    if args.command == "simulate":
        t = time.perf_counter()
        r = commands.simulate_subject(
            args.out, args.kind, args.seed, args.size, args.ambient, args.noise, args.bits,
            args.distance, args.specular, args.force)
        print(f"simulated {args.kind} seed {args.seed} ({args.size}×{args.size}, "
              f"{len(r.images)} images) in {time.perf_counter() - t:.2f} s -> {r.folder}")
    elif args.command == "calibrate":
        cal = commands.calibrate_folder(args.sphere_dir, args.out, args.circle)
        c = cal.circle
        print(f"sphere at ({c.cx:.1f}, {c.cy:.1f}), radius {c.r:.1f} px")
        for ch in cal.rig.directions:
            d = cal.rig.direction(ch)
            print(f"  {ch:<7} direction [{d[0]:+.4f} {d[1]:+.4f} {d[2]:+.4f}]  "
                  f"intensity {cal.rig.intensity(ch):.4f}")
        r = cal.residuals
        print(f"residual on the sphere: lambertian {r['lambertian_mean_deg']:.3f}° mean, "
              f"simplified {r['simplified_mean_deg']:.3f}° mean "
              f"({r['simplified_median_deg']:.3f}° median)")
        print(f"wrote {args.out}")
    elif args.command == "normals":
        t = time.perf_counter()
        res = commands.compute_normals(args.capture_dir, args.out, args.method,
                                       args.calibration, args.lights)
        cover = 100.0 * res.mask.mean()
        print(f"{res.method}: {res.mask.shape[1]}×{res.mask.shape[0]}, {cover:.1f}% of pixels "
              f"valid, {time.perf_counter() - t:.2f} s -> {args.out}")
    elif args.command == "flash":
        from booth.hardware.flash import FlashController

        with FlashController(args.port) as fc:
            info = fc.info
            if args.what == "hello":
                st = fc.status()
                ready = [c for i, c in enumerate(CHANNELS) if st.ready_mask >> i & 1]
                print(f"flash controller on {args.port}: firmware "
                      f"{'.'.join(map(str, info.firmware))}, protocol {info.version}, "
                      f"{info.channels} channels ({', '.join(CHANNELS)}); "
                      f"ready: {', '.join(ready) or 'none'}")
            else:
                fc.clear_events()
                fc.fire(args.channel)
                ev = fc.wait_fired(args.channel, args.timeout)
                print(f"FIRED {args.channel} at t={ev.t_us} us (controller clock)")
    elif args.command == "capture":
        return _capture(args)
    elif args.command == "sessions":
        return _sessions(args)
    elif args.command == "doctor":
        from pathlib import Path

        from booth import doctor

        return 0 if doctor.run(args.backend, args.port, Path(args.sessions)) else 1
    elif args.command == "landmarks":
        from booth import commands

        lm = commands.write_landmarks(args.image, args.out, args.overlay)
        extra = f" ({lm.faces_found} faces found: the largest kept)" if lm.faces_found > 1 else ""
        print(f"{len(lm.points)} landmarks -> {args.out}{extra}")
    elif args.command == "export":
        return _export(args)
    elif args.command == "tui":
        from booth.tui.run import run

        return run(args.config, args.backend, args.sessions, args.port, args.seed, args.size,
                   args.images, args.log)
    elif args.command == "demo":
        from booth import demo

        demo.run(args.out, args.seed, args.size)
    return 0


def _station(args: argparse.Namespace, cfg):
    from booth.station import SimOptions, Station

    sim = SimOptions(seed=args.seed, size=args.size, per_subject=False)
    return Station(cfg, args.backend, args.port, sim)


def _print_event(ev) -> None:
    if ev.kind in ("retry", "aborted"):
        print(f"  {ev.kind}: {ev.channel} (attempt {ev.attempt}): {ev.message}")
    elif ev.kind == "stored":
        print(f"  {ev.channel} stored")


def _capture(args: argparse.Namespace) -> int:
    from booth.config import load_config
    from booth.processing import process_capture
    from booth.session import SessionError, SessionStore
    from booth.station import session_config

    if args.sphere:
        if args.subject or args.retake:
            raise InputError("--sphere captures the calibration sphere: leave out --subject "
                             "and --retake")
    elif not args.subject:
        raise InputError("--subject: which subject to capture (or --sphere to calibrate)")
    elif not args.consent:
        raise SessionError(f"subject '{args.subject}': consent is required before capture; "
                           "pass --consent once the subject has agreed")
    cfg = load_config(args.config)
    session = SessionStore(args.sessions or cfg.sessions).create_session(
        args.session, operator=args.operator, config=session_config(cfg))
    with _station(args, cfg) as station:
        if args.sphere:
            out = station.capture_calibration(session, _print_event)
            result = out.capture
            if out.calibration is not None:
                session.set_calibration(out.calibration_id)
                r = out.calibration.residuals
                print(f"calibration {out.calibration_id}: residual on the sphere "
                      f"{r['lambertian_mean_deg']:.2f}° (lambertian), "
                      f"{r['simplified_mean_deg']:.2f}° (simplified); now the session's")
        else:
            session.add_subject(args.subject, consent=True)
            result = station.capture(session, args.subject, args.retake, _print_event,
                                     ambient=args.ambient)
    print(f"{result.status}: {result.path}" + (f" ({result.reason})" if result.reason else ""))
    if result.status == "complete" and not args.sphere and not args.no_process:
        done = process_capture(result.path, session.calibration_file())
        print(f"normals: {done.folder}")
        for w in done.warnings:
            print(f"  QC warning: {w.message}")
    return 0 if result.status == "complete" else 1


def _export(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth import commands
    from learning import dataset
    from learning.dataset import Settings, export

    def numbers(option: str, text: str, example: str) -> tuple[float, ...]:
        try:
            return tuple(float(x) for x in text.split(","))
        except ValueError:
            raise InputError(f"{option}: expected numbers like {example}, got "
                             f"{text!r}") from None

    split = numbers("--split", args.split, "0.8,0.1,0.1")
    brightness = numbers("--brightness", args.brightness, "0.7,1.3")
    if min(brightness) <= 0:
        raise InputError(f"--brightness: factors must be positive, got {args.brightness!r}")
    settings = Settings(size=args.size, encoding=args.encoding, augment=args.augment,
                        brightness=brightness, seed=args.seed, split=split,
                        compress=args.compress).validate()
    if args.workers > 1:
        dataset.start_workers()  # its imports overlap the checksums below
    sources, rejected = commands.export_sources(args.roots)
    if not sources and not rejected:
        raise InputError(f"{', '.join(args.roots)}: no captures to export")
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("exporting", total=len(sources))

        def progress(done, total, outcome):
            bar.update(task, completed=done)

        result = export(sources, args.out, settings, args.workers, progress, rejected)
    print(f"exported {len(result.exported)} captures ({result.reused} reused), "
          f"skipped {len(result.skipped)} -> {args.out}")
    for o in result.skipped:
        print(f"  skipped {o.key}: {o.reason}")
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from pathlib import Path

    from booth.session import SessionStore

    if args.what == "list":
        for session in SessionStore(args.root).sessions():
            infos = session.captures()
            subjects = sorted({i.subject for i in infos})
            print(f"{session.name}: {len(subjects)} subject(s), {len(infos)} capture(s)")
            for i in infos:
                note = f", superseded by {i.superseded_by}" if i.superseded_by else ""
                print(f"  {i.subject}/{i.capture_id}  {i.status}{note}")
        return 0
    path = Path(args.session)
    infos = SessionStore(path.parent).session(path.name).verify()
    bad = [i for i in infos if i.status == "broken"]
    for i in infos:
        detail = "; ".join(i.problems)
        print(f"{i.subject}/{i.capture_id}: {i.status}{': ' + detail if detail else ''}")
    counts = {s: sum(i.status == s for i in infos)
              for s in ("complete", "aborted", "partial", "broken")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    from booth.hardware.camera import CameraError
    from booth.hardware.flash import FlashError
    from booth.session import SessionError

    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (FlashError, CameraError) as exc:
        print(f"booth: error: {exc}", file=sys.stderr)
        return EXIT_IO
    except (InputError, SessionError) as exc:
        print(f"booth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"booth: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:
        print("booth: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
