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


#: file kinds that are someone speaking: a file to keep, never an answer to a question that needs words
SPOKEN_KINDS = frozenset({"voice", "video_note"})


#: the draft's answers naming the album its last kept file came in, and the last one a step refused
ALBUM_KEY, REFUSED_ALBUM_KEY = "album", "album_refused"


class InputKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"  # an inline button: value + the token of the prompt it was on
    FILE = "file"  # photo, document, video… ; `file` holds its description
    SPOKEN = "spoken"  # a voice or video note: kept where files are, but no words where the form needs text
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
    #: a shared contact card: the name on it, and whether it is the sender's own (else a call-back contact
    #: they give, someone else's: never stored as their phone)
    contact_name: str | None = None
    own_contact: bool = False
    #: the album a file came in (its parts come one by one; see `IntakeDialog.handle`)
    album: str | None = None

    @property
    def contact_given(self) -> str:
        """A shared card as the call-back contact: the customer's own phone as it is, someone else's with
        the name on it (so nobody takes it for the customer's own number)."""
        if self.own_contact:
            return self.phone or ""
        return ", ".join(part for part in (self.contact_name, self.phone) if part)

    @property
    def is_file(self) -> bool:
        """A file of any kind (a spoken one included): something the draft can keep as an attachment."""
        return self.kind in (InputKind.FILE, InputKind.SPOKEN)

    @classmethod
    def of_file(cls, file: dict[str, Any], album: str | None = None) -> UserInput:
        kind = InputKind.SPOKEN if file.get("kind") in SPOKEN_KINDS else InputKind.FILE
        return cls(kind, file=file, album=album)

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

    def continues_album(self, event: UserInput) -> bool:
        """A later part of the album whose first part this draft kept: the same input as that part, whatever
        step the first part moved the draft to (Telegram sends an album's parts one by one). A caption on it
        while the description is still asked for is that description, taken by its own step."""
        if not (event.is_file and event.album and event.album == self.answers.get(ALBUM_KEY)):
            return False
        caption = str((event.file or {}).get("caption") or "")
        return not (self.step == "description" and caption.strip())

    def refuse_album(self, event: UserInput) -> bool:
        """A file the current step does not take, from an album: True for a later part of an album already
        refused (it was answered with its first part); a first part is remembered."""
        if not (event.is_file and event.album):
            return False
        if self.answers.get(REFUSED_ALBUM_KEY) == event.album:
            return True
        self.answers[REFUSED_ALBUM_KEY] = event.album
        return False
