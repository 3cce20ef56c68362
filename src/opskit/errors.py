"""Errors that tell the user what went wrong, where, and what to do.

Fields are attributes so that callers and tests can read them without parsing the message.
The CLI prints ``error:`` and ``hint:`` lines and exits 2 for any :class:`OpskitError`.
"""

from __future__ import annotations

from pathlib import Path


class OpskitError(Exception):
    """Base class: a message for the user and an optional hint on what to do next."""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class InputError(OpskitError):
    """Bad input data: names the file, the line and the column when they are known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ):
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        where = self.path or ""
        if line is not None:
            where += f":{line}"
        if column is not None:
            where += f" column {column!r}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.reason = message


class ParameterError(OpskitError):
    """A runbook parameter that is unknown, missing or of the wrong type."""

    def __init__(self, message: str, *, name: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.name = name


class RunbookNotFoundError(OpskitError):
    """No runbook of that name in the runbook directories."""


class MissingDependencyError(OpskitError):
    """An optional package is needed for this feature; says which extra installs it."""

    def __init__(self, package: str, *, extra: str | None = None, feature: str | None = None):
        what = f" for {feature}" if feature else ""
        hint = f"pip install 'opskit[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{package} is not installed{what}", hint=hint)
        self.package = package
        self.extra = extra
