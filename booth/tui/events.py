"""Typed messages from the workers (hardware, processing) to the screens.

Workers run in threads; ``post_message`` is thread-safe, so they post these and the screens
handle them on the UI thread (``on_capture_progress`` and so on).
"""

from __future__ import annotations

from textual.message import Message

from booth.diagnostics import Check
from booth.processing import Processed
from booth.sequencer import CaptureEvent, CaptureResult
from booth.station import HardwareStatus, Station
from booth.workflows import CalibrationOutcome


class StationOpened(Message):
    def __init__(self, station: Station) -> None:
        self.station = station
        super().__init__()


class StationFailed(Message):
    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__()


class HardwareUpdated(Message):
    def __init__(self, status: HardwareStatus) -> None:
        self.status = status
        super().__init__()


class CaptureProgress(Message):
    def __init__(self, event: CaptureEvent) -> None:
        self.event = event
        super().__init__()


class CaptureFinished(Message):
    """``result`` is None when the capture could not start (``error`` says why);
    ``processed`` holds the normal map and QC of a complete capture."""

    def __init__(self, result: CaptureResult | None, processed: Processed | None = None,
                 error: str = "") -> None:
        self.result = result
        self.processed = processed
        self.error = error
        super().__init__()


class CalibrationFinished(Message):
    def __init__(self, outcome: CalibrationOutcome | None, error: str = "") -> None:
        self.outcome = outcome
        self.error = error
        super().__init__()


class DoctorFinished(Message):
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        super().__init__()
