"""``booth sessions list`` and ``booth sessions verify``: the session store on disk
(:mod:`booth.session`)."""

from __future__ import annotations

import argparse
import sys

from booth.commands.shared import EXIT_IO


def register(sub: argparse._SubParsersAction) -> None:
    ss = sub.add_parser("sessions", help="list and verify the session store",
                        description="Inspect captured sessions on disk.")
    sssub = ss.add_subparsers(dest="what", required=True, metavar="WHAT")
    sl = sssub.add_parser("list", help="sessions, subjects and captures under ROOT; non-zero "
                          "exit when there is none")
    sl.add_argument("root", metavar="ROOT")
    sl.set_defaults(handler=cmd_sessions_list)
    sv = sssub.add_parser("verify", help="check every capture of a session (checksums, "
                          "completeness); non-zero exit when anything is missing or altered, "
                          "or there is nothing to check")
    sv.add_argument("session", metavar="ROOT/SESSION")
    sv.set_defaults(handler=cmd_sessions_verify)
    sm = sssub.add_parser("mark", help="mark a capture for retake after review (an export "
                          "skips it until a retake supersedes it), or --clear the mark")
    sm.add_argument("session", metavar="ROOT/SESSION")
    sm.add_argument("capture", metavar="SUBJECT/CAPTURE",
                    help="as 'booth sessions list' prints it")
    sm.add_argument("--note", default="", help="why, for whoever retakes it")
    sm.add_argument("--clear", action="store_true", help="remove the mark")
    sm.set_defaults(handler=cmd_sessions_mark)


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from booth.capture_review import review
    from booth.session import SessionStore

    sessions = SessionStore(args.root).sessions()
    if not sessions:
        print(f"booth: error: {args.root}: no sessions (expected ROOT/SESSION/session.yaml)",
              file=sys.stderr)
        return EXIT_IO
    for session in sessions:
        rows = review(session)
        subjects = sorted({r.info.subject for r in rows})
        print(f"{session.name}: {len(subjects)} subject(s), {len(rows)} capture(s)")
        for r in sorted(rows, key=lambda r: (r.info.subject, r.info.capture_id)):
            i = r.info
            note = f", superseded by {i.superseded_by}" if i.superseded_by else ""
            if r.retake:
                note += ", marked for retake" + (f" ({r.retake.note})" if r.retake.note else "")
            print(f"  {i.subject}/{i.capture_id}  {i.status}{note}")
    return 0


def cmd_sessions_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from booth.session import SessionStore

    path = Path(args.session)
    infos = SessionStore(path.parent).session(path.name).verify()
    if not infos:
        print(f"booth: error: {path}: no captures to verify", file=sys.stderr)
        return EXIT_IO
    for i in infos:
        detail = "; ".join([*i.problems, *([i.note] if i.note else [])])
        print(f"{i.subject}/{i.capture_id}: {i.status}{': ' + detail if detail else ''}")
    counts = {s: sum(i.status == s for i in infos)
              for s in ("complete", "aborted", "partial", "broken")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if counts["broken"] else 0


def cmd_sessions_mark(args: argparse.Namespace) -> int:
    from pathlib import Path

    from booth.capture_review import mark_retake
    from booth.session import SessionError, SessionStore

    path = Path(args.session)
    subject, _, capture = args.capture.partition("/")
    if not subject or not capture:
        raise SessionError(f"{args.capture}: expected SUBJECT/CAPTURE, as 'booth sessions "
                           "list' prints it")
    mark_retake(SessionStore(path.parent).session(path.name), subject, capture, args.note,
                clear=args.clear)
    print(f"{args.capture}: " + ("mark cleared" if args.clear else "marked for retake"))
    return 0
