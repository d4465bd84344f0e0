"""SLA targets (first response, resolution) per ticket type and priority, with operator overrides.

Incidents restore a service, so they get tighter targets than requests of the same priority.
Overrides come from settings such as ``SLA_INCIDENT_P1=15m/4h``; the keys are ``incident_p1`` …
``request_p4`` (``service_request_p1`` is accepted too) and the value is "first response/resolution".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from helpdesk.durations import format_duration, parse_duration
from helpdesk.vocabulary import Priority, TicketType


@dataclass(frozen=True)
class SlaTarget:
    first_response: timedelta
    resolution: timedelta

    def __str__(self) -> str:
        return f"{format_duration(self.first_response)}/{format_duration(self.resolution)}"


def _t(first_response: str, resolution: str) -> SlaTarget:
    return SlaTarget(parse_duration(first_response), parse_duration(resolution))


_DEFAULTS: dict[tuple[TicketType, Priority], SlaTarget] = {
    (TicketType.INCIDENT, Priority.P1): _t("15m", "4h"),
    (TicketType.INCIDENT, Priority.P2): _t("30m", "8h"),
    (TicketType.INCIDENT, Priority.P3): _t("4h", "3d"),
    (TicketType.INCIDENT, Priority.P4): _t("1d", "5d"),
    (TicketType.SERVICE_REQUEST, Priority.P1): _t("1h", "1d"),
    (TicketType.SERVICE_REQUEST, Priority.P2): _t("4h", "2d"),
    (TicketType.SERVICE_REQUEST, Priority.P3): _t("1d", "5d"),
    (TicketType.SERVICE_REQUEST, Priority.P4): _t("2d", "10d"),
}

_TYPE_KEYS: dict[str, TicketType] = {
    "incident": TicketType.INCIDENT,
    "inc": TicketType.INCIDENT,
    "request": TicketType.SERVICE_REQUEST,
    "service_request": TicketType.SERVICE_REQUEST,
    "req": TicketType.SERVICE_REQUEST,
}


def key_for(ticket_type: TicketType, priority: Priority) -> str:
    """The settings key of one cell, e.g. ``incident_p1`` or ``request_p3``."""
    prefix = "incident" if ticket_type == TicketType.INCIDENT else "request"
    return f"{prefix}_{Priority(priority).value.lower()}"


def _parse_key(key: str) -> tuple[TicketType, Priority]:
    norm = key.strip().lower().removeprefix("sla_")
    prefix, sep, prio = norm.rpartition("_")
    if not sep or prefix not in _TYPE_KEYS or prio.upper() not in Priority.__members__:
        raise ValueError(f"SLA override {key!r}: unknown key (use incident_p1…incident_p4 or request_p1…request_p4)")
    return _TYPE_KEYS[prefix], Priority(prio.upper())


def _parse_value(key: str, value: str) -> SlaTarget:
    first, sep, resolution = str(value).partition("/")
    if not sep or not first.strip() or not resolution.strip():
        raise ValueError(f"SLA override {key!r}: {value!r} is not 'first response/resolution', e.g. '15m/4h'")
    try:
        target = SlaTarget(parse_duration(first), parse_duration(resolution))
    except ValueError as exc:
        raise ValueError(f"SLA override {key!r}: {exc}") from None
    if target.first_response <= timedelta(0) or target.resolution <= timedelta(0):
        raise ValueError(f"SLA override {key!r}: durations must be positive, got {value!r}")
    if target.first_response > target.resolution:
        raise ValueError(
            f"SLA override {key!r}: first response {first.strip()} is after resolution {resolution.strip()}"
        )
    return target


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for every (type, priority); build with `SlaPolicy()` or `SlaPolicy.from_overrides(...)`."""

    DEFAULTS = MappingProxyType(_DEFAULTS)
    targets: Mapping[tuple[TicketType, Priority], SlaTarget] = field(
        default_factory=lambda: MappingProxyType(dict(_DEFAULTS))
    )

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, str | None]) -> SlaPolicy:
        """Defaults with some cells replaced; None or blank values keep the default."""
        targets = dict(_DEFAULTS)
        for key, value in overrides.items():
            cell = _parse_key(key)
            if value is None or not str(value).strip():
                continue
            targets[cell] = _parse_value(key, value)
        return cls(MappingProxyType(targets))

    def target(self, ticket_type: TicketType, priority: Priority) -> SlaTarget:
        return self.targets[(TicketType(ticket_type), Priority(priority))]
