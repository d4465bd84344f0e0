"""Ticket lifecycle: which state changes are allowed, as rules in code.

Incident: new → in_progress (diagnosis, restoration) → resolved (customer verifies) → closed.
Service request: new → in_progress → resolved (fulfilled) → closed. Either may wait on the customer.
"""

from __future__ import annotations

from helpdesk.vocabulary import State

ALLOWED: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.IN_PROGRESS, State.WAITING_CUSTOMER, State.RESOLVED, State.CANCELLED}),
    State.IN_PROGRESS: frozenset({State.WAITING_CUSTOMER, State.RESOLVED, State.CANCELLED}),
    State.WAITING_CUSTOMER: frozenset({State.IN_PROGRESS, State.RESOLVED, State.CANCELLED}),
    State.RESOLVED: frozenset({State.CLOSED, State.IN_PROGRESS}),  # confirmed, or reopened
    State.CLOSED: frozenset({State.IN_PROGRESS}),  # reopened
    State.CANCELLED: frozenset({State.IN_PROGRESS}),  # reopened by an agent
}


class TransitionError(ValueError):
    """A state change the rules forbid; `reason` is a short explanation for the agent."""

    def __init__(self, current: State, target: State, reason: str) -> None:
        super().__init__(reason)
        self.current = current
        self.target = target
        self.reason = reason


def check_transition(current: State, target: State, *, has_report: bool = False) -> None:
    if current == target:
        raise TransitionError(current, target, f"the ticket is already {current.value}")
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none"
        raise TransitionError(
            current, target, f"{current.value} → {target.value} is not allowed; from {current.value}: {allowed}"
        )
    if target == State.RESOLVED and not has_report:
        raise TransitionError(
            current, target, "resolving needs a closing report: /resolve N what was wrong, what was done"
        )
    if target == State.CLOSED and current != State.RESOLVED:
        raise TransitionError(current, target, "only a resolved ticket can be closed")
