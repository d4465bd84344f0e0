"""Button data: short strings (Telegram allows 64 bytes) that say which action on which object.

Button data comes back from the client and can be forged, so parsing is strict and every action is
re-checked against the caller by its handler.
"""

from __future__ import annotations

from dataclasses import dataclass

# prefixes
INTAKE = "i"  # i:<token>:<value>          an answer in the intake form
MENU = "m"  # m:<new|my|help>               start-menu buttons
STATUS = "st"  # st:<ticket id>            a customer's status button
FIXED = "fx"  # fx:<ticket id>:<y|n>       "Yes, it's fixed" / "Still a problem"
RATE = "rt"  # rt:<ticket id>:<1..5>       satisfaction
FOR_TICKET = "ft"  # ft:<ticket id|new>    which ticket a free message is for
ANSWER = "an"  # an:<ticket id>            answer an agent's question
LANG = "lg"  # lg:<en|ru>
AGENT = "ag"  # ag:<action>:<ticket id>    agent buttons on cards and the queue
MAJOR = "mj"  # mj:<m|n>:<proposal id>      "Merge into a major incident" / "Not related"
CAUSE = "cz"  # cz:<ticket id>:<report id>:<cause>   the cause of a kept closing report

AGENT_ACTIONS = frozenset({"take", "ask", "res", "det", "rt"})


@dataclass(frozen=True)
class Callback:
    prefix: str
    args: tuple[str, ...]

    def int_arg(self, index: int) -> int | None:
        try:
            value = int(self.args[index])
        except (IndexError, ValueError):
            return None
        return value if 0 < value < 2**62 else None


def make(prefix: str, *args: object) -> str:
    data = ":".join([prefix, *(str(a) for a in args)])
    if len(data.encode()) > 64:
        raise ValueError(f"button data too long: {data!r}")
    return data


def parse(data: str | None) -> Callback | None:
    """Split button data; None for anything malformed (the handler then answers 'outdated')."""
    if not data or len(data) > 64:
        return None
    prefix, *args = data.split(":")
    if prefix not in {INTAKE, MENU, STATUS, FIXED, RATE, FOR_TICKET, ANSWER, LANG, AGENT, MAJOR, CAUSE}:
        return None
    return Callback(prefix, tuple(args))
