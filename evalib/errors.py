"""One exception type for problems a user can fix; the CLI prints it as a single line."""

from __future__ import annotations


class EvalibError(Exception):
    """A user-facing error: bad input, missing file, invalid window, ... (one-line message).

    ``cli``: the same message worded for the command line (naming ``--flags`` instead of
    Python arguments); the CLI prints :attr:`cli_message`.
    """

    def __init__(self, message: str = "", *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli

    @property
    def cli_message(self) -> str:
        return self.cli or str(self)
