"""``booth capture``: one subject (or the calibration sphere) captured into a session store, then
processed (:mod:`booth.workflows`, shared with the operator's app)."""

from __future__ import annotations

import argparse

from booth import memory, options
from booth.commands.shared import (
    sessions_root,
    station_options,
)
from photometric.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    cp = sub.add_parser("capture", help="capture one subject under the five flashes",
                        parents=[station_options()],
                        description="Run one capture (preflight, five flash shots, optional "
                        "ambient frame) into the session store and print where it went; "
                        "then compute its normal map (with the session's calibration) and "
                        "quality checks into derived/.")
    cp.add_argument("--session", required=True, metavar="NAME")
    cp.add_argument("--subject", metavar="ID", help="pseudonymous subject id")
    cp.add_argument("--sphere", action="store_true",
                    help="capture the calibration sphere instead, fit it and make it the "
                    "session's calibration")
    cp.add_argument("--consent", action="store_true",
                    help="the subject has given consent (required)")
    cp.add_argument("--ambient", action="store_true", help="also take a no-flash frame")
    cp.add_argument("--retake", metavar="CAPTURE_ID", type=options.capture_id,
                    help="supersede this earlier capture")
    cp.add_argument("--operator", default="", help="recorded in session.yaml")
    cp.add_argument("--no-process", action="store_true",
                    help="skip the normal map and quality checks after the capture")
    cp.set_defaults(handler=cmd_capture)


def _station(args: argparse.Namespace, cfg):
    from booth.station import SimOptions, Station

    sim = SimOptions(seed=args.seed, size=args.size, per_subject=False,
                     image_format=args.image_format, controller=args.controller)
    return Station(cfg, args.backend, args.port, sim)


def _print_event(ev) -> None:
    if ev.kind in ("retry", "aborted"):
        print(f"  {ev.kind}: {ev.channel} (attempt {ev.attempt}): {ev.message}")
    elif ev.kind == "stored":
        print(f"  {ev.channel} stored")




def _check_retake(root, session: str, subject: str, retake: str) -> None:
    """The capture ``--retake`` names exists, checked before anything is created (a new
    session cannot hold it)."""
    from booth.session import PARTIAL, SessionError, SessionStore, check_name

    try:
        folder = SessionStore(root).session(session).path
    except SessionError:  # a bad name, no such session, or a damaged session.yaml
        if (root / check_name("session", session) / "session.yaml").exists():
            raise
        raise InputError(f"--retake {retake}: no session '{session}' in {root} to hold it (a "
                         "retake supersedes a capture of the same session)") from None
    caps = folder / "subjects" / check_name("subject", subject) / "captures"
    if not ((caps / retake).is_dir() or (caps / (retake + PARTIAL)).is_dir()):
        raise InputError(f"--retake {retake}: subject '{subject}' of session '{session}' has "
                         f"no such capture (see 'booth sessions list {root}')")


def cmd_capture(args: argparse.Namespace) -> int:
    from booth import workflows
    from booth.config import load_config
    from booth.session import SessionError, check_name

    if args.sphere:
        if args.subject or args.retake:
            raise InputError("--sphere captures the calibration sphere: leave out --subject "
                             "and --retake")
    elif not args.subject:
        raise InputError("--subject: which subject to capture (or --sphere to calibrate)")
    elif not args.consent:
        raise SessionError(f"subject '{args.subject}': consent is required before capture; "
                           "pass --consent once the subject has agreed")
    # Everything that can be checked is, before the session or the subject is created: a
    # refused capture leaves nothing behind.
    check_name("session", args.session)
    if args.subject:
        check_name("subject", args.subject)
    cfg = load_config(args.config)
    if args.backend == "sim":
        memory.check_memory("capture", args.size)
    root = sessions_root(args, cfg)
    if args.retake:
        _check_retake(root, args.session, args.subject, args.retake)
    with _station(args, cfg) as station:
        session = workflows.open_session(root, args.session, args.operator, cfg)
        if args.sphere:
            out = workflows.calibrate_session(station, session, _print_event, use=True,
                                              ambient=args.ambient)
        else:
            session.add_subject(args.subject, consent=True)
            out = workflows.capture_subject(station, session, args.subject, args.retake,
                                            _print_event, ambient=args.ambient,
                                            process=not args.no_process)
    result = out.capture
    print(f"{result.status}: {result.path}" + (f" ({result.reason})" if result.reason else ""))
    if args.sphere and out.calibration is not None:
        r = out.calibration.residuals
        print(f"calibration {out.calibration_id}: residual on the sphere "
              f"{r['lambertian_mean_deg']:.2f}° (lambertian), "
              f"{r['simplified_mean_deg']:.2f}° (simplified); now the session's")
    if not args.sphere and out.processed is not None:
        print(f"normals: {out.processed.folder} ({out.processed.normals.describe()})")
        for w in out.processed.warnings:
            print(f"  QC warning: {w.message}")
    if out.error is not None:
        raise out.error
    return 0 if result.status == "complete" else 1
