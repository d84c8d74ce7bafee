"""Fixtures of the booth's tests."""

import pytest


@pytest.fixture(params=["emulator", "firmware"])
def controller(request) -> str:
    """The simulated booth's flash controller: the Python emulator, then the compiled
    firmware in simavr (skipped, saying why, where simavr is not installed)."""
    if request.param == "firmware":
        from firmware_protocol import simavr

        reason = simavr.missing()
        if reason is not None:
            pytest.skip(f"the firmware in simavr: {reason}")
        simavr.build()
    return request.param
