"""Exceptions raised by ssrec for user-facing problems.

Every error a user can cause (a malformed data file, a bad config value, an unknown model name)
is an :class:`SsrecError`. The command line turns these into a one-line message and exit code 2;
library callers can catch them like any other exception.
"""

from __future__ import annotations


class SsrecError(Exception):
    """Base class of every user-facing ssrec error."""


class ConfigError(SsrecError, ValueError):
    """An invalid configuration value, unknown key or unknown name.

    Args:
        message: what is wrong and how to fix it.
        source: the config file the value came from, if any.
        line: 1-based line number in ``source``, if known.
    """

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        self.source = source
        self.line = line
        where = ""
        if source:
            where = f"{source}:{line}: " if line else f"{source}: "
        super().__init__(where + message)


class DataError(SsrecError, ValueError):
    """A data file that is missing, corrupted or malformed.

    Args:
        message: what is wrong.
        path: the file concerned.
        line: 1-based line number of the offending line, if the error is about one line.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path:
            where = f"{path}, line {line}: " if line else f"{path}: "
        super().__init__(where + message)
