"""Helpers of the photometric library's tests."""

import pytest

from photometric.errors import InputError


def refused(load, path, *expect) -> str:
    """``load(path)`` must raise InputError with a one-line message naming ``path`` and
    saying each of ``expect``; the message."""
    with pytest.raises(InputError) as exc:
        load(path)
    msg = str(exc.value)
    assert "\n" not in msg
    for e in (str(path), *expect):
        assert e in msg, msg
    return msg
