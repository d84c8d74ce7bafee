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


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from booth.session import SessionStore

    sessions = SessionStore(args.root).sessions()
    if not sessions:
        print(f"booth: error: {args.root}: no sessions (expected ROOT/SESSION/session.yaml)",
              file=sys.stderr)
        return EXIT_IO
    for session in sessions:
        infos = session.captures()
        subjects = sorted({i.subject for i in infos})
        print(f"{session.name}: {len(subjects)} subject(s), {len(infos)} capture(s)")
        for i in infos:
            note = f", superseded by {i.superseded_by}" if i.superseded_by else ""
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
