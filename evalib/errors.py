"""One exception type for problems a user can fix; the CLI prints it as a single line."""


class EvalibError(Exception):
    """A user-facing error: bad input, missing file, invalid window, ... (one-line message)."""
