"""What an operator sees when a command cannot do its job: one `error:` line and an exit code.

- exit 2, `ConfigError`: something to fix in the configuration (a setting, a file named on the command
  line). Restarting will not help, so the systemd units do not restart on it (RestartPreventExitStatus=2).
- exit 3, `ServiceUnreachable`: the database or the Bot API cannot be reached now; a restart may help.

`bot.cli.main` is the one place that prints them; everything below it raises. An unexpected exception is
a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import socket
import sqlite3

import asyncpg
from pydantic import ValidationError

#: asyncpg's refusals that a restart cannot cure: fix DATABASE_URL (or create the role or database)
_LOGIN_REFUSED = (
    asyncpg.InvalidAuthorizationSpecificationError,  # no such role, pg_hba refused
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,  # no such database
)
#: asyncpg's "not now": the server is starting, shutting down or full
_SERVER_BUSY = (asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, asyncpg.PostgresConnectionError)
#: an OSError with one of these errnos is the network's (a plain OSError may also be a file's)
_NETWORK_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL})


class OperatorError(Exception):
    """A failure the operator must act on; `str(error)` is the line after `error: `."""

    code = 1

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigError(OperatorError):
    code = 2


class ServiceUnreachable(OperatorError):
    code = 3


def settings_error(exc: ValidationError) -> ConfigError:
    """The first invalid setting by its environment name, with the reason (and which others are wrong)."""
    errors = exc.errors()
    names = [_setting_name(e.get("loc", ())) for e in errors]
    first = errors[0]
    reason = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    line = reason if reason.startswith(names[0]) else f"{names[0]}: {reason}"
    others = [n for n in dict.fromkeys(names) if n != names[0]]
    if others:
        line += f" (also invalid: {', '.join(others)})"
    return ConfigError(line)


def _setting_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc).upper() or "settings"


def database_error(exc: BaseException, where: str) -> OperatorError | None:
    """A failure of the database at `where` (host:port/name or the SQLite file) as the operator's one
    line, or None when it is not about reaching or opening the database."""
    for cause in _chain(exc):
        if isinstance(cause, _LOGIN_REFUSED):
            return ConfigError(f"DATABASE_URL: {where} refused the connection: {cause}")
        if isinstance(cause, _SERVER_BUSY):
            return ServiceUnreachable(f"the database at {where} is not accepting connections: {cause}")
        if isinstance(cause, sqlite3.DatabaseError):
            return ConfigError(f"DATABASE_URL: cannot use the SQLite file {where}: {cause}")
        if isinstance(cause, OSError) and cause.filename is not None:  # a file or directory, not the network
            return ConfigError(f"DATABASE_URL: cannot use {cause.filename}: {cause.strerror or cause}")
        if isinstance(cause, ConnectionError | TimeoutError | socket.gaierror) or (
            isinstance(cause, OSError) and cause.errno in _NETWORK_ERRNOS
        ):
            return ServiceUnreachable(f"cannot reach the database at {where}: {_network_reason(cause)}")
    return None


def _network_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and on this port?)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    return exc.strerror or str(exc) or type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it (SQLAlchemy wraps the driver's error)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return seen
