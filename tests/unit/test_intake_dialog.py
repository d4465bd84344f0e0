"""The intake form as a pure engine: steps, validation, navigation, stale buttons, unexpected input."""

from __future__ import annotations

import copy

import pytest

from dialogs.intake import (
    DESCRIPTION_MAX_CHARS,
    MAX_ATTACHMENTS,
    Action,
    InputKind,
    IntakeDialog,
    Outcome,
    Turn,
    UserInput,
)
from tests.unit.fakes import KeywordTriage

PRINTER = "The printer on floor 2 is jammed and prints nothing"


def file(n: int | str, kind: str = "photo") -> UserInput:
    return UserInput(InputKind.FILE, file={"kind": kind, "file_id": f"F{n}", "file_unique_id": f"U{n}"})


def dialog(lang: str = "en") -> IntakeDialog:
    return IntakeDialog(KeywordTriage(), lang)


def press(d: IntakeDialog, turn: Turn, value: str) -> Turn:
    assert turn.prompt is not None
    values = [c.value for row in turn.prompt.choices for c in row]
    assert value in values, f"{value!r} not offered at {turn.prompt.step}: {values}"
    return d.handle(turn.draft, UserInput.of_choice(value, turn.prompt.token))


def labels(turn: Turn) -> list[str]:
    assert turn.prompt is not None
    return [c.label for row in turn.prompt.choices for c in row]


def to_summary(d: IntakeDialog, text: str = PRINTER) -> Turn:
    turn = d.begin(text)
    assert turn.prompt.step == "service"
    turn = press(d, turn, "printer")
    turn = press(d, turn, "team")
    turn = press(d, turn, "blocked")
    turn = press(d, turn, Action.SKIP)
    assert turn.prompt.step == "contact"
    turn = d.handle(turn.draft, UserInput(InputKind.CONTACT, phone="+15550001"))
    assert turn.prompt.step == "summary"
    return turn


def test_full_incident_path_collects_every_answer() -> None:
    d = dialog()
    turn = to_summary(d)
    answers = turn.draft.answers
    assert answers["description"] == PRINTER
    assert answers["service"] == "Printer or scanner"
    assert answers["impact"] == "team" and answers["urgency"] == "blocked"
    assert answers["contact"] == "+15550001"
    assert "Printer or scanner" in turn.prompt.text and "My team or department" in turn.prompt.text
    done = press(d, turn, Action.CONFIRM)
    assert done.outcome == Outcome.CONFIRMED


def test_service_buttons_come_from_the_triage_suggestion_plus_other() -> None:
    turn = dialog().begin(PRINTER)
    assert "Printer or scanner" in labels(turn)
    assert labels(turn)[-3:] == ["Other…", "◀ Back", "✖ Cancel"]


def test_other_service_takes_free_text() -> None:
    d = dialog()
    turn = press(d, d.begin(PRINTER), Action.OTHER)
    assert turn.prompt.step == "service_other"
    turn = d.handle(turn.draft, UserInput.of_text("Label printer Zebra ZT410"))
    assert turn.draft.answers["service"] == "Label printer Zebra ZT410"
    assert turn.prompt.step == "impact"


def test_free_text_at_service_step_is_accepted_as_the_service() -> None:
    d = dialog()
    turn = d.handle(d.begin(PRINTER).draft, UserInput.of_text("kiosk in the lobby"))
    assert turn.draft.answers["service"] == "kiosk in the lobby"


@pytest.mark.parametrize("text", ["", "   ", "ab", "!!!!!!!!", "🙂🙂🙂🙂🙂"])
def test_too_short_description_gets_a_hint_and_the_same_question(text: str) -> None:
    d = dialog()
    turn = d.handle(d.begin().draft, UserInput.of_text(text))
    assert turn.prompt.step == "description"
    assert "short" in turn.notes[0]


def test_too_long_description_gets_a_hint_and_nothing_is_stored() -> None:
    d = dialog()
    turn = d.handle(d.begin().draft, UserInput.of_text("x" * (DESCRIPTION_MAX_CHARS + 1)))
    assert turn.prompt.step == "description"
    assert str(DESCRIPTION_MAX_CHARS) in turn.notes[0]
    assert "description" not in turn.draft.answers


def test_consultation_skips_who_is_affected_and_urgency() -> None:
    d = dialog()
    turn = d.begin("How do I set up an out-of-office reply?")
    turn = press(d, turn, "how_to")
    assert turn.prompt.step == "attachments"


def test_doubtful_text_asks_the_clarifying_question_and_uses_the_answer() -> None:
    d = dialog()
    turn = d.begin("help me please with the thing")
    assert turn.prompt.step == "doubt"
    assert "broken" in turn.prompt.text.lower()
    turn = press(d, turn, "service_request")
    assert turn.draft.answers["ticket_type"] == "service_request"
    assert turn.prompt.step == "service"


@pytest.mark.parametrize("kind", [InputKind.UNSUPPORTED, InputKind.CONTACT])
def test_unexpected_input_at_a_button_step_repeats_the_question(kind: InputKind) -> None:
    d = dialog()
    turn = press(d, d.begin(PRINTER), "printer")
    assert turn.prompt.step == "impact"
    again = d.handle(turn.draft, UserInput(kind, phone="1"))
    assert again.prompt.step == "impact"
    assert again.notes and again.prompt.token == turn.prompt.token


def test_file_at_a_text_step_is_kept_and_the_question_repeated() -> None:
    d = dialog()
    photo = {"kind": "photo", "file_id": "F1", "file_unique_id": "U1"}
    turn = d.handle(d.begin().draft, UserInput(InputKind.FILE, file=photo))
    assert turn.prompt.step == "description"
    assert turn.draft.attachments == [photo]


def test_photo_with_caption_at_description_gives_both() -> None:
    d = dialog()
    photo = {"kind": "photo", "file_id": "F1", "file_unique_id": "U1", "caption": PRINTER}
    turn = d.handle(d.begin().draft, UserInput(InputKind.FILE, file=photo))
    assert turn.prompt.step == "service"
    assert turn.draft.answers["description"] == PRINTER and len(turn.draft.attachments) == 1


def test_stale_button_from_an_earlier_prompt_is_recognised() -> None:
    d = dialog()
    first = d.begin(PRINTER)
    second = press(d, first, "printer")
    again = d.handle(second.draft, UserInput.of_choice("computer", first.prompt.token))
    assert again.stale and again.prompt.step == "impact"
    assert again.draft.answers["service"] == "Printer or scanner"


def test_forged_value_on_the_current_prompt_is_refused() -> None:
    d = dialog()
    turn = press(d, d.begin(PRINTER), "printer")
    again = d.handle(turn.draft, UserInput.of_choice("P1-please", turn.prompt.token))
    assert again.prompt.step == "impact" and "impact" not in again.draft.answers


def test_back_returns_to_the_previous_question_keeping_answers() -> None:
    d = dialog()
    turn = press(d, press(d, d.begin(PRINTER), "printer"), "team")
    assert turn.prompt.step == "urgency"
    back = press(d, turn, Action.BACK)
    assert back.prompt.step == "impact"
    back = press(d, back, Action.BACK)
    assert back.prompt.step == "service"
    assert back.draft.answers["impact"] == "team"


def test_cancel_works_at_every_step() -> None:
    d = dialog()
    turn = d.begin(PRINTER)
    while turn.prompt.step != "contact":
        cancelled = press(d, turn, Action.CANCEL)
        assert cancelled.outcome == Outcome.CANCELLED
        turn = press(d, turn, turn.prompt.choices[0][0].value)
    assert d.handle(turn.draft, UserInput.of_text("✖ Cancel")).outcome == Outcome.CANCELLED


def test_attachments_any_number_then_done() -> None:
    d = dialog()
    turn = press(d, press(d, press(d, d.begin(PRINTER), "printer"), "team"), "blocked")
    for n in range(3):
        turn = d.handle(
            turn.draft, UserInput(InputKind.FILE, file={"kind": "photo", "file_id": f"F{n}", "file_unique_id": f"U{n}"})
        )
        assert turn.prompt.step == "attachments"
        assert f"{n + 1}" in turn.prompt.text
    turn = d.handle(
        turn.draft, UserInput(InputKind.FILE, file={"kind": "photo", "file_id": "F0", "file_unique_id": "U0"})
    )
    assert len(turn.draft.attachments) == 3  # the same file twice is kept once
    turn = press(d, turn, Action.DONE)
    assert turn.prompt.step == "contact"


def test_attachment_limit() -> None:
    d = dialog()
    turn = press(d, press(d, press(d, d.begin(PRINTER), "printer"), "team"), "blocked")
    for n in range(MAX_ATTACHMENTS + 1):
        turn = d.handle(
            turn.draft,
            UserInput(InputKind.FILE, file={"kind": "document", "file_id": f"F{n}", "file_unique_id": f"U{n}"}),
        )
    assert len(turn.draft.attachments) == MAX_ATTACHMENTS
    assert str(MAX_ATTACHMENTS) in turn.notes[0]


def test_contact_step_offers_share_phone_and_accepts_text_or_skip() -> None:
    d = dialog()
    turn = press(d, press(d, press(d, press(d, d.begin(PRINTER), "printer"), "team"), "blocked"), Action.SKIP)
    assert turn.prompt.share_phone_label
    typed = d.handle(copy.deepcopy(turn.draft), UserInput.of_text("ext. 4411"))
    assert typed.draft.answers["contact"] == "ext. 4411"
    skipped = d.handle(copy.deepcopy(turn.draft), UserInput.of_text("Skip"))
    assert skipped.prompt.step == "summary" and skipped.draft.answers["contact"] is None


def test_edit_a_field_from_the_summary_returns_to_the_summary() -> None:
    d = dialog()
    summary = to_summary(d)
    edit = press(d, summary, Action.EDIT)
    assert edit.prompt.step == "edit"
    field = press(d, edit, "impact")
    assert field.prompt.step == "impact"
    back_at_summary = press(d, field, "organization")
    assert back_at_summary.prompt.step == "summary"
    assert back_at_summary.draft.answers["impact"] == "organization"


def test_editing_description_to_a_consultation_drops_impact_questions() -> None:
    d = dialog()
    edit = press(d, to_summary(d), Action.EDIT)
    step = press(d, edit, "description")
    turn = d.handle(step.draft, UserInput.of_text("How do I print on both sides of the paper?"))
    assert turn.prompt.step == "summary"
    assert "impact" not in turn.draft.answers


def test_russian_prompts() -> None:
    turn = dialog("ru").begin("Принтер в бухгалтерии не печатает, зажевал бумагу")
    assert "Какой сервис" in turn.prompt.text
    assert "Принтер или сканер" in labels(turn)


def test_user_text_is_escaped_in_the_summary() -> None:
    d = dialog()
    turn = to_summary(d, text="<b>printer</b> & <script>alert(1)</script> broken")
    assert "&lt;b&gt;printer&lt;/b&gt; &amp; &lt;script&gt;" in turn.prompt.text


def test_the_service_the_customer_named_is_offered_first() -> None:
    turn = dialog("ru").begin("Не работает VPN из дома, инет при этом есть")
    assert turn.prompt.choices[0][0].value == "vpn"
    turn = dialog().begin(PRINTER)
    assert turn.prompt.choices[0][0].value == "printer"


def test_someone_elses_contact_card_is_a_call_back_contact_never_the_customers_phone() -> None:
    d = dialog()
    turn = to_summary(d)  # "+15550001" shared with no owner: given, not theirs
    assert turn.draft.answers["contact"] == "+15550001" and turn.draft.answers["phone"] is None

    def to_contact(turn: Turn) -> Turn:
        return press(d, press(d, turn, Action.EDIT), "contact")

    ann = UserInput(InputKind.CONTACT, phone="+15550002", contact_name="Ann", own_contact=True)
    own = d.handle(to_contact(turn).draft, ann)
    assert own.draft.answers["contact"] == own.draft.answers["phone"] == "+15550002"
    bob = UserInput(InputKind.CONTACT, phone="+15550003", contact_name="Bob Smith", own_contact=False)
    other = d.handle(to_contact(own).draft, bob)
    assert other.draft.answers["contact"] == "Bob Smith, +15550003" and other.draft.answers["phone"] is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Hello!", "greeting"),
        ("добрый день", "greeting"),
        ("Доброго времени суток!", "greeting"),
        ("help me please", "help"),
        ("Добрый день! У меня вопрос", "help"),
        ("Спасибо большое, всё работает", "thanks"),
        ("thanks again", "thanks"),
        ("hi, the printer is jammed", None),
        ("привет, не работает почта", None),
        ("не работает", None),
        ("ок", "thanks"),
        ("👍👍", "thanks"),
        ("please", None),
        ("😀", None),
    ],
)
def test_small_talk_is_only_a_message_made_of_nothing_else(text: str, kind: str | None) -> None:
    from helpdesk.small_talk import small_talk

    assert small_talk(text) == kind
