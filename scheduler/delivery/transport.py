"""How delivery talks to the messenger, without knowing which library does it.

The bot layer supplies the Transport (`bot/api_transport.py`: `ApiTransport`, JSON over the runtime's HTTP
session); tests and benchmarks supply their own. A transport maps Telegram's answers to these errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class SendError(Exception):
    """A send that did not go through."""


class RetryLater(SendError):
    """429: the messenger asks us to wait `retry_after` seconds."""

    def __init__(self, retry_after: float, description: str = "Too Many Requests") -> None:
        super().__init__(description)
        self.retry_after = retry_after


class Transient(SendError):
    """5xx, timeouts, connection errors: worth retrying with backoff."""


class Unreachable(SendError):
    """403: the user blocked the bot or the bot was removed from the chat."""


class Rejected(SendError):
    """400 and friends: the request itself is wrong; `description` says why."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class FileUpload:
    """A parameter whose value is a file to upload (a generated chart or CSV): the call goes as a
    multipart form, this part with its file name and type, the other parameters as form fields."""

    filename: str
    data: bytes
    mime_type: str

    def __repr__(self) -> str:  # never the bytes in a log line
        return f"FileUpload({self.filename!r}, {len(self.data)} bytes, {self.mime_type!r})"


class Transport(Protocol):
    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        """Call a Bot API method; returns the decoded `result` (a message dict, a message-id dict, True).
        A `FileUpload` value in `payload` is uploaded (multipart/form-data)."""
        ...
