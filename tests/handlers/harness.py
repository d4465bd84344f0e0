"""The desk in-process: updates go into the real inbox and handler layer, answers come out of the outbox.

No bot process, no HTTP, no sleeps. A `Desk` runs the product's `UpdateInbox` (batches, transactions)
with a runtime's delivery into the handler layer, on a real migrated database, and the product's
outbox delivery into a `Telegram` stand-in that records every call and numbers messages per chat, so
replies to the bot's messages link back to tickets exactly as in production. Each action of a `Person`
(send, press, reply, edit) returns once everything it caused has settled:

    ann = desk.person(501, "Ann")
    await ann.send("/start")
    await ann.press(ann.last, "New request")
    assert "Describe" in ann.last.text
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest

from bot.app import delivery_hooks
from bot.handlers.context import ButtonAnswers
from bot.handlers.routes import build_dispatch
from bot.handlers.routing import Dispatch
from bot.inbox import UpdateInbox
from helpdesk.policy import DeskPolicy
from scheduler.delivery import DeliveryLimits, OutboxDelivery
from scheduler.delivery.transport import Rejected, Unreachable
from storage.db import Database
from storage.outbox_rows import bell
from tests.support.botapi import HtmlParseError, parse_html

STAFF = -100123
AGENTS = (7001, 7002)
BOT_USERNAME = "intake_test_bot"
RELAXED = DeliveryLimits(per_second=1_000_000, private_interval=0, group_per_minute=1_000_000)
MEDIA = ("photo", "document", "video", "audio", "animation", "voice", "sticker", "video_note")


@dataclass
class Sent:
    """A message in a chat, as Telegram shows it now (edits applied)."""

    chat_id: int
    message_id: int
    text: str = ""  # as the person reads it (HTML rendered to plain text)
    html: str = ""  # as the bot sent it
    kind: str = "text"
    keyboard: list[list[dict[str, Any]]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    thread_id: int | None = None
    from_bot: bool = True
    edits: int = 0

    @property
    def buttons(self) -> list[str]:
        return [button["text"] for row in self.keyboard for button in row]

    def data_of(self, label: str) -> str:
        for row in self.keyboard:
            for button in row:
                if button["text"] == label:
                    return str(button.get("callback_data"))
        raise AssertionError(f"no button {label!r} on {self.text[:80]!r}; buttons: {self.buttons}")


class Chat:
    """One chat's messages, numbered as Telegram numbers them (one sequence for both sides)."""

    def __init__(self, chat_id: int, chat_type: str) -> None:
        self.id = chat_id
        self.type = chat_type
        self.messages: dict[int, Sent] = {}
        self._ids = itertools.count(1)
        self._seen = 0  # messages from the bot already returned by `new()`

    def take_id(self) -> int:
        return next(self._ids)

    @property
    def from_bot(self) -> list[Sent]:
        return [m for m in self.messages.values() if m.from_bot]

    @property
    def last(self) -> Sent:
        sent = self.from_bot
        assert sent, f"the bot wrote nothing in chat {self.id}"
        return sent[-1]

    def new(self) -> list[Sent]:
        """The bot's messages since the last call."""
        sent = self.from_bot
        fresh, self._seen = sent[self._seen :], len(sent)
        return fresh

    def find(self, fragment: str) -> Sent:
        """The latest message of the bot containing `fragment`."""
        for message in reversed(self.from_bot):
            if fragment in message.text:
                return message
        texts = "\n---\n".join(m.text[:200] for m in self.from_bot[-6:])
        raise AssertionError(f"no message with {fragment!r} in chat {self.id}; last ones:\n{texts}")

    def texts(self) -> list[str]:
        return [m.text for m in self.from_bot]


class Telegram:
    """What delivery and the runtime call: records each call, answers as the Bot API would."""

    def __init__(self) -> None:
        self.chats: dict[int, Chat] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.button_answers: dict[str, dict[str, Any]] = {}
        self.markup_errors: list[str] = []  # HTML that Telegram would refuse; `Desk.settle` fails the test
        self.refusing: set[int] = set()  # private chats that answer 403 (never pressed Start, or blocked)
        self._topics = itertools.count(500)

    def chat(self, chat_id: int, chat_type: str | None = None) -> Chat:
        if chat_id not in self.chats:  # people's ids are positive, groups' negative
            self.chats[chat_id] = Chat(chat_id, chat_type or ("private" if chat_id > 0 else "supergroup"))
        return self.chats[chat_id]

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        self.calls.append((method, payload))
        if int(payload.get("chat_id") or 0) in self.refusing:
            raise Unreachable("Forbidden: bot can't initiate conversation with a user")
        try:
            return self._answer(method, payload)
        except HtmlParseError as error:  # refused as Telegram refuses it; delivery's fallback must not hide it
            self.markup_errors.append(f"{method}: {error}: {str(payload.get('text') or payload.get('caption'))[:200]}")
            raise Rejected(f"Bad Request: can't parse entities: {error}") from error

    def _answer(self, method: str, payload: dict[str, Any]) -> Any:
        chat = self.chat(int(payload["chat_id"])) if "chat_id" in payload else None
        if method in ("editMessageText", "editMessageReplyMarkup", "editMessageCaption") and chat is not None:
            message = chat.messages[int(payload["message_id"])]
            if "text" in payload:
                message.html, message.text = _shown(payload, "text")
            message.keyboard = (payload.get("reply_markup") or {}).get("inline_keyboard", [])
            message.edits += 1
            return {"message_id": message.message_id, "chat": {"id": chat.id}, "date": 1}
        if method == "createForumTopic":
            return {"message_thread_id": next(self._topics), "name": payload.get("name")}
        if chat is None:
            return True
        kind = next((k for k in MEDIA if k in payload), "copy" if method == "copyMessage" else "text")
        markup = payload.get("reply_markup") or {}
        html, text = _shown(payload, "text" if "text" in payload else "caption")
        message = Sent(
            chat_id=chat.id,
            message_id=chat.take_id(),
            text=text,
            html=html,
            kind=kind,
            keyboard=markup.get("inline_keyboard", []),
            reply_markup=markup or None,
            reply_to=(payload.get("reply_parameters") or {}).get("message_id") or payload.get("reply_to_message_id"),
            thread_id=payload.get("message_thread_id"),
        )
        chat.messages[message.message_id] = message
        return {"message_id": message.message_id, "chat": {"id": chat.id}, "date": 1}

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
        self.button_answers[query_id] = {"text": text, "show_alert": alert}


def _shown(payload: dict[str, Any], key: str) -> tuple[str, str]:
    """(as sent, as shown): HTML is parsed as Telegram parses it (the Bot API stand-in's strict parser):
    shown without its tags, entities unescaped; markup Telegram would refuse raises `HtmlParseError`."""
    sent = str(payload.get(key) or "")
    return sent, (parse_html(sent)[0] if payload.get("parse_mode") == "HTML" else sent)


class Desk:
    """The bot in-process: inbox → runtime → handler layer → outbox → delivery → `Telegram`."""

    def __init__(self, db: Database, deliver_to: Any, answers: ButtonAnswers | None, triage: Any) -> None:
        self.db = db
        bell.reset()  # the outbox's wake-up call belongs to one event loop: this test's
        self.policy = DeskPolicy(agent_ids=frozenset(AGENTS), staff_chat_id=STAFF)
        self.telegram = Telegram()
        self.parking_expected = False  # a test that makes a handler fail on purpose sets it
        self._deliver_to, self._answers, self._triage = deliver_to, answers, triage
        self.restart()
        self.staff = self.telegram.chat(STAFF, "supergroup")
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self.people: dict[int, Person] = {}

    def restart(self) -> None:
        """A new process on the same database: a fresh inbox, handler layer and delivery (Telegram keeps
        what it has: the chats, and updates not yet confirmed come again)."""
        self.dispatch: Dispatch = build_dispatch(BOT_USERNAME)
        answers = self._answers or self.telegram
        deliver = self._deliver_to(self.dispatch)
        self.inbox = UpdateInbox(self.db, deliver, answers, self.policy, self._triage, retry_delays=(0.0,))
        self.delivery = OutboxDelivery(self.db, self.telegram, RELAXED, hooks=delivery_hooks(self.policy))

    def card(self, number: str) -> Sent:
        """The ticket's card in the staff chat (as it reads now)."""
        for message in self.staff.from_bot:
            if number in message.text and "📄 Details" in message.buttons:
                return message
        raise AssertionError(f"no card for {number} in the staff chat: {self.staff.texts()[-5:]}")

    def person(self, user_id: int, name: str, *, lang: str = "en", username: str | None = None) -> Person:
        if user_id not in self.people:
            self.people[user_id] = Person(self, user_id, name, lang, username)
        return self.people[user_id]

    def agent(self, user_id: int = AGENTS[0]) -> Person:
        return self.person(user_id, f"Agent{AGENTS.index(user_id) + 1}", username=f"agent{AGENTS.index(user_id) + 1}")

    async def feed(self, kind: str, body: dict[str, Any]) -> None:
        """One update through the inbox (stored, handled in a batch), then delivery until the outbox is empty."""
        await self.inbox.store([{"update_id": next(self._update_ids), kind: body}])
        await self.settle()

    async def settle(self) -> None:
        assert await self.inbox.idle(30), "the inbox did not drain"
        await self.delivery.drain(30, until_empty=True)
        parked = self.inbox.stats.parked
        assert parked == 0 or self.parking_expected, f"{parked} update(s) parked: a handler failed (see the log)"
        assert not self.telegram.markup_errors, f"Telegram would refuse this HTML: {self.telegram.markup_errors}"


class Person:
    """Someone talking to the bot: in their private chat, or in a group (`chat=`)."""

    def __init__(self, desk: Desk, user_id: int, name: str, lang: str, username: str | None) -> None:
        self.desk = desk
        self.id = user_id
        self.name = name
        self.data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name, "language_code": lang}
        if username:
            self.data["username"] = username
        self.chat = desk.telegram.chat(user_id)

    @property
    def last(self) -> Sent:
        """The bot's latest message in this person's private chat."""
        return self.chat.last

    def new(self) -> list[Sent]:
        return self.chat.new()

    def _chat_json(self, chat: Chat) -> dict[str, Any]:
        if chat.type == "private":
            return {"id": chat.id, "type": "private", "first_name": self.name}
        return {"id": chat.id, "type": chat.type, "title": "Support staff"}

    async def write(
        self,
        fields: dict[str, Any],
        *,
        chat: int | None = None,
        reply_to: Sent | int | None = None,
        topic: int | None = None,
    ) -> Sent:
        """A message with any fields (text, photo, sticker…); returns it as the chat shows it. `topic`: written
        in that forum topic (as Telegram sends it: a reply to the topic's first message)."""
        where = self.desk.telegram.chat(chat if chat is not None else self.id)
        message = Sent(
            where.id, where.take_id(), str(fields.get("text") or fields.get("caption") or ""), from_bot=False
        )
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": self._chat_json(where),
            "from": dict(self.data),
            **fields,
        }
        if topic is not None:
            message.thread_id = topic
            body["message_thread_id"], body["is_topic_message"] = topic, True
            body["reply_to_message"] = {"message_id": topic, "chat": body["chat"], "date": 1}
        if reply_to is not None:
            replied = reply_to if isinstance(reply_to, Sent) else where.messages[int(reply_to)]
            message.reply_to = replied.message_id
            body["reply_to_message"] = {"message_id": replied.message_id, "chat": body["chat"], "date": 1}
            if replied.thread_id is not None:
                message.thread_id = replied.thread_id
                body["message_thread_id"], body["is_topic_message"] = replied.thread_id, True
        where.messages[message.message_id] = message
        await self.desk.feed("message", body)
        return message

    async def send(self, text: str, **where: Any) -> Sent:
        return await self.write({"text": text}, **where)

    async def send_in(self, chat: int, text: str, **where: Any) -> Sent:
        return await self.write({"text": text}, chat=chat, **where)

    async def reply(self, to: Sent, text: str) -> Sent:
        """A Telegram reply, in the chat of the message replied to."""
        return await self.write({"text": text}, chat=to.chat_id, reply_to=to)

    async def send_photo(
        self, caption: str | None = None, *, file_id: str = "photo-1", album: str | None = None, **where: Any
    ) -> Sent:
        """A photo; `album`: the media_group_id of the album it is one part of."""
        size = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 90, "height": 90, "file_size": 1000}
        fields: dict[str, Any] = {"photo": [size], **({"caption": caption} if caption else {})}
        if album is not None:
            fields["media_group_id"] = album
        return await self.write(fields, **where)

    async def send_album(self, count: int, caption: str | None = None, *, album: str = "album-1") -> list[Sent]:
        """An album of photos as Telegram delivers it: one update per part, the caption on the first."""
        return [
            await self.send_photo(caption if index == 0 else None, file_id=f"{album}-{index}", album=album)
            for index in range(count)
        ]

    async def send_media(self, kind: str, *, file_id: str, caption: str | None = None, **where: Any) -> Sent:
        """A voice note, a video note, an audio, a document… (`kind`: the Bot API's field for it)."""
        media: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "duration": 2}
        return await self.write({kind: media, **({"caption": caption} if caption else {})}, **where)

    async def edit(self, message: Sent, text: str) -> None:
        where = self.desk.telegram.chat(message.chat_id)
        message.text = text
        body = {
            "message_id": message.message_id,
            "date": 1,
            "edit_date": int(time.time()),
            "chat": self._chat_json(where),
            "from": dict(self.data),
            "text": text,
        }
        if message.thread_id is not None:
            body["message_thread_id"], body["is_topic_message"] = message.thread_id, True
        await self.desk.feed("edited_message", body)

    async def press(self, message: Sent, label: str) -> dict[str, Any]:
        """Press a button by its label; returns the bot's answer to the press (text, show_alert)."""
        return await self.press_data(message, message.data_of(label))

    async def press_data(self, message: Sent, data: str) -> dict[str, Any]:
        """Press with any data (forged, outdated); returns the answer to the press."""
        query_id = f"q{next(self.desk._query_ids)}"
        where = self.desk.telegram.chat(message.chat_id)
        body = {
            "id": query_id,
            "from": dict(self.data),
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": message.message_id,
                "date": 1,
                "chat": self._chat_json(where),
                "text": message.text,
            },
        }
        await self.desk.feed("callback_query", body)
        answer = self.desk.telegram.button_answers.get(query_id)
        assert answer is not None, f"the press of {data!r} was never answered (the button would spin)"
        return answer

    async def blocks_the_bot(self, *, blocked: bool = True) -> None:
        status = "kicked" if blocked else "member"
        body = {
            "chat": self._chat_json(self.chat),
            "from": dict(self.data),
            "date": int(time.time()),
            "old_chat_member": {"status": "member" if blocked else "kicked", "user": {"id": 1, "is_bot": True}},
            "new_chat_member": {"status": status, "user": {"id": 1, "is_bot": True}},
        }
        await self.desk.feed("my_chat_member", body)


class LocalRequest(BaseRequest):
    """python-telegram-bot's HTTP client, in-process: getMe answers; nothing else is called in this tier."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: Any = None, **_timeouts: Any) -> tuple[int, bytes]:
        result: Any = True
        if url.endswith("/getMe"):
            result = {"id": 1, "is_bot": True, "first_name": "Desk", "username": BOT_USERNAME}
        return 200, json.dumps({"ok": True, "result": result}).encode()
