"""One module per ``booth`` command: its parser (``register``) and its handler.

``COMMANDS`` is the order ``booth --help`` lists them in."""

from booth.commands import (
    calibrate,
    capture,
    demo,
    doctor,
    evaluate,
    export,
    flash,
    landmarks,
    normals,
    predict,
    relight,
    sessions,
    simulate,
    terminal,
    train,
)

COMMANDS = (simulate, calibrate, normals, flash, capture, doctor, sessions, landmarks, export,
            train, evaluate, predict, relight, terminal, demo)
