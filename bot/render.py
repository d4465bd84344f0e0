"""Dialog prompts as Telegram messages: choices become inline buttons, the phone request a reply keyboard."""

from __future__ import annotations

from typing import Any

from dialogs.intake import Prompt, Turn
from helpdesk import callbacks
from helpdesk.outbox import Buttons


def prompt_markup(prompt: Prompt) -> tuple[Buttons | None, dict[str, Any] | None]:
    if prompt.share_phone_label:
        keyboard = [[{"text": prompt.share_phone_label, "request_contact": True}]]
        keyboard.append([{"text": label} for label in prompt.reply_labels])
        return None, {"keyboard": keyboard, "resize_keyboard": True, "one_time_keyboard": True}
    buttons = [
        [(choice.label, callbacks.make(callbacks.INTAKE, prompt.token, choice.value)) for choice in row]
        for row in prompt.choices
    ]
    return (buttons or None), None


def turn_text(turn: Turn) -> str:
    parts = [*turn.notes]
    if turn.prompt is not None:
        parts.append(turn.prompt.text)
    return "\n\n".join(parts)
