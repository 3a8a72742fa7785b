"""Errors meant for users: one line, naming the input and the problem.

Library code raises these; the CLI prints ``evfer: error: <message>`` and exits non-zero, no traceback.
"""

from __future__ import annotations

import os


class EvferError(Exception):
    """A problem with the user's input or configuration, explained in one line."""


class InputError(EvferError):
    """A file or argument that cannot be used (missing, empty, corrupt, wrong type)."""

    def __init__(self, source: str | os.PathLike | None, problem: str):
        self.source = None if source is None else os.fspath(source)
        self.problem = problem
        super().__init__(problem if source is None else f"{self.source}: {problem}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.source, self.problem))


class OutputError(EvferError):
    """An output that cannot be written where asked (a missing or read-only folder, a file where a
    folder is needed), explained in one line naming the output path."""

    def __init__(self, target: str | os.PathLike, problem: str):
        self.target = os.fspath(target)
        self.problem = problem
        super().__init__(f"{self.target}: {problem}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.target, self.problem))


class ConfigError(EvferError):
    """A config key that does not exist or has a value of the wrong type."""


def did_you_mean(name: str, valid) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``valid`` to a mistyped ``name``, else ``""`` —
    the one suggestion every registry look-up and the command line give."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
