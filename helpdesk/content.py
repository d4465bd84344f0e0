"""What someone wrote on a ticket (an agent's reply, a customer's answer): its text, or a file.

One model for both directions, so an agent's reply and a customer's answer are relayed and recorded the
same way: whole. Nothing here cuts words to size: delivery (`scheduler/delivery/calls.py`) splits a text
over Telegram's 4096 and a caption over 1024 characters into parts, so a message that carries someone's
words (a reply, an answer, a report, a comment) reaches its reader as written, and is stored so. Only
summaries (a card, a queue line, a button label) are shortened, visibly, with "…".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpdesk.i18n import Safe

#: files Telegram shows without a caption
CAPTIONLESS_KINDS = frozenset({"video_note"})


@dataclass(frozen=True)
class Content:
    """A message an agent or a customer wrote: its text, or a file (as `bot.inputs.file_of` describes it)."""

    text: str | None = None
    file: dict[str, Any] | None = None
    chat_id: int | None = None
    message_id: int | None = None
    #: the text (or caption) as Telegram HTML when the writer formatted it (bold, links…): the transport
    #: renders it from the message's entities, user text escaped; relayed as is so the formatting stays
    html: str | None = None
    #: the album it is one part of (Telegram sends each part as a message of its own)
    album: str | None = None

    @property
    def words(self) -> str:
        """The text, or the file's caption."""
        return (self.text if self.text is not None else (self.file or {}).get("caption") or "").strip()

    @property
    def is_empty(self) -> bool:
        return self.file is None and not self.words

    @property
    def shows_caption(self) -> bool:
        """Not a file Telegram shows without a caption (a video note): a header can go on it."""
        return (self.file or {}).get("kind") not in CAPTIONLESS_KINDS

    @property
    def is_copyable_file(self) -> bool:
        """A file still in the writer's chat, so it can be copied rather than described."""
        return self.file is not None and self.chat_id is not None and self.message_id is not None

    def as_data(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "file": self.file,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "html": self.html,
            "album": self.album,
        }

    @classmethod
    def of_data(cls, data: dict[str, Any]) -> Content:
        return cls(
            data.get("text"), data.get("file"), data.get("chat_id"), data.get("message_id"), data.get("html"),
            album=data.get("album"),
        )  # fmt: skip

    def formatted(self) -> str:
        """The words for a message to the customer, whole: with the writer's formatting when there is any
        (a message delivery must split goes as plain text parts, every word kept)."""
        if self.html and self.html.strip():
            return Safe(self.html.strip())
        return self.words
