"""The one exception type for bad input to the photometric code.

The CLI turns it into a one-line message and a non-zero exit; its text names the file or
field at fault and what was expected, so it never needs a traceback to be understood.
"""


class InputError(ValueError):
    """Input that cannot be used: missing file, wrong size, malformed YAML, no sphere found."""
