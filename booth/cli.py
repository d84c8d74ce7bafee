"""The ``booth`` command line: every step of the booth as a headless command.

Each command lives in its own module, :mod:`booth.commands.<verb>` (``tui``'s is
:mod:`booth.commands.terminal`), which holds its parser (``register``) and its handler
(``cmd_*``, set with ``set_defaults(handler=...)``); options that several commands share are
parent parsers in :mod:`booth.commands.shared`. The work itself lives in the modules by job
(:mod:`booth.workflows`, :mod:`booth.processing`, :mod:`booth.lighting`, ...), which
the Textual app and the demo call too. This module only gathers the commands and turns failures
into exit statuses.

Errors: numbers and names are checked where they are parsed (:mod:`booth.options`), a job
too large for the memory is refused before it starts (:mod:`booth.memory`). A user mistake
ends with one line naming the file or option and what was expected: exit status 2 for bad
input, 1 for hardware and file-system failures; anything unexpected is one line too ("internal
error", exit 70; ``BOOTH_DEBUG=1`` shows the traceback). Running out of memory part-way is
one line too (exit 1), and a reader that closes our stdout (``| head -1``) ends the command
quietly (exit 1). Nothing already on disk is touched by a failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from booth.commands import COMMANDS
from booth.commands.shared import EXIT_INTERNAL, EXIT_IO, EXIT_USAGE, Parser
from photometric.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="booth",
               description="The photometric portrait booth: capture, normals, learning.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


# -- entry point --------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    code = EXIT_INTERNAL
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that went away shows here, not as noise at exit
        return code
    except BrokenPipeError:  # only stdout's reaches here (see _main)
        _quiet_stdout()
        code = EXIT_IO
        return code
    except Exception as exc:
        code = _internal(exc)
        return code
    finally:
        from booth.jobs import write_exit

        write_exit(code)  # when run as the app's job (booth.jobs): how it ended


def _internal(exc: Exception) -> int:
    """A bug: one line and exit 70, or the traceback with ``BOOTH_DEBUG=1``."""
    if os.environ.get("BOOTH_DEBUG"):
        raise exc
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    print(f"booth: internal error: {what}; set BOOTH_DEBUG=1 for the traceback",
          file=sys.stderr)
    return EXIT_INTERNAL


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader has gone (``booth ... | head -1``): poll says so
    (POLLERR), since the failed write already dropped what a flush would retry."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's capture)
        return False


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not complain again
    (the recipe of Python's documentation on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stdout without a descriptor (tests)
        pass


def _out_of_memory(args: argparse.Namespace, exc: MemoryError) -> str:
    """One line for a job that ran out of memory (a MemoryError past the up-front estimate:
    an address-space limit, another process taking the memory meanwhile)."""
    detail = " ".join(str(exc).split())
    hint = ("try a smaller --size" if getattr(args, "size", None) else
            "try smaller images, or close other programs")
    return f"booth: error: out of memory{' (' + detail + ')' if detail else ''}; {hint}"


def _main(argv: Sequence[str] | None) -> int:
    """Parse, run the command's handler, and turn each kind of failure into one line."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from booth.hardware.camera import CameraError
    from booth.hardware.flashlink import FlashError
    from booth.session import SessionError

    try:
        return args.handler(args)
    except MemoryError as exc:
        print(_out_of_memory(args, exc), file=sys.stderr)
        return EXIT_IO
    except (FlashError, CameraError) as exc:
        print(f"booth: error: {exc}", file=sys.stderr)
        return EXIT_IO
    except (InputError, SessionError) as exc:
        print(f"booth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_gone():
            raise  # the reader of our output went away: main() ends quietly
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"booth: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:
        print("booth: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
