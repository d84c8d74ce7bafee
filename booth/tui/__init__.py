"""The operator's Textual app (``booth tui``): screens per task, widgets per panel, typed
messages between them. Hardware and photometric work runs in thread workers that call the same
``booth`` functions as the command line (:mod:`booth.station`, :mod:`booth.processing`) and
report back with the messages of :mod:`booth.tui.events`."""
