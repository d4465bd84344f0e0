"""The desk's rules that operators tune: who the agents are, SLA targets, working hours, follow-up timings.

Each tunable is declared here once — name, type, default, validation — and nowhere else: the bot's
`Settings` (bot/config.py) inherits these fields, so `INFO_REMINDER_AFTER=45s` in `.env` arrives here
already checked, and the domain never reads the environment itself. Plain pydantic, no settings machinery.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from helpdesk.canned_replies import CannedReplies, CannedRepliesError, load_canned_replies
from helpdesk.durations import parse_duration
from helpdesk.sla import SlaPolicy
from helpdesk.teams import Teams, parse_teams
from helpdesk.worktime import WorkCalendar

if TYPE_CHECKING:
    from helpdesk.knowledge.articles import KnowledgeBase

#: a duration as operators write it: `45s`, `15m`, `4h`, `3d`, `1h30m`
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: TEAMS as a JSON object, read once (helpdesk/teams.py)
TeamsSetting = Annotated[Teams, BeforeValidator(parse_teams)]
LANGUAGES = ("en", "ru")
SLA_CELLS = tuple(f"sla_{kind}_p{n}" for kind in ("incident", "request") for n in range(1, 5))


class DeskPolicy(BaseModel):
    """What the domain needs to know about this desk; handed to every operation and job."""

    # a misspelt rule fails; Teams is our own class, checked by its validator
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, extra="forbid", arbitrary_types_allowed=True)

    # people and chats
    agent_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    staff_topics: bool = False
    default_language: str = "en"

    # teams and escalation (helpdesk/teams.py, helpdesk/escalation.py): category → team chat; managers hear
    # of /escalate N manager and of SLA breaches, privately and in the escalation chat
    teams: TeamsSetting = Teams()
    manager_ids: frozenset[int] = frozenset()
    escalation_chat_id: int | None = None

    # SLA and working time
    timezone: str = "UTC"
    business_hours: str | None = None
    sla_incident_p1: str | None = None
    sla_incident_p2: str | None = None
    sla_incident_p3: str | None = None
    sla_incident_p4: str | None = None
    sla_request_p1: str | None = None
    sla_request_p2: str | None = None
    sla_request_p3: str | None = None
    sla_request_p4: str | None = None
    sla_warning_ratio: float = Field(0.8, gt=0, lt=1)

    # follow-ups
    info_reminder_after: Duration = timedelta(hours=24)
    info_second_reminder_after: Duration = timedelta(hours=24)
    waiting_auto_close_after: Duration = timedelta(days=3)
    resolved_auto_close_after: Duration = timedelta(days=3)
    resolved_close_warning_before: Duration = timedelta(days=1)
    progress_update_p1: Duration = timedelta(hours=1)
    progress_update_p2: Duration = timedelta(hours=4)
    #: both at once: `2h` for P1 and P2, or `1h/4h` (P1/P2); PROGRESS_UPDATE_P1/P2 take precedence
    progress_update_every: str | None = None
    survey_after: Duration = timedelta(seconds=0)

    # major incidents: this many similar open incidents within the window are proposed as one
    major_incident_threshold: int = Field(3, ge=2)
    major_incident_window: Duration = Field(timedelta(minutes=30), gt=timedelta(0))

    # self-help: a folder of articles (NAME.en.md, NAME.ru.md); unset: no articles offered, /kb has none
    kb_dir: str | None = None

    # canned replies: a TOML file of templates agents send with `/reply N #name`; unset: none
    canned_replies_file: str | None = None

    # what one customer may ask of the desk (agents are never limited): new messages a minute in their
    # private chat, counted in the shared inbox so every process agrees (helpdesk/flood.py), and open
    # tickets at once (helpdesk/customer_limits.py)
    flood_messages_per_minute: int = 20
    max_open_tickets_per_customer: int = 10

    #: how long a closed ticket still counts as recent in /my (a rule of the product, not a setting)
    recently_closed: ClassVar[timedelta] = timedelta(days=14)

    _sla: SlaPolicy = PrivateAttr()
    _calendar: WorkCalendar = PrivateAttr()
    _knowledge: Any = PrivateAttr(default=None)
    _canned: tuple[str | None, CannedReplies] | None = PrivateAttr(default=None)

    @field_validator("agent_ids", "manager_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,;\s]+", value) if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(f"{value!r} is not a list of Telegram user ids separated by commas") from None
        return value

    @field_validator("staff_chat_id", "escalation_chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> Any:
        """A group's numeric id; "@mygroup" or a t.me link is the likely mistake, so say what is wanted."""
        if isinstance(value, str) and not re.fullmatch(r"-?\d+", value.strip()):
            raise ValueError(f"{value!r} is not a chat id: a group's id is a negative number such as -1001234567890")
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        code = value.strip().lower()[:2]
        if code not in LANGUAGES:
            raise ValueError(f"{value!r} is not a supported language (en or ru)")
        return code

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"{value!r} is not a time zone (an IANA name such as Europe/Moscow, or UTC)") from None
        return value

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        WorkCalendar.parse(value)  # raises ValueError with the reason
        return value

    @field_validator("flood_messages_per_minute", "max_open_tickets_per_customer", mode="before")
    @classmethod
    def _positive_count(cls, value: Any) -> Any:
        """A count people write: a whole number of at least 1 (0 would refuse everyone, 2.5 means nothing)."""
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            raise ValueError(f"{text!r} is not a whole number of at least 1")
        return int(text)

    @field_validator("canned_replies_file")
    @classmethod
    def _canned_file(cls, value: str | None) -> str | None:
        """Read at once, so a bad template stops every command with one line naming it."""
        try:
            load_canned_replies(value)
        except CannedRepliesError as exc:
            raise ValueError(str(exc)) from None
        return value or None

    @field_validator(*SLA_CELLS)
    @classmethod
    def _sla_cell(cls, value: str | None, info: Any) -> str | None:
        try:
            SlaPolicy.from_overrides({info.field_name.removeprefix("sla_"): value})
        except ValueError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _progress_every(cls, data: Any) -> Any:
        """PROGRESS_UPDATE_EVERY fills PROGRESS_UPDATE_P1/P2 that are not given themselves."""
        if not isinstance(data, dict) or not str(data.get("progress_update_every") or "").strip():
            return data
        parts = [p.strip() for p in str(data["progress_update_every"]).split("/")]
        if len(parts) > 2 or not all(parts):
            raise ValueError("PROGRESS_UPDATE_EVERY must be one duration (e.g. 2h) or two, for P1/P2 (e.g. 1h/4h)")
        try:
            p1, p2 = parse_duration(parts[0]), parse_duration(parts[-1])
        except ValueError as exc:
            raise ValueError(f"PROGRESS_UPDATE_EVERY: {exc}") from None
        return {"progress_update_p1": p1, "progress_update_p2": p2, **data}

    @field_validator("teams")
    @classmethod
    def _team_chats(cls, teams: Teams, info: Any) -> Teams:
        """A team in the staff chat itself needs a topic of its own, or nothing would tell the two apart."""
        for team in teams.all:
            if team.chat_id == info.data.get("staff_chat_id") and team.topic is None:
                raise ValueError(
                    f"team {team.name!r} has the chat of STAFF_CHAT_ID and no topic: give it a forum topic there, "
                    "or a chat of its own"
                )
        return teams

    def model_post_init(self, _context: Any) -> None:
        overrides = {name.removeprefix("sla_"): getattr(self, name) for name in SLA_CELLS}
        self._sla = SlaPolicy.from_overrides(overrides)
        self._calendar = WorkCalendar.parse(self.business_hours, self.timezone)

    @property
    def sla(self) -> SlaPolicy:
        """SLA targets: the defaults with the SLA_* cells that are set."""
        return self._sla

    @property
    def calendar(self) -> WorkCalendar:
        """Working time for SLA clocks: BUSINESS_HOURS in TIMEZONE (every hour when unset)."""
        return self._calendar

    @property
    def knowledge(self) -> KnowledgeBase:
        """The articles in KB_DIR, read on first use (the bot reads them at start, so a malformed article
        stops it there); KnowledgeBaseError, one line naming every bad file, when they cannot be used."""
        if self._knowledge is None:
            from helpdesk.knowledge.articles import load_knowledge_base  # the matcher's imports stay lazy

            self._knowledge = load_knowledge_base(self.kb_dir)
        return cast("KnowledgeBase", self._knowledge)

    @property
    def canned_replies(self) -> CannedReplies:
        """The templates of CANNED_REPLIES_FILE (checked when the policy was made), read once."""
        if self._canned is None or self._canned[0] != self.canned_replies_file:
            self._canned = (self.canned_replies_file, load_canned_replies(self.canned_replies_file))
        return self._canned[1]

    def is_agent(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.agent_ids

    def is_staff_chat(self, chat_id: int | None) -> bool:
        """The general staff chat or a team's: where agents work tickets."""
        return chat_id is not None and (chat_id == self.staff_chat_id or chat_id in self.teams.chat_ids())

    def due(self, start: datetime, delta: timedelta) -> datetime:
        """`start` plus `delta` of working time (all time when no business hours are set)."""
        return self.calendar.add(start, delta)
