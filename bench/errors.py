"""User-facing errors.

Anything a user can cause (a typo in a suite, a missing dataset, a bad flag) raises `BenchError`.
The CLI prints its message without a traceback and exits with status 2. Bugs stay ordinary
exceptions so that they keep their tracebacks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """An error caused by the user's input; printed without a traceback, exit status 2."""

    exit_code = 2


class ConfigError(BenchError):
    """A problem at a known place in a configuration file: `<file>: <key.path>: <message>`."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file, self.key, self.detail = file, key, message
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)

    def located(self, file: str) -> ConfigError:
        """The same error, attributed to `file` if it has no file yet."""
        return self if self.file else ConfigError(self.detail, file=file, key=self.key)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choices, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> str:
    """The standard message for a name that is not registered."""
    choices = sorted(choices)
    return f"unknown {kind} {name!r}{did_you_mean(name, choices)}; valid: {', '.join(choices)}"
