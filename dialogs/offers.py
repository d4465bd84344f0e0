"""Before the form: what the desk can offer for a first description (a known outage, articles).

Right after the first description is understood (triaged), and before the first question of the form,
the intake asks an ordered list of offer providers what they have for it. Every provider that has
something is queued, in the order of the list, and the first in the queue is shown as the intake's
`offer` step. The customer then

- accepts it: the intake ends there ("This solved it": nothing registered; a provider may register a
  ticket for the record when it acts on the acceptance, e.g. a report linked to a known outage);
- declines it: the next offer in the queue is shown, and after the last the form goes on with
  everything already typed ("I still need help");
- or moves within it (opens one of the offered articles, goes back to the list).

A provider works on data: its state is a JSON object kept in the draft (`answers["offers"]`), its
screens are an `OfferView` (texts and `Choice`s the chat and the console render), and what the customer
did is a `Decision`. What a decision means for the desk (count a deflection, subscribe to an outage)
is named by an `OfferEvent` that the intake service hands back to the provider's `record`, in the
update's transaction, so the dialog itself stays pure. `prepare` reads from the database what `propose`
needs (open major incidents, say), once per update and only when a description is about to be judged.

A provider's button values must not contain ':' (they travel in `i:<token>:<value>` button data) nor be
one of the engine's `Action`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.form_data import Choice, DraftState
from storage.models import Customer, Ticket

#: the draft's queue of offers: [{"provider": name, "state": {...}}, …], the first one shown
QUEUE_KEY = "offers"
#: the event every provider gets when its offer is shown
SHOWN = "offered"
#: the offers the customer declined, [{"provider": name, "state": {...}}, …]: the rest of the intake (and
#: registration) may respect the customer's "no" (a report not linked to the outage they said it is not)
DECLINED_KEY = "declined_offers"


@dataclass(frozen=True)
class OfferRequest:
    """A first description as the providers see it."""

    description: str
    triage: Any  # the TriageResult of the description
    lang: str
    context: Any = None  # what this provider's `prepare` read for the update


@dataclass(frozen=True)
class OfferView:
    """One screen of an offer: the question and its buttons, after `messages` (an article's text) when
    the screen is entered; `back` adds the form's Back button (to the description)."""

    text: str
    choices: tuple[tuple[Choice, ...], ...]
    messages: tuple[str, ...] = ()
    back: bool = True


class Verdict(StrEnum):
    SHOW = "show"  # stay with the offer, in `Decision.state` (a new screen)
    DECLINED = "declined"  # go on: the next offer, then the form
    ACCEPTED = "accepted"  # the offer answered the customer: the intake ends, nothing registered
    INVALID = "invalid"  # not a button this screen has (forged, or from a version of the offer now gone)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    state: dict[str, Any] | None = None  # SHOW: the offer's next state
    event: str | None = None  # what to record (the provider's own word: "solved", "still_needed"…)
    note: str | None = None  # ACCEPTED: the closing message; otherwise shown above the next question


@dataclass(frozen=True)
class OfferEvent:
    """Something the customer did with an offer, for its provider to record; `state` is the offer's state
    after it (an opened article's name is in it), `answers` and `attachments` what the intake knows so far
    (the description, its triage: enough to register a ticket for the record)."""

    provider: str
    kind: str
    state: dict[str, Any]
    lang: str
    answers: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Settlement:
    """What a provider's acting on an accepted offer came to: messages for the customer after the
    decision's note, and a ticket it registered for the record (a report linked to an outage), if any."""

    messages: list[str] = field(default_factory=list)
    ticket: Ticket | None = None


class OfferProvider(Protocol):
    """One kind of offer. `name` is stored in drafts: keep it stable."""

    name: str

    async def prepare(self, session: AsyncSession) -> Any:
        """What `propose` needs from the database (None when nothing)."""
        ...

    def propose(self, request: OfferRequest) -> dict[str, Any] | None:
        """The offer's first state for this description, or None when there is nothing to offer."""
        ...

    def view(self, state: dict[str, Any], lang: str) -> OfferView | None:
        """The screen for `state`; None when the offer cannot be shown any more (its article is gone)."""
        ...

    def choose(self, state: dict[str, Any], value: str, lang: str) -> Decision:
        """What pressing the button `value` on the screen of `state` does."""
        ...

    async def record(self, session: AsyncSession, customer: Customer, event: OfferEvent) -> Settlement | None:
        """Do what `event` means for the desk, in the update's transaction; for the event of an accepted
        offer, what it came to (None: the decision's note says it all)."""
        ...


class OfferStep:
    """The offers of one intake: the providers in their order, with what each prepared for this update."""

    def __init__(self, providers: Sequence[OfferProvider] = (), contexts: Mapping[str, Any] | None = None) -> None:
        self.providers = {provider.name: provider for provider in providers}
        self.order = [provider.name for provider in providers]
        self.contexts = dict(contexts or {})

    def __bool__(self) -> bool:
        return bool(self.order)

    def propose(self, draft: DraftState, description: str, triage: Any, lang: str) -> None:
        """Queue every provider's offer for the description (an empty queue: straight to the form)."""
        queue = []
        for name in self.order:
            request = OfferRequest(description, triage, lang, self.contexts.get(name))
            state = self.providers[name].propose(request)
            if state is not None:
                queue.append({"provider": name, "state": state})
        self._keep(draft, queue)

    def current(self, draft: DraftState, lang: str) -> tuple[OfferProvider, dict[str, Any], OfferView] | None:
        """The offer on show: its provider, state and screen. Offers that can no longer be shown (a provider
        no longer configured, an article removed since) are dropped from the queue on the way."""
        queue = list(draft.answers.get(QUEUE_KEY) or [])  # a new list: the stored draft sees the change
        found = None
        while queue and found is None:
            provider = self.providers.get(queue[0].get("provider", ""))
            state = queue[0].get("state") or {}
            view = provider.view(state, lang) if provider is not None else None
            if provider is not None and view is not None:
                found = provider, state, view
            else:
                queue.pop(0)
        self._keep(draft, queue)
        return found

    @staticmethod
    def _keep(draft: DraftState, queue: list[dict[str, Any]]) -> None:
        if queue:
            draft.answers[QUEUE_KEY] = queue
        else:
            draft.answers.pop(QUEUE_KEY, None)

    def shown(self, draft: DraftState, lang: str) -> OfferEvent | None:
        """The event for the offer now first in the queue being shown."""
        found = self.current(draft, lang)
        if found is None:
            return None
        provider, state, _view = found
        return OfferEvent(provider.name, SHOWN, state, lang, dict(draft.answers), list(draft.attachments))

    def choose(self, draft: DraftState, value: str, lang: str) -> tuple[Decision, OfferEvent | None]:
        """Apply a button press to the offer on show; the queue moves on when it is declined."""
        found = self.current(draft, lang)
        if found is None:
            return Decision(Verdict.DECLINED), None
        provider, state, _view = found
        decision = provider.choose(state, value, lang)
        after = decision.state if decision.verdict == Verdict.SHOW and decision.state is not None else state
        event = None
        if decision.event:
            event = OfferEvent(provider.name, decision.event, after, lang, dict(draft.answers), list(draft.attachments))
        queue = list(draft.answers[QUEUE_KEY])
        if decision.verdict == Verdict.SHOW and decision.state is not None:
            queue[0] = {"provider": provider.name, "state": decision.state}
        elif decision.verdict in (Verdict.DECLINED, Verdict.ACCEPTED):
            queue.pop(0)
        if decision.verdict == Verdict.DECLINED:
            declined = list(draft.answers.get(DECLINED_KEY) or [])  # a new list: the stored draft sees the change
            draft.answers[DECLINED_KEY] = [*declined, {"provider": provider.name, "state": state}]
        self._keep(draft, queue)
        return decision, event


def declined_states(answers: Mapping[str, Any], provider: str) -> list[dict[str, Any]]:
    """The states of `provider`'s offers the customer declined in this intake."""
    found = answers.get(DECLINED_KEY) or []
    return [d.get("state") or {} for d in found if isinstance(d, dict) and d.get("provider") == provider]
