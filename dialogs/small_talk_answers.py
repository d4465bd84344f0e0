"""What the intake says to a message that is only small talk (helpdesk/small_talk.py tells which)."""

from __future__ import annotations

from dialogs.form_data import DraftState
from helpdesk.i18n import t
from helpdesk.small_talk import SmallTalk


def small_talk_answer(talk: SmallTalk, lang: str, draft: DraftState) -> tuple[str, bool]:
    """What to say, and whether the draft ends: a greeting or a bare "help" is answered before the question
    again; thanks ends a draft with nothing in it yet (nothing to register), else the question comes again."""
    if talk != SmallTalk.THANKS:
        return t(lang, f"intake.small_talk_{talk}"), False
    if not (draft.attachments or draft.editing or draft.history):
        return t(lang, "intake.small_talk_thanks"), True
    return t(lang, "intake.description_too_short"), False
