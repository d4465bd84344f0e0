"""The step before the form: offers (self-help articles, and any other provider) in the pure intake engine.

The customer's first description is triaged by the real model and matched against the sample knowledge
base (docs/kb-sample); the conversation reads as the customer has it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dialogs.article_offers import ArticleOffers
from dialogs.form_data import Choice
from dialogs.intake import Action, InputKind, IntakeDialog, Outcome, Turn, UserInput
from dialogs.offers import SHOWN, Decision, OfferRequest, OfferStep, OfferView, Verdict
from helpdesk import self_help
from helpdesk.knowledge import ArticleMatcher, load_knowledge_base
from helpdesk.triage import Triage

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"
WIFI = "How do I connect to the office Wi-Fi?"
BROKEN = "The printer on floor 2 is jammed and makes a grinding noise, nothing prints"


@pytest.fixture(scope="module")
def articles(triage: Triage) -> ArticleOffers:
    return ArticleOffers(ArticleMatcher(load_knowledge_base(SAMPLE), triage))


def dialog(triage: Triage, *providers: Any, lang: str = "en") -> IntakeDialog:
    return IntakeDialog(triage, lang, OfferStep(providers))


def buttons(turn: Turn) -> dict[str, str]:
    """label → value of the buttons under the turn's question."""
    assert turn.prompt is not None
    return {c.label: c.value for row in turn.prompt.choices for c in row}


def press(d: IntakeDialog, turn: Turn, label: str) -> Turn:
    offered = buttons(turn)
    assert label in offered, f"{label!r} not among {list(offered)}"
    return d.handle(turn.draft, UserInput.of_choice(offered[label], turn.prompt.token))


def kinds(turn: Turn) -> list[str]:
    return [event.kind for event in turn.events]


def test_a_how_to_question_gets_articles_before_any_form_question(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    turn = d.begin(WIFI)
    assert turn.prompt.step == "offer"
    assert "📄 Connect to the office Wi-Fi" in buttons(turn)
    assert "🙋 I still need help" in buttons(turn) and "✖ Cancel" in buttons(turn)
    assert len([label for label in buttons(turn) if label.startswith("📄")]) <= 3
    assert kinds(turn) == [SHOWN]
    assert turn.draft.answers["description"] == WIFI


def test_this_solved_it_ends_the_intake_with_nothing_to_register(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    opened = press(d, d.begin(WIFI), "📄 Connect to the office Wi-Fi")
    assert opened.prompt.step == "offer" and opened.outcome == Outcome.ASK
    assert opened.messages and "<b>Connect to the office Wi-Fi</b>" in opened.messages[0]
    assert "Office-Corp" in "".join(opened.messages)
    assert opened.prompt.text == "Did this article solve it?"
    assert kinds(opened) == [self_help.OPENED] and opened.events[0].state["open"] == "office-wifi"
    done = press(d, opened, "✅ This solved it")
    assert done.outcome == Outcome.SETTLED
    assert kinds(done) == [self_help.SOLVED] and done.events[0].state["open"] == "office-wifi"
    assert "Nothing was registered" in done.notes[0]


def test_i_still_need_help_goes_on_with_the_form_and_keeps_the_description(
    triage: Triage, articles: ArticleOffers
) -> None:
    d = dialog(triage, articles)
    opened = press(d, d.begin(WIFI), "📄 Connect to the office Wi-Fi")
    turn = press(d, opened, "🙋 I still need help")
    assert turn.outcome == Outcome.ASK and turn.prompt.step not in ("offer", "description")
    assert "description is kept" in turn.notes[0]
    assert kinds(turn) == [self_help.STILL_NEEDED]
    assert turn.draft.answers["description"] == WIFI
    assert "offers" not in turn.draft.answers
    # Back from the first question of the form goes to the description, not to the articles again
    back = d.handle(turn.draft, UserInput.of_choice(Action.BACK, turn.prompt.token))
    assert back.prompt.step == "description"


def test_still_need_help_from_the_list_goes_straight_to_the_form(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    turn = press(d, d.begin(WIFI), "🙋 I still need help")
    assert turn.prompt.step not in ("offer", "description") and kinds(turn) == [self_help.STILL_NEEDED]


def test_other_articles_and_back(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    listed = d.begin("we have visitors tomorrow, how do they get wifi")
    titles = [label for label in buttons(listed) if label.startswith("📄")]
    assert len(titles) >= 2, titles
    opened = press(d, listed, titles[0])
    again = press(d, opened, "📚 Other articles")
    assert again.prompt.step == "offer" and not again.messages and titles[0] in buttons(again)
    back = press(d, again, "◀ Back")
    assert back.prompt.step == "description"


def test_old_and_forged_article_buttons_are_outdated(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    listed = d.begin(WIFI)
    opened = press(d, listed, "📄 Connect to the office Wi-Fi")
    # a button of the list, pressed after the article was opened: an older message
    old = d.handle(opened.draft, UserInput.of_choice("open.office-wifi", listed.prompt.token))
    assert old.stale and old.prompt.step == "offer" and not old.events
    # a forged value under the current question: an article that was not offered, or none at all
    for forged in ("open.vpn-setup", "open.../etc/passwd", "solvedx", "open.", ""):
        turn = d.handle(opened.draft, UserInput.of_choice(forged, opened.prompt.token))
        assert turn.stale and turn.outcome == Outcome.ASK and not turn.events, forged
    # "This solved it" is only offered under an opened article
    solved_early = d.handle(listed.draft, UserInput.of_choice("solved", listed.prompt.token))
    assert solved_early.stale or solved_early.outcome == Outcome.ASK


def test_a_file_sent_while_articles_are_offered_is_kept(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    turn = d.begin(WIFI)
    photo = UserInput(InputKind.FILE, file={"kind": "photo", "file_id": "F1", "file_unique_id": "U1"})
    turn = d.handle(turn.draft, photo)
    assert turn.prompt.step == "offer" and len(turn.draft.attachments) == 1
    text = d.handle(turn.draft, UserInput.of_text("hello?"))
    assert text.prompt.step == "offer" and text.notes  # a hint to use the buttons


def test_a_broken_printer_goes_straight_to_the_form(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    turn = d.begin(BROKEN)
    assert turn.prompt.step != "offer" and not turn.events


def test_the_customer_reads_titles_in_their_language(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles, lang="ru")
    turn = d.begin("Как подключиться к вайфаю в офисе?")
    assert "📄 Как подключиться к офисному Wi-Fi" in buttons(turn), buttons(turn)
    assert "🙋 Мне всё ещё нужна помощь" in buttons(turn)


def test_an_edited_description_is_not_offered_articles_again(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    turn = press(d, d.begin(WIFI), "🙋 I still need help")
    while turn.prompt.step != "summary":
        step = turn.prompt.step
        if step == "contact":
            turn = d.handle(turn.draft, UserInput.of_text("Skip"))
        elif step == "service_other":
            turn = d.handle(turn.draft, UserInput.of_text("Wi-Fi"))
        else:
            first = turn.prompt.choices[0][0].value
            turn = d.handle(turn.draft, UserInput.of_choice(first, turn.prompt.token))
    edit = d.handle(turn.draft, UserInput.of_choice(Action.EDIT, turn.prompt.token))
    field = d.handle(edit.draft, UserInput.of_choice("description", edit.prompt.token))
    changed = d.handle(field.draft, UserInput.of_text("How do I connect my laptop to the office Wi-Fi?"))
    assert changed.prompt.step != "offer" and not changed.events


class Fixed:
    """A provider with one yes/no offer, to check the order and the queue."""

    def __init__(self, name: str, offers: bool = True) -> None:
        self.name = name
        self.offers = offers

    async def prepare(self, session: Any) -> Any:
        return None

    def propose(self, request: OfferRequest) -> dict[str, Any] | None:
        return {"said": request.description} if self.offers else None

    def view(self, state: dict[str, Any], lang: str) -> OfferView | None:
        return OfferView(f"{self.name}?", ((Choice("yes", "Yes"), Choice("no", "No")),))

    def choose(self, state: dict[str, Any], value: str, lang: str) -> Decision:
        if value == "yes":
            return Decision(Verdict.ACCEPTED, event="accepted", note=f"{self.name} accepted")
        if value == "no":
            return Decision(Verdict.DECLINED, event="declined")
        return Decision(Verdict.INVALID)

    async def record(self, session: Any, customer: Any, event: Any) -> None:  # pragma: no cover - not here
        return None


def test_offers_come_in_the_providers_order_and_a_declined_one_makes_way(triage: Triage) -> None:
    d = dialog(triage, Fixed("outage"), Fixed("nothing", offers=False), Fixed("articles"))
    first = d.begin(BROKEN)
    assert first.prompt.text == "outage?" and kinds(first) == [SHOWN]
    second = press(d, first, "No")
    assert second.prompt.text == "articles?" and kinds(second) == ["declined", SHOWN]
    assert [e.provider for e in second.events] == ["outage", "articles"]
    assert second.prompt.token != first.prompt.token
    form = press(d, second, "No")
    assert form.prompt.step not in ("offer", "description") and kinds(form) == ["declined"]


def test_an_accepted_offer_ends_the_intake(triage: Triage) -> None:
    d = dialog(triage, Fixed("outage"), Fixed("articles"))
    done = press(d, d.begin(BROKEN), "Yes")
    assert done.outcome == Outcome.SETTLED and done.notes == ["outage accepted"]


def test_without_providers_the_form_is_as_before(triage: Triage) -> None:
    turn = IntakeDialog(triage, "en").begin(WIFI)
    assert turn.prompt.step != "offer" and not turn.events


def test_an_offer_that_cannot_be_shown_any_more_gives_way_to_the_form(triage: Triage, articles: ArticleOffers) -> None:
    d = dialog(triage, articles)
    turn = d.begin(WIFI)
    turn.draft.answers["offers"][0]["state"]["articles"] = ["removed-since"]  # the KB changed after a restart
    after = d.handle(turn.draft, UserInput.of_choice("open.removed-since", turn.prompt.token))
    assert after.prompt.step not in ("offer", "description")
    resumed = dialog(triage).resume(d.begin(WIFI).draft)  # the provider is no longer configured
    assert resumed.prompt is not None
