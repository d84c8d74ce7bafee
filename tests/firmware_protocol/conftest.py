"""The compiled firmware in simavr, for the tests that run against the real binary.

They are skipped, saying why, where simavr is missing (``sh
firmware_protocol/firmware/sim/install-simavr.sh`` installs it); where it is there, a failure
to build or start the harness is an error, not a skip.
"""

import pytest

from firmware_protocol import simavr
from tests.firmware_protocol.differential import Link


@pytest.fixture(scope="session")
def simavr_ready():
    """Builds the harness and the firmware once per session, or skips the test."""
    reason = simavr.missing()
    if reason is not None:
        pytest.skip(f"the firmware in simavr: {reason}")
    simavr.build()


@pytest.fixture
def firmware(simavr_ready):
    """The firmware in simavr, in real time, fresh for each test."""
    with simavr.FirmwareSim() as sim:
        yield sim


@pytest.fixture(scope="module")
def link(simavr_ready):
    """Raw frames to the firmware and to the reference controller side by side
    (:mod:`tests.firmware_protocol.differential`). The AVR runs free: nothing here waits on
    its clock, and a reset before each stream makes them independent."""
    with simavr.FirmwareSim(speed=0) as sim:
        link = Link(sim)
        yield link
        link.close()
