"""The intake conversation: from a customer's first words to a confirmed request.

Steps are data (question, expected input, validation, buttons); `IntakeDialog.handle` is a pure
function of the draft and one input, so the Telegram bot, the console chat and the tests drive the
very same conversation, and the draft can be stored after every step. Between the first description
and the form, offers may come first (dialogs/offers.py: a known outage, self-help articles).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from dialogs.form_data import ALBUM_KEY, Action, Choice, DraftState, InputKind, Prompt, UserInput
from dialogs.intake_summary import summary_text
from dialogs.offers import QUEUE_KEY, OfferEvent, OfferStep, Verdict
from dialogs.services import suggested_services
from dialogs.small_talk_answers import small_talk_answer
from helpdesk.i18n import t
from helpdesk.small_talk import small_talk
from helpdesk.tickets import DESCRIPTION_MAX_CHARS
from helpdesk.vocabulary import Category, Impact, TicketType, Urgency

DESCRIPTION_MIN_CHARS = 5
SERVICE_MAX_CHARS = 100
CONTACT_MAX_CHARS = 200
MAX_ATTACHMENTS = 20

#: categories that need no "who is affected" / "how much it blocks" questions
NO_IMPACT_QUESTIONS = frozenset({Category.CONSULTATION, Category.INFORMATION})


__all__ = ["Action", "Choice", "DraftState", "InputKind", "IntakeDialog", "Outcome", "Prompt", "Turn", "UserInput"]


class Outcome(StrEnum):
    ASK = "ask"  # show `messages`, then `notes` with `prompt`
    CONFIRMED = "confirmed"  # register the ticket from the draft
    CANCELLED = "cancelled"
    SETTLED = "settled"  # an offer before the form answered the customer: nothing to register


@dataclass
class Turn:
    outcome: Outcome
    draft: DraftState
    prompt: Prompt | None = None
    notes: list[str] = field(default_factory=list)
    stale: bool = False  # the input was a button from an older message
    receipt: bool = False  # only acknowledges a file: may replace an unsent acknowledgement
    quiet: bool = False  # the input joined one already answered (an album's later part): nothing to say
    messages: list[str] = field(default_factory=list)  # whole messages before the question (an article)
    events: list[OfferEvent] = field(default_factory=list)  # what was done with an offer, to record


class TriageLike(Protocol):
    def classify(
        self,
        text: str,
        *,
        impact: Impact | None = None,
        urgency: Urgency | None = None,
        ticket_type: TicketType | None = None,
        category: Category | None = None,
    ) -> Any: ...

    def is_doubtful(self, result: Any) -> bool: ...


# ----------------------------------------------------------------------------------------------------
# Steps as data


@dataclass(frozen=True)
class Step:
    """One question of the form.

    `applies` says whether the step is asked for this draft; `choices` builds the buttons;
    `expects` lists the input kinds the step takes; the engine handles Back, Cancel and stale buttons.
    """

    name: str
    expects: frozenset[InputKind]
    applies: Callable[[DraftState], bool] = lambda _d: True
    can_skip: bool = False
    entered_explicitly: bool = False  # not part of the forward sequence (sub-steps)


def _category(draft: DraftState) -> Category | None:
    value = draft.answers.get("category")
    return Category(value) if value else None


def _needs_impact(draft: DraftState) -> bool:
    return _category(draft) not in NO_IMPACT_QUESTIONS


STEPS: tuple[Step, ...] = (
    Step("description", frozenset({InputKind.TEXT, InputKind.FILE})),
    Step("offer", frozenset({InputKind.CHOICE, InputKind.FILE}), applies=lambda d: bool(d.answers.get(QUEUE_KEY))),
    Step("doubt", frozenset({InputKind.CHOICE}), applies=lambda d: bool(d.answers.get("doubtful"))),
    Step("service", frozenset({InputKind.CHOICE, InputKind.TEXT})),
    Step("service_other", frozenset({InputKind.TEXT}), entered_explicitly=True),
    Step("impact", frozenset({InputKind.CHOICE}), applies=_needs_impact),
    Step("urgency", frozenset({InputKind.CHOICE}), applies=_needs_impact),
    Step("attachments", frozenset({InputKind.FILE, InputKind.SPOKEN, InputKind.CHOICE}), can_skip=True),
    Step("contact", frozenset({InputKind.CONTACT, InputKind.TEXT, InputKind.CHOICE}), can_skip=True),
    Step("summary", frozenset({InputKind.CHOICE})),
    Step("edit", frozenset({InputKind.CHOICE}), entered_explicitly=True),
)
STEP_BY_NAME = {step.name: step for step in STEPS}
FORWARD = [step.name for step in STEPS if not step.entered_explicitly]
EDITABLE_FIELDS = ("description", "service", "impact", "urgency", "attachments", "contact")


def new_token() -> str:
    return secrets.token_hex(3)


class IntakeDialog:
    """Drives the intake form; pure apart from the triage it consults."""

    def __init__(self, triage: TriageLike, lang: str, offers: OfferStep | None = None) -> None:
        self.triage = triage
        self.lang = lang
        self.offers = offers or OfferStep()

    # -- entry points -------------------------------------------------------------------------------

    def begin(self, description: str | None = None) -> Turn:
        """Start a new draft; with `description` (a free message) the first answer is already given."""
        draft = DraftState(step="description", token=new_token())
        if description is None:
            return self._ask(draft)
        return self.handle(draft, UserInput.of_text(description))

    def resume(self, draft: DraftState) -> Turn:
        """The current question again (after a restart, /new with a draft open, or a stale button)."""
        if draft.step == "offer":
            return self._offer_shown(draft, events=False)
        return self._ask(draft)

    def handle(self, draft: DraftState, event: UserInput) -> Turn:
        if draft.step == "offer" and self.offers.current(draft, self.lang) is None:
            return self._advance(draft)  # the offer is gone (e.g. its article removed since): on with the form
        step = STEP_BY_NAME.get(draft.step) or STEP_BY_NAME["description"]
        if event.kind == InputKind.CHOICE:
            if event.token != draft.token:
                return self._ask(draft, [t(self.lang, "hint.stale_button")], stale=True)
            if event.value == Action.CANCEL:
                return Turn(Outcome.CANCELLED, draft)
            if event.value == Action.BACK:
                return self._back(draft)
        if event.kind == InputKind.UNSUPPORTED:
            return self._ask(draft, [t(self.lang, "hint.unsupported")])
        if draft.continues_album(event):
            return self._attach(draft, event)
        if event.kind == InputKind.FILE and event.kind not in step.expects:  # a screenshot mid-form: not lost
            return self._attach(draft, event, aside=True)
        if event.kind not in step.expects:
            if draft.refuse_album(event):  # one album, one answer
                return Turn(Outcome.ASK, draft, quiet=True)
            return self._ask(draft, [self._hint_for(step, event)])
        handler = getattr(self, f"_on_{step.name}")
        return handler(draft, event)

    # -- files --------------------------------------------------------------------------------------

    def _attach(self, draft: DraftState, event: UserInput, *, aside: bool = False) -> Turn:
        """The file kept as an attachment: what the attachments step does with every file, and what an
        album's later part gets at any step. The album was answered with its first part, so only the
        attachments step's receipt is said again (it counts the files and rewrites its unsent predecessor).
        `aside`: a file sent while a question is due, kept and said so, and the question asked again."""
        if len(draft.attachments) >= MAX_ATTACHMENTS:
            return self._ask(draft, [t(self.lang, "intake.too_many_attachments", count=MAX_ATTACHMENTS)])
        self._keep_file(draft, event)
        if aside:
            return self._ask(draft, [t(self.lang, "intake.file_kept")])
        if draft.step == "attachments":
            return Turn(Outcome.ASK, draft, self.prompt(draft, compact=True), [], receipt=True)
        return Turn(Outcome.ASK, draft, quiet=True)

    # -- navigation ---------------------------------------------------------------------------------

    def _ask(self, draft: DraftState, notes: list[str] | None = None, *, stale: bool = False) -> Turn:
        return Turn(Outcome.ASK, draft, self.prompt(draft), notes or [], stale)

    def _goto(self, draft: DraftState, step: str, notes: list[str] | None = None) -> Turn:
        if step != draft.step:
            draft.history.append(draft.step)
            draft.step = step
            draft.token = new_token()
        return self._ask(draft, notes)

    def _advance(self, draft: DraftState, notes: list[str] | None = None) -> Turn:
        """Go to the next step that applies, or back to the summary when editing a field."""
        if draft.editing:
            # a changed description may make questions apply that were never answered
            missing = [n for n in ("impact", "urgency") if STEP_BY_NAME[n].applies(draft) and not draft.answers.get(n)]
            if missing and missing[0] != draft.step:
                return self._goto(draft, missing[0], notes)
            draft.editing = False
            return self._goto(draft, "summary", notes)
        current = draft.step if draft.step in FORWARD else "service"
        for name in FORWARD[FORWARD.index(current) + 1 :]:
            if STEP_BY_NAME[name].applies(draft):
                return self._goto(draft, name, notes)
        return self._goto(draft, "summary", notes)

    def _back(self, draft: DraftState) -> Turn:
        while draft.history:
            previous = draft.history.pop()
            if previous == "edit" or STEP_BY_NAME[previous].applies(draft) or previous == "service_other":
                draft.step = previous
                draft.token = new_token()
                draft.editing = False
                return self._ask(draft)
        return self._ask(draft)

    def _hint_for(self, step: Step, event: UserInput) -> str:
        if step.name == "description" and event.kind == InputKind.SPOKEN:  # a voice note: why it is not taken
            return t(self.lang, "hint.spoken_description")
        if step.name == "attachments":
            return t(self.lang, "hint.attachments_expected")
        if step.name == "contact":
            return t(self.lang, "hint.contact_expected")
        if InputKind.TEXT in step.expects:
            return t(self.lang, "hint.text_expected")
        return t(self.lang, "hint.use_buttons")

    # -- step handlers ------------------------------------------------------------------------------

    def _on_description(self, draft: DraftState, event: UserInput) -> Turn:
        if event.kind == InputKind.FILE:
            self._keep_file(draft, event)
            caption = (event.file or {}).get("caption") or ""
            if not caption.strip():
                return self._ask(draft, [t(self.lang, "intake.description_photo_kept")])
            event = UserInput.of_text(caption)
        text = " ".join(event.text.split())
        if len(event.text) > DESCRIPTION_MAX_CHARS:
            return self._ask(draft, [t(self.lang, "intake.description_too_long", count=DESCRIPTION_MAX_CHARS)])
        if (talk := small_talk(text)) is not None:  # "hello", "help", "thanks": answered, no form about nothing
            note, ends = small_talk_answer(talk, self.lang, draft)
            return Turn(Outcome.SETTLED, draft, notes=[note]) if ends else self._ask(draft, [note])
        if len(text) < DESCRIPTION_MIN_CHARS or sum(ch.isalpha() for ch in text) < 3:
            return self._ask(draft, [t(self.lang, "intake.description_too_short")])
        draft.answers["description"] = event.text.strip()
        result = self._triage(draft, forced_type=None)
        if draft.editing or not self.offers:
            return self._advance(draft)
        self.offers.propose(draft, draft.answers["description"], result, self.lang)
        turn = self._advance(draft)
        return self._offer_shown(draft) if draft.step == "offer" else turn

    def _on_offer(self, draft: DraftState, event: UserInput) -> Turn:
        if event.kind == InputKind.FILE:
            self._keep_file(draft, event)
            return self._ask(draft, [t(self.lang, "offers.file_kept")])
        decision, done = self.offers.choose(draft, event.value, self.lang)
        events = [done] if done else []
        notes = [decision.note] if decision.note else []
        if decision.verdict == Verdict.INVALID:
            return self._ask(draft, [t(self.lang, "hint.stale_button")], stale=True)
        if decision.verdict == Verdict.ACCEPTED:
            return Turn(Outcome.SETTLED, draft, notes=notes, events=events)
        if decision.verdict == Verdict.SHOW or draft.answers.get(QUEUE_KEY):
            draft.token = new_token()  # a new screen: the buttons of the previous one are outdated
            turn = self._offer_shown(draft, notes, events=decision.verdict == Verdict.DECLINED)
            turn.events[:0] = events
            return turn
        turn = self._advance(draft, notes)
        turn.events = events
        return turn

    def _offer_shown(self, draft: DraftState, notes: list[str] | None = None, *, events: bool = True) -> Turn:
        """The offer first in the queue, with its messages; `events`: it is shown for the first time."""
        found = self.offers.current(draft, self.lang)
        if found is None:
            return self._advance(draft, notes)
        turn = self._ask(draft, notes)
        turn.messages = list(found[2].messages)
        shown = self.offers.shown(draft, self.lang) if events else None
        turn.events = [shown] if shown else []
        return turn

    def _on_doubt(self, draft: DraftState, event: UserInput) -> Turn:
        if event.value not in (TicketType.INCIDENT, TicketType.SERVICE_REQUEST):
            return self._ask(draft, [t(self.lang, "hint.use_buttons")])
        self._triage(draft, forced_type=TicketType(event.value))
        draft.answers["doubtful"] = False
        draft.answers["answered_doubt"] = True
        return self._advance(draft)

    def _on_service(self, draft: DraftState, event: UserInput) -> Turn:
        if event.kind == InputKind.CHOICE:
            if event.value == Action.OTHER:
                return self._goto(draft, "service_other")
            if event.value not in self._offered_services(draft):
                return self._ask(draft, [t(self.lang, "hint.use_buttons")])
            draft.answers["service"] = t(self.lang, f"service.{event.value}")
            draft.answers["service_id"] = event.value
            return self._advance(draft)
        return self._on_service_other(draft, event)

    def _on_service_other(self, draft: DraftState, event: UserInput) -> Turn:
        text = " ".join(event.text.split())
        if not text:
            return self._ask(draft, [t(self.lang, "hint.text_expected")])
        if len(text) > SERVICE_MAX_CHARS:
            return self._ask(draft, [t(self.lang, "intake.service_too_long", count=SERVICE_MAX_CHARS)])
        draft.answers["service"] = text
        draft.answers.pop("service_id", None)
        return self._advance(draft)

    def _on_impact(self, draft: DraftState, event: UserInput) -> Turn:
        if event.value not in set(Impact):
            return self._ask(draft, [t(self.lang, "hint.use_buttons")])
        draft.answers["impact"] = event.value
        return self._advance(draft)

    def _on_urgency(self, draft: DraftState, event: UserInput) -> Turn:
        if event.value not in set(Urgency):
            return self._ask(draft, [t(self.lang, "hint.use_buttons")])
        draft.answers["urgency"] = event.value
        return self._advance(draft)

    def _on_attachments(self, draft: DraftState, event: UserInput) -> Turn:
        if event.is_file:
            return self._attach(draft, event)
        if event.value in (Action.DONE, Action.SKIP):
            return self._advance(draft)
        return self._ask(draft, [t(self.lang, "hint.attachments_expected")])

    def _on_contact(self, draft: DraftState, event: UserInput) -> Turn:
        if event.kind == InputKind.CONTACT and event.phone:
            draft.answers["contact"] = event.contact_given  # the phone, or "NAME, PHONE" of someone else's card
            draft.answers["phone"] = event.phone if event.own_contact else None  # never someone else's as theirs
            return self._advance(draft)
        if event.kind == InputKind.CHOICE:
            if event.value == Action.SKIP:
                draft.answers["contact"] = None
                return self._advance(draft)
            return self._ask(draft, [t(self.lang, "hint.contact_expected")])
        text = " ".join(event.text.split())
        if text.casefold() in {t(lang, "button.skip").casefold() for lang in ("en", "ru")}:
            draft.answers["contact"] = None
            return self._advance(draft)
        if text.casefold() in {t(lang, "button.back").casefold() for lang in ("en", "ru")}:
            return self._back(draft)
        if text.casefold() in {t(lang, "button.cancel").casefold() for lang in ("en", "ru")}:
            return Turn(Outcome.CANCELLED, draft)
        if not text:
            return self._ask(draft, [t(self.lang, "hint.contact_expected")])
        if len(text) > CONTACT_MAX_CHARS:
            return self._ask(draft, [t(self.lang, "intake.contact_too_long", count=CONTACT_MAX_CHARS)])
        draft.answers["contact"] = text
        return self._advance(draft)

    def _on_summary(self, draft: DraftState, event: UserInput) -> Turn:
        if event.value == Action.CONFIRM:
            self._triage(draft, forced_type=self._forced_type(draft))
            return Turn(Outcome.CONFIRMED, draft)
        if event.value == Action.EDIT:
            return self._goto(draft, "edit")
        return self._ask(draft, [t(self.lang, "hint.use_buttons")])

    def _on_edit(self, draft: DraftState, event: UserInput) -> Turn:
        if event.value == Action.SUMMARY:
            return self._goto(draft, "summary")
        if event.value not in self._editable(draft):
            return self._ask(draft, [t(self.lang, "hint.use_buttons")])
        turn = self._goto(draft, event.value)
        draft.editing = True
        return turn

    # -- helpers ------------------------------------------------------------------------------------

    def _keep_file(self, draft: DraftState, event: UserInput) -> None:
        if event.album:  # its later parts are kept with it, wherever the draft is by then
            draft.answers[ALBUM_KEY] = event.album
        file = dict(event.file or {})
        known = {a.get("file_unique_id") for a in draft.attachments if a.get("file_unique_id")}
        if file.get("file_unique_id") and file["file_unique_id"] in known:
            return  # the same file twice (a redelivered update or a double send) is kept once
        draft.attachments.append(file)

    def _forced_type(self, draft: DraftState) -> TicketType | None:
        value = draft.answers.get("forced_type")
        return TicketType(value) if value else None

    def _triage(self, draft: DraftState, *, forced_type: TicketType | None) -> Any:
        answers = draft.answers
        impact = Impact(answers["impact"]) if answers.get("impact") else None
        urgency = Urgency(answers["urgency"]) if answers.get("urgency") else None
        result = self.triage.classify(answers["description"], impact=impact, urgency=urgency, ticket_type=forced_type)
        if forced_type is not None:
            answers["forced_type"] = forced_type.value
        answers["ticket_type"] = result.ticket_type.value
        answers["category"] = result.category.value
        answers["ranked"] = [c.value for c, _score in result.ranked_categories[:4]]
        if forced_type is None and not answers.get("answered_doubt"):
            answers["doubtful"] = bool(self.triage.is_doubtful(result))
        if result.category in NO_IMPACT_QUESTIONS:
            answers.pop("impact", None)
            answers.pop("urgency", None)
        return result

    def _offered_services(self, draft: DraftState) -> list[str]:
        ranked = [Category(c) for c in draft.answers.get("ranked", [])] or list(Category)
        ticket_type = draft.answers.get("ticket_type")
        if ticket_type:
            ranked = [c for c in ranked if c.ticket_type == ticket_type] or ranked
        return suggested_services(ranked, draft.answers.get("description", ""))

    def _editable(self, draft: DraftState) -> list[str]:
        return [f for f in EDITABLE_FIELDS if f not in ("impact", "urgency") or _needs_impact(draft)]

    # -- prompts ------------------------------------------------------------------------------------

    def _nav_row(self, *, back: bool = True) -> tuple[Choice, ...]:
        row = []
        if back:
            row.append(Choice(Action.BACK, t(self.lang, "button.back")))
        row.append(Choice(Action.CANCEL, t(self.lang, "button.cancel")))
        return tuple(row)

    def prompt(self, draft: DraftState, *, compact: bool = False) -> Prompt:
        """The question for the draft's current step, with its buttons."""
        lang, step, a = self.lang, draft.step, draft.answers
        is_request = a.get("ticket_type") == TicketType.SERVICE_REQUEST
        rows: list[tuple[Choice, ...]] = []
        share_phone = None
        reply_labels: tuple[str, ...] = ()
        if step == "description":
            text = t(lang, "intake.ask_description")
            rows.append(self._nav_row(back=False))
            return Prompt(step, draft.token, text, tuple(rows))
        if step == "offer" and (found := self.offers.current(draft, lang)) is not None:
            view = found[2]
            return Prompt(step, draft.token, view.text, (*view.choices, self._nav_row(back=view.back)))
        if step == "doubt":
            text = t(lang, "intake.ask_doubt")
            rows.append((Choice(TicketType.INCIDENT, t(lang, "button.broken")),))
            rows.append((Choice(TicketType.SERVICE_REQUEST, t(lang, "button.need")),))
        elif step == "service":
            text = t(lang, "intake.ask_service_request" if is_request else "intake.ask_service")
            services = [Choice(s, t(lang, f"service.{s}")) for s in self._offered_services(draft)]
            rows.extend(tuple(services[i : i + 2]) for i in range(0, len(services), 2))
            rows.append((Choice(Action.OTHER, t(lang, "button.other")),))
        elif step == "service_other":
            text = t(lang, "intake.ask_service_other")
        elif step == "impact":
            text = t(lang, "intake.ask_impact")
            rows.extend((Choice(i, t(lang, f"impact.{i}")),) for i in Impact)
        elif step == "urgency":
            text = t(lang, "intake.ask_urgency_request" if is_request else "intake.ask_urgency")
            labels = "urgency_request" if is_request else "urgency"
            rows.extend((Choice(u, t(lang, f"{labels}.{u}")),) for u in Urgency)
        elif step == "attachments":
            count = len(draft.attachments)
            if compact or count:
                text = t(lang, "intake.attachment_received", count=count)
            else:
                text = t(lang, "intake.ask_attachments")
            rows.append(
                (Choice(Action.DONE, t(lang, "button.done")),)
                if count
                else (Choice(Action.SKIP, t(lang, "button.skip")),)
            )
        elif step == "contact":
            text = t(lang, "intake.ask_contact")
            share_phone = t(lang, "button.share_phone")
            reply_labels = (t(lang, "button.skip"), t(lang, "button.back"), t(lang, "button.cancel"))
            return Prompt(step, draft.token, text, (), share_phone, reply_labels)
        elif step == "summary":
            text = summary_text(draft, lang)
            rows.append((Choice(Action.CONFIRM, t(lang, "button.confirm")),))
            rows.append((Choice(Action.EDIT, t(lang, "button.edit")), Choice(Action.CANCEL, t(lang, "button.cancel"))))
            return Prompt(step, draft.token, text, tuple(rows))
        elif step == "edit":
            text = t(lang, "intake.ask_edit")
            fields = [Choice(f, t(lang, f"intake.field_{f}")) for f in self._editable(draft)]
            rows.extend(tuple(fields[i : i + 2]) for i in range(0, len(fields), 2))
            rows.append((Choice(Action.SUMMARY, t(lang, "button.to_summary")),))
            return Prompt(step, draft.token, text, tuple(rows))
        else:  # pragma: no cover - unknown steps are reset by handle()
            text = t(lang, "intake.ask_description")
        rows.append(self._nav_row())
        return Prompt(step, draft.token, text, tuple(rows), share_phone, reply_labels)
