"""The console's side of a private chat: one typed line in, plain text out, no Telegram.

It does what the private chat does for a customer — the intake (`dialogs.intake_service.IntakeService`),
`/new`, `/cancel`, `/status`, `/my`, `/help`, `/lang` — on the configured database, so its tickets are
real. Buttons become numbered choices (typing the number presses the button), and only buttons the
console can act on are shown; chat texts that name what a terminal lacks (the share-phone button,
sending files) are replaced by the console's own (`console.instead.*` in the catalogs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.database import location
from bot.handlers.update import storable_text
from bot.intake_offers import offer_providers
from dialogs.intake import Action, UserInput
from dialogs.intake_service import IntakeService, Reply, Result
from helpdesk import callbacks, tickets, views
from helpdesk.i18n import LANGUAGES, catalog, t, to_plain
from helpdesk.people import Person, customer_display_name, customer_language, ensure_customer
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import Customer

_INSTEAD = "console.instead."
_MENU = {"new": "/new", "my": "/my", "help": "/help"}


@dataclass(frozen=True)
class Pick:
    """What typing a choice's number does: `answer` an intake button, `say` a reply-keyboard label as
    text, run a console `command` line, or show the status of a `ticket` (by id)."""

    kind: str
    value: str


class ConsoleChat:
    """One console customer talking to the desk; `say` answers a line with the text to print."""

    def __init__(self, db: Database, policy: DeskPolicy, triage: Any, user_id: int, lang: str | None) -> None:
        self.db = db
        self.policy = policy
        self.triage = triage
        self.person = Person(user_id=user_id, chat_id=user_id, first_name="Console", language_code=lang)
        self.chosen_lang = lang
        self.lang = lang or policy.default_language
        self.where = location(db.url)  # for the line that says where a ticket is stored
        self.picks: list[Pick] = []
        self.token: str | None = None  # the open question's token (stale-button check)
        self.step: str | None = None  # the open question's step

    async def welcome(self) -> str:
        """The start of the chat: the open request's current question, or the welcome with the menu."""
        async with self.db.session() as session:
            customer, service = await self._begin(session)
            note = t(self.lang, "console.welcome_note")
            current = await service.current()
            if current is not None:
                return self._render(current.replies, before=[note, t(self.lang, "intake.continue_draft")])
            return self._render((await self._welcome_result(session, customer)).replies, after=[note])

    async def say(self, line: str) -> str:
        """Answer one typed line (a number presses the choice shown with it)."""
        text = storable_text(line).strip()  # a NUL piped in is stored like one sent through Telegram
        if not text:
            return ""
        pick = self._pick(text)
        async with self.db.session() as session:
            customer, service = await self._begin(session)
            if pick is not None and pick.kind == "command":
                text, pick = pick.value, None
            file = _file_at(text) if self.step == "attachments" else None  # a path typed, or dropped in
            if pick is not None:
                result = await self._press(session, customer, service, pick)
            elif file is not None:
                result = await self._attach_file(service, file)
            elif text.startswith("/"):
                result = await self._command(session, customer, service, text)
            else:
                result = await self._message(service, text)
        return self._render(result.replies, ticket=result.ticket)

    async def farewell(self) -> str:
        """What is said on leaving: whether an unfinished request waits for next time."""
        async with self.db.read() as session:
            _, service = await self._begin(session)
            draft = await service.has_draft()
        return t(self.lang, "console.bye_draft" if draft else "console.bye")

    # -- what a line does ------------------------------------------------------------------------------

    async def _begin(self, session: AsyncSession) -> tuple[Customer, IntakeService]:
        customer = await ensure_customer(session, self.person)
        if self.chosen_lang and customer.language != self.chosen_lang:
            customer.language = self.chosen_lang
        self.lang = customer_language(customer, self.policy.default_language)
        offers = offer_providers(self.policy, self.triage)  # as in the chat
        return customer, IntakeService(session, customer, self.lang, self.triage, self.policy, offers=offers)

    async def _message(self, service: IntakeService, text: str) -> Result:
        """Free text: the open question's answer, or the start of a new request."""
        return await service.handle(UserInput.of_text(text)) or await service.start(description=text)

    async def _press(self, session: AsyncSession, customer: Customer, service: IntakeService, pick: Pick) -> Result:
        if pick.kind == "ticket":
            ticket = await tickets.ticket_for_customer(session, customer, int(pick.value))
            if ticket is None:
                return Result([Reply(t(self.lang, "status.not_found", number="?"))])
            shown = await self._status_of(session, ticket, "?")
            return Result([*shown.replies, *await service.reminder()])
        event = (
            UserInput.of_choice(pick.value, self.token or "")
            if pick.kind == "answer"
            else UserInput.of_text(pick.value)
        )
        return await service.handle(event) or await self._welcome_result(session, customer)

    async def _command(self, session: AsyncSession, customer: Customer, service: IntakeService, text: str) -> Result:
        command, _, arg = text.partition(" ")
        command, arg = command.lower(), arg.strip()
        if command == "/start":
            return await self._welcome_result(session, customer)
        if command == "/new":
            return await service.start()
        if command == "/cancel":
            return await service.cancel()
        if command in ("/help", "/my", "/status"):  # answered, then the open form's question again
            answer = await self._side_command(session, customer, command, arg)
            return Result([*answer.replies, *await service.reminder()])
        if command == "/lang":
            return await self._language(session, customer, arg)
        if command in ("/back", "/skip") and await service.has_draft():
            value = Action.BACK if command == "/back" else Action.SKIP
            return await service.handle(UserInput.of_choice(value, self.token or "")) or Result([])
        if command == "/attach":
            return await self._attach(service, arg)
        unknown = t(self.lang, "errors.unknown_command")
        current = await service.current()
        if current is None:
            return Result([Reply(unknown)])
        first, *rest = current.replies
        return Result([Reply(unknown + "\n\n" + first.text, prompt=first.prompt, buttons=first.buttons), *rest])

    async def _side_command(self, session: AsyncSession, customer: Customer, command: str, arg: str) -> Result:
        """/help, /my, /status: answered without touching the open form."""
        if command == "/help":
            return Result([Reply(t(self.lang, "help.customer") + t(self.lang, "console.help"))])
        if command == "/my":
            open_, closed = await tickets.customer_tickets(session, customer, self.policy)
            listing, buttons = views.my_list(self.lang, open_, closed)
            return Result([Reply(listing, buttons=buttons)])
        if not arg:
            return Result([Reply(t(self.lang, "status.usage"))])
        return await self._status_of(session, await tickets.status_for_customer(session, customer, arg), arg[:40])

    async def _welcome_result(self, session: AsyncSession, customer: Customer) -> Result:
        known = await tickets.customer_tickets(session, customer, self.policy)
        key = "start.welcome_back" if any(known) else "start.welcome"
        return Result([Reply(t(self.lang, key, name=customer_display_name(customer)), buttons=self._menu())])

    async def _status_of(self, session: AsyncSession, ticket: Any, number: str) -> Result:
        """A customer's own ticket; anyone else's number reads exactly like an unknown one."""
        if ticket is None:
            return Result([Reply(views.status_not_found(self.lang, number))])
        text = await views.status_text(session, ticket, self.lang)
        return Result([Reply(text, buttons=views.status_button(ticket, self.lang))])

    async def _language(self, session: AsyncSession, customer: Customer, wanted: str) -> Result:
        code = wanted.lower()[:2]
        if code not in LANGUAGES:
            buttons = [[(t(c, "lang.name"), callbacks.make(callbacks.LANG, c)) for c in LANGUAGES]]
            return Result([Reply(t(self.lang, "lang.prompt"), buttons=buttons)])
        customer.language = self.chosen_lang = self.lang = code
        offers = offer_providers(self.policy, self.triage)
        current = await IntakeService(session, customer, code, self.triage, self.policy, offers=offers).current()
        return Result([Reply(t(code, "lang.changed")), *(current.replies if current else [])])

    async def _attach(self, service: IntakeService, arg: str) -> Result:
        if not arg:
            return Result([Reply(t(self.lang, "console.attach_usage"))])
        file = _file_at(arg)
        if file is None:
            return Result([Reply(t(self.lang, "console.no_file", path=arg[:200]))])
        return await self._attach_file(service, file)

    async def _attach_file(self, service: IntakeService, file: dict[str, Any]) -> Result:
        """A file sent: the answer to the open question, or the start of a new request (as in the chat)."""
        sent = UserInput.of_file(file)
        return await service.handle(sent) or await service.start(file=sent)

    # -- what is printed -------------------------------------------------------------------------------

    def _menu(self) -> list[list[tuple[str, str]]]:
        return [
            [(t(self.lang, f"button.{action}"), callbacks.make(callbacks.MENU, action))]
            for action in ("new", "my", "help")
        ]

    def _pick(self, text: str) -> Pick | None:
        if text.isdigit() and 1 <= int(text) <= len(self.picks):
            return self.picks[int(text) - 1]
        return None

    def _render(
        self, replies: list[Reply], *, before: Sequence[str] = (), after: Sequence[str] = (), ticket: Any = None
    ) -> str:
        """Replies as plain text, their buttons numbered; the choices replace the previous ones."""
        self.picks = []
        self.token = self.step = None
        blocks = [to_plain(text) for text in before]
        for reply in replies:
            lines = [to_plain(self._console_text(reply.text))]  # texts are Telegram HTML; labels plain text
            for label, pick in self._choices(reply):
                self.picks.append(pick)
                lines.append(f"  [{len(self.picks)}] {label}")
            blocks.append("\n".join(lines))
            if reply.prompt is not None:
                self.token, self.step = reply.prompt.token, reply.prompt.step
        if ticket is not None:
            blocks.append(to_plain(t(self.lang, "console.stored", number=ticket.number, database=self.where)))
        blocks.extend(to_plain(text) for text in after)
        return "\n\n".join(block for block in blocks if block.strip()) + "\n"

    def _choices(self, reply: Reply) -> list[tuple[str, Pick]]:
        """The buttons of a reply that the console can press, each with what pressing it does."""
        out: list[tuple[str, Pick]] = []
        if reply.prompt is not None:
            out += [(c.label, Pick("answer", c.value)) for row in reply.prompt.choices for c in row]
            out += [(label, Pick("say", label)) for label in reply.prompt.reply_labels]
        for row in reply.buttons or []:
            for label, data in row:
                parsed = callbacks.parse(data)
                if parsed is None or not parsed.args:
                    continue
                if parsed.prefix == callbacks.MENU and parsed.args[0] in _MENU:
                    out.append((label, Pick("command", _MENU[parsed.args[0]])))
                elif parsed.prefix == callbacks.LANG:
                    out.append((label, Pick("command", f"/lang {parsed.args[0]}")))
                elif parsed.prefix == callbacks.STATUS:
                    out.append((label, Pick("ticket", parsed.args[0])))
        return out

    def _console_text(self, text: str) -> str:
        """The chat's text, with what names Telegram's own things said the console's way."""
        for key in _instead_keys(self.lang):
            chat = t(self.lang, key.removeprefix(_INSTEAD))
            if chat in text:
                text = text.replace(chat, t(self.lang, key))
        return text


def _instead_keys(lang: str) -> list[str]:
    return [key for key in catalog(lang) if key.startswith(_INSTEAD)]


def _file_at(text: str) -> dict[str, Any] | None:
    """A readable file at the typed path, as the intake takes a document; None for anything else
    (a line of any length or script is never an error here)."""
    try:
        path = Path(text).expanduser()
        if not path.is_file():
            return None
        size = path.stat().st_size
        resolved = path.resolve()
    except (OSError, ValueError):  # too long for a file name, a NUL byte, no permission
        return None
    return {"kind": "document", "file_id": f"console:{resolved}", "file_name": path.name, "file_size": size}
