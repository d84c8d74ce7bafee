"""Command-line values checked where they are parsed: each an argparse ``type=``.

A number out of range or a malformed list is refused before anything runs, with the option
named and the range expected, instead of a traceback (or an out-of-memory) later on.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
import urllib.parse
from collections.abc import Callable

SEED_LIMIT = 2**32  # numpy's seeds are unsigned 32-bit
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _number(text: str, kind: type) -> float | int:
    try:
        v = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def int_range(lo: int, hi: int, unit: str = "") -> Callable[[str], int]:
    """A whole number in ``lo..hi`` (both included)."""
    def parse(text: str) -> int:
        v = _number(text, int)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected {lo}..{hi}{' ' + unit if unit else ''}"
                                             f", got {v}")
        return v

    parse.__name__ = "whole number"
    return parse


def float_range(lo: float, hi: float | None = None, *, lo_open: bool = False,
                hi_open: bool = True, unit: str = "") -> Callable[[str], float]:
    """A number from ``lo`` (excluded with ``lo_open``) to ``hi`` (``None``: no bound)."""
    def parse(text: str) -> float:
        v = _number(text, float)
        low_ok = v > lo if lo_open else v >= lo
        high_ok = hi is None or (v < hi if hi_open else v <= hi)
        if not (low_ok and high_ok):
            left = "(" if lo_open else "["
            right = "" if hi is None else (f"{hi:g})" if hi_open else f"{hi:g}]")
            span = f"{left}{lo:g}, {right or 'inf)'}"
            raise argparse.ArgumentTypeError(f"expected a number in {span}"
                                             f"{' ' + unit if unit else ''}, got {text}")
        return v

    parse.__name__ = "number"
    return parse


def seed(text: str) -> int:
    """A random seed: 0 up to 2**32 - 1."""
    return int_range(0, SEED_LIMIT - 1)(text)


def positive_seconds(text: str) -> float:
    return float_range(0.0, 3600.0, lo_open=True, hi_open=False, unit="seconds")(text)


def distance_mm(text: str) -> float | None:
    """A flash distance in millimetres, or 'inf' for distant lights."""
    if text.lower() in ("inf", "none", "infinite"):
        return None
    return float_range(0.0, None, lo_open=True, unit="mm")(text)


def number_list(count: int | None = None, positive: bool = False, total: float | None = None,
                example: str = "") -> Callable[[str], tuple[float, ...]]:
    """Comma-separated numbers: ``count`` of them, each > 0 (``positive``) or >= 0, adding
    up to ``total`` when given."""
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(x) for x in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers like {example}, got "
                                             f"{text!r}") from None
        if count is not None and len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {count} numbers like {example}, got "
                                             f"{len(values)} ({text!r})")
        if not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
        if positive and min(values) <= 0:
            raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
        if not positive and min(values) < 0:
            raise argparse.ArgumentTypeError(f"expected numbers >= 0, got {text!r}")
        if total is not None and abs(sum(values) - total) > 1e-6:
            raise argparse.ArgumentTypeError(f"expected numbers adding up to {total:g}, got "
                                             f"{text!r} (sum {sum(values):g})")
        return values

    parse.__name__ = "list of numbers"
    return parse


def capture_id(text: str) -> str:
    """A capture id as the session store names them (no path separators)."""
    if not _ID.match(text):
        raise argparse.ArgumentTypeError(f"expected a capture id such as "
                                         f"20261124T184244123-3fa2, got {text!r}")
    return text


#: pyserial URL schemes that connect over the network: they need ``HOST:PORT``.
NETWORK_SCHEMES = ("socket", "rfc2217")
PORT_EXAMPLES = ("a device path such as /dev/ttyACM0 or a pyserial URL (loop://, "
                 "socket://HOST:PORT, rfc2217://HOST:PORT)")


def port_problem(text: str) -> str | None:
    """What is wrong with a flash controller port, or None: the one rule for ``--port`` and
    booth.yaml's ``flash.port``, so that a port is refused before anything is opened
    (pyserial's own errors for a malformed URL read like a bug)."""
    if not text.strip():
        return "expected a serial port such as /dev/ttyACM0, got an empty one"
    if "://" not in text:
        return None
    scheme = text.split("://", 1)[0]
    known = bool(_SCHEME.match(scheme)) and importlib.util.find_spec(
        f"serial.urlhandler.protocol_{scheme.lower()}") is not None
    if not known:
        return f"unknown URL scheme {scheme + '://'!r} in {text!r}; expected {PORT_EXAMPLES}"
    if scheme.lower() in NETWORK_SCHEMES:
        parts = urllib.parse.urlsplit(text)
        try:
            number = parts.port
        except ValueError:  # not a number, or past 65535
            number = None
        if not parts.hostname or number is None or not 1 <= number <= 65535:
            return (f"expected {scheme}://HOST:PORT with a port number 1..65535, such as "
                    f"{scheme}://localhost:7000, got {text!r}")
    return None


def port(text: str) -> str:
    """A serial device path or a pyserial URL whose scheme pyserial knows (a network URL
    with its host and port number)."""
    problem = port_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def folder(text: str) -> str:
    """A folder path: not empty (an empty one would quietly mean the current folder or the
    default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path")
    return text


def file_path(text: str) -> str:
    """A file path: not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file, got an empty path")
    return text
