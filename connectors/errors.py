"""One exception tree for everything that touches the outside world, grouped by what the caller does."""

from __future__ import annotations


class CantinesError(Exception):
    """Base class: every error cantines-worker raises on purpose."""


class ConfigurationError(CantinesError):
    """The settings or the environment are wrong: fix them and start again."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class BackendError(CantinesError):
    """A table, mail or state backend failed; the message names what to fix."""


class RetriableBackendError(BackendError):
    """A temporary failure (rate limit, 5xx, connection): trying again later may work."""


class SchemaError(BackendError, KeyError):
    """A table or column the schema needs is missing in the backend."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RowGoneError(BackendError):
    """Rows the worker wrote to were deleted meanwhile (by staff, between its read and its write).

    `ids` are the rows found gone (after reading the table again); `written` how many of the other rows
    of the same write were written. Not a refused value: a row still wanted is created again."""

    def __init__(self, message: str, *, ids: list[str] | tuple[str, ...] = (), written: int = 0):
        super().__init__(message)
        self.ids = list(ids)
        self.written = written


class LockBusyError(CantinesError):
    """Another run holds the run lock."""


class StopRequested(CantinesError):
    """The process was asked to stop (SIGTERM) while it waited: nothing more is started."""


class InvalidValueError(BackendError, ValueError):
    """The backend refused a value the worker sent (an unknown choice, a date it cannot read): fix the data.

    `table`, `column` and `value` say where; the message says it in a sentence staff can act on."""

    def __init__(self, message: str, *, table: str, column: str | None = None, value: object = None):
        super().__init__(message)
        self.table = table
        self.column = column
        self.value = value


class UnknownLinkError(InvalidValueError):
    """A link names a row the linked table does not have; nothing was written (and no row created)."""
