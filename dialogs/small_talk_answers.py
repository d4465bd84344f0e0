"""What the intake says to a message that is only small talk (helpdesk/small_talk.py tells which)."""

from __future__ import annotations

from dialogs.form_data import DraftState
from helpdesk.i18n import t
from helpdesk.small_talk import SmallTalk


def small_talk_answer(talk: SmallTalk, lang: str, draft: DraftState) -> tuple[str, bool]:
    """What to say, and whether the draft ends. With nothing begun yet, a greeting or a bare "help" is
    answered before the question again, and thanks ends the draft (nothing to register); in a request under
    way (a description being edited) it is only too short for a description, and with a file kept (a photo
    captioned "hi") the file is said to be kept and the words asked for."""
    if draft.editing or draft.history:
        return t(lang, "intake.description_too_short"), False
    if draft.attachments:
        return t(lang, "intake.description_photo_kept"), False
    return t(lang, f"intake.small_talk_{talk}"), talk == SmallTalk.THANKS
