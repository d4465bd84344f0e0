"""The intake's data: what the customer sends (`UserInput`), what the bot asks (`Prompt`, `Choice`),
and what the draft keeps between messages (`DraftState`).

Kept apart from the engine (dialogs/intake.py) so the steps that plug into it (dialogs/offers.py) share
the same vocabulary without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """Button values with a meaning of their own, valid at any step that shows them."""

    BACK = "back"
    CANCEL = "cancel"
    SKIP = "skip"
    DONE = "done"
    OTHER = "other"
    CONFIRM = "confirm"
    EDIT = "edit"
    SUMMARY = "summary"


class InputKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"  # an inline button: value + the token of the prompt it was on
    FILE = "file"  # photo, document, video… ; `file` holds its description
    CONTACT = "contact"  # a shared phone number
    UNSUPPORTED = "unsupported"  # sticker, voice, location, poll…


@dataclass(frozen=True)
class UserInput:
    kind: InputKind
    text: str = ""
    value: str = ""
    token: str = ""
    file: dict[str, Any] | None = None
    phone: str | None = None

    @classmethod
    def of_text(cls, text: str) -> UserInput:
        return cls(InputKind.TEXT, text=text)

    @classmethod
    def of_choice(cls, value: str, token: str) -> UserInput:
        return cls(InputKind.CHOICE, value=value, token=token)


@dataclass(frozen=True)
class Choice:
    """A button: `value` travels in the button's data (no ':' in it), `label` is what people read."""

    value: str
    label: str


@dataclass(frozen=True)
class Prompt:
    """A question as data: HTML text, inline choices (rows), and an optional share-phone keyboard."""

    step: str
    token: str
    text: str
    choices: tuple[tuple[Choice, ...], ...] = ()
    share_phone_label: str | None = None  # render a reply keyboard asking for the contact
    reply_labels: tuple[str, ...] = ()  # extra reply-keyboard buttons that send their label as text


@dataclass
class DraftState:
    """Everything the conversation has collected so far (stored in the database after each step)."""

    step: str
    token: str
    answers: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    editing: bool = False
