"""The flash controller link: wire format, messages, the controller's state machine, its
emulator on a pty, and the AVR firmware (``firmware/``)."""
