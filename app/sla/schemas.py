"""What the REST API speaks about SLAs: clocks, tickets at risk, policies and business hours.

Durations go out as whole seconds with the same time written as people write it (`4h`, `1d2h`);
targets come in as either.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.sla.calendar import WEEKDAYS
from app.sla.durations import MAX_DURATION, format_duration, parse_duration
from app.sla.models import SlaLedgerEntry
from app.sla.policies import Targets
from app.sla.queries import (
    AtRisk,
    AtRiskPage,
    ClockStatus,
    TargetClock,
    TicketSla,
    WorkingWeek,
)
from app.tickets.enums import Priority, TicketStatus

_AT = "2026-01-05T09:00:00Z"
MAX_CLOSED_DATES = 1000


def _seconds(duration: timedelta | None) -> int | None:
    return int(duration.total_seconds()) if duration is not None else None


def _human(duration: timedelta | None) -> str | None:
    return format_duration(duration) if duration is not None else None


# -- a ticket's clocks -------------------------------------------------------------------------


class SlaTargetRead(BaseModel):
    """One target of a ticket, as its latest clock run stands."""

    target: str = Field(
        description="first_response, next_response or resolution.", examples=["resolution"]
    )
    status: ClockStatus = Field(
        description="running, paused (waiting on the customer), met, breached (overdue, or met"
        " late) or not_started.",
        examples=[ClockStatus.RUNNING],
    )
    started_at: datetime | None = Field(description="When the clock started.", examples=[_AT])
    due_at: datetime | None = Field(
        description="When it falls (or fell) due; null while paused.",
        examples=["2026-01-07T17:00:00Z"],
    )
    remaining_seconds: int | None = Field(
        description="Business time left (frozen while paused); null when met, breached or not"
        " started.",
        examples=[50400],
    )
    remaining: str | None = Field(description="The same, as people write it.", examples=["14h"])
    overdue_seconds: int | None = Field(
        description="Business time past the due time, while a breached clock still runs.",
        examples=[None],
    )
    overdue: str | None = Field(examples=[None])
    paused: bool = Field(description="Paused while waiting on the customer.", examples=[False])
    paused_at: datetime | None = Field(examples=[None])
    warned_at: datetime | None = Field(
        description="When the at-risk warning was posted.", examples=[None]
    )
    met_at: datetime | None = Field(description="When the target was met.", examples=[None])
    breached_at: datetime | None = Field(
        description="When the target was breached.", examples=[None]
    )

    @classmethod
    def of(cls, clock: TargetClock) -> Self:
        return cls(
            target=clock.target,
            status=clock.status,
            started_at=clock.started_at,
            due_at=clock.due_at,
            remaining_seconds=_seconds(clock.remaining),
            remaining=_human(clock.remaining),
            overdue_seconds=_seconds(clock.overdue),
            overdue=_human(clock.overdue),
            paused=clock.paused,
            paused_at=clock.paused_at,
            warned_at=clock.warned_at,
            met_at=clock.met_at,
            breached_at=clock.breached_at,
        )


class SlaLedgerEntryRead(BaseModel):
    """One line of the SLA ledger: a clock started, paused, resumed, warned, met or breached."""

    target: str = Field(examples=["first_response"])
    kind: str = Field(
        description="started, paused, resumed, warned, met, met_late or breached.",
        examples=["started"],
    )
    due_at: datetime | None = Field(examples=["2026-01-05T13:00:00Z"])
    started_at: datetime | None = Field(examples=[_AT])
    reason: str = Field(examples=["ticket opened"])
    at: datetime = Field(examples=[_AT])

    @classmethod
    def of(cls, entry: SlaLedgerEntry) -> Self:
        return cls(
            target=entry.target,
            kind=entry.kind,
            due_at=entry.due_at,
            started_at=entry.started_at,
            reason=entry.reason,
            at=entry.at,
        )


class TicketSlaRead(BaseModel):
    """A ticket's SLA: each target's clock, and the ledger they come from."""

    number: int = Field(examples=[12])
    display_number: str = Field(examples=["T-12"])
    status: TicketStatus = Field(examples=[TicketStatus.OPEN])
    priority: Priority = Field(examples=[Priority.NORMAL])
    sla_state: str = Field(description="on_track, at_risk or breached.", examples=["on_track"])
    business_hours: bool = Field(
        description="The clocks count business hours (else around the clock).", examples=[True]
    )
    as_of: datetime = Field(description="When the times left were computed.", examples=[_AT])
    targets: list[SlaTargetRead]
    ledger: list[SlaLedgerEntryRead]

    @classmethod
    def of(cls, sla: TicketSla) -> Self:
        ticket = sla.ticket
        return cls(
            number=ticket.number,
            display_number=ticket.display_number,
            status=ticket.status,
            priority=ticket.priority,
            sla_state=ticket.sla_state,
            business_hours=sla.business_hours,
            as_of=sla.now,
            targets=[SlaTargetRead.of(clock) for clock in sla.clocks],
            ledger=[SlaLedgerEntryRead.of(entry) for entry in sla.ledger],
        )


# -- tickets at risk ---------------------------------------------------------------------------


class AtRiskRead(BaseModel):
    """An active ticket at risk or breached, and its running target that falls due first."""

    number: int = Field(examples=[12])
    display_number: str = Field(examples=["T-12"])
    subject: str = Field(examples=["Exports fail since this morning"])
    status: TicketStatus = Field(examples=[TicketStatus.OPEN])
    priority: Priority = Field(examples=[Priority.HIGH])
    assignee: str | None = Field(examples=["U0AGENT"])
    channel: str | None = Field(examples=["C0SUPPORT"])
    sla_state: str = Field(description="at_risk or breached.", examples=["at_risk"])
    target: str | None = Field(
        description="The running target due first; null when no clock runs (e.g. a breached"
        " ticket now waiting on the customer).",
        examples=["first_response"],
    )
    due_at: datetime | None = Field(examples=["2026-01-05T10:00:00Z"])
    remaining_seconds: int | None = Field(description="Business time left.", examples=[900])
    remaining: str | None = Field(examples=["15m"])
    overdue_seconds: int | None = Field(
        description="Business time past the due time.", examples=[None]
    )
    overdue: str | None = Field(examples=[None])

    @classmethod
    def of(cls, item: AtRisk) -> Self:
        ticket = item.ticket
        return cls(
            number=ticket.number,
            display_number=ticket.display_number,
            subject=ticket.subject,
            status=ticket.status,
            priority=ticket.priority,
            assignee=ticket.assignee_user_id,
            channel=ticket.channel_id,
            sla_state=ticket.sla_state,
            target=item.target,
            due_at=item.due_at,
            remaining_seconds=_seconds(item.remaining),
            remaining=_human(item.remaining),
            overdue_seconds=_seconds(item.overdue),
            overdue=_human(item.overdue),
        )


class AtRiskPageRead(BaseModel):
    """One page; pass `next_cursor` as `cursor` for the next (null: no more)."""

    items: list[AtRiskRead]
    next_cursor: str | None = Field(examples=[None])

    @classmethod
    def of(cls, page: AtRiskPage) -> Self:
        return cls(items=[AtRiskRead.of(item) for item in page.items], next_cursor=page.next_cursor)


# -- policies ----------------------------------------------------------------------------------


class SlaPolicyRead(BaseModel):
    """The targets of one priority (null: no target of that kind)."""

    priority: Priority = Field(examples=[Priority.NORMAL])
    first_response_seconds: int | None = Field(examples=[14400])
    first_response: str | None = Field(examples=["4h"])
    next_response_seconds: int | None = Field(examples=[28800])
    next_response: str | None = Field(examples=["8h"])
    resolution_seconds: int | None = Field(examples=[86400])
    resolution: str | None = Field(examples=["1d"])
    warn_fraction: float = Field(
        description="The at-risk warning goes out at this share of a target.", examples=[0.75]
    )
    business_hours: bool = Field(
        description="Targets count business hours (else around the clock).", examples=[True]
    )
    source: str = Field(
        description="default, workspace or channel: where these targets come from.",
        examples=["workspace"],
    )

    @classmethod
    def of(cls, targets: Targets) -> Self:
        return cls(
            priority=targets.priority,
            first_response_seconds=_seconds(targets.first_response),
            first_response=_human(targets.first_response),
            next_response_seconds=_seconds(targets.next_response),
            next_response=_human(targets.next_response),
            resolution_seconds=_seconds(targets.resolution),
            resolution=_human(targets.resolution),
            warn_fraction=targets.warn_fraction,
            business_hours=targets.business_hours,
            source=targets.source,
        )


class SlaPoliciesRead(BaseModel):
    """The targets of every priority, for the workspace or for one channel."""

    channel: str | None = Field(
        description="The channel these targets apply in; null: the workspace's.", examples=[None]
    )
    policies: list[SlaPolicyRead]


def _duration(value: Any) -> Any:
    """A target as whole seconds (a JSON number) or as people write it (`4h`, `1h30m`)."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds or a duration like 4h")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be longer than zero")
        duration = timedelta(seconds=value)
        if duration > MAX_DURATION:
            raise ValueError("must be at most a year")
        return duration
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("must be a whole number of seconds or a duration like 4h")


TargetDuration = Annotated[
    timedelta | None,
    BeforeValidator(_duration),
    Field(description="Seconds (a number) or a duration like `90m`, `4h`, `2d`, `1h30m`."),
]


class SlaPolicyChange(BaseModel):
    """New targets for one priority; what is left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority
    first_response: TargetDuration = None
    next_response: TargetDuration = None
    resolution: TargetDuration = None
    warn_fraction: float | None = Field(
        default=None, gt=0, lt=1, description="Warn at this share of a target (0 to 1)."
    )
    business_hours: bool | None = Field(
        default=None, description="Count business hours (true) or around the clock (false)."
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        changed = self.model_fields_set - {"priority"}
        if not changed:
            raise ValueError(
                "give at least one of first_response, next_response, resolution,"
                " warn_fraction, business_hours"
            )
        for name in sorted(changed):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (a target can be changed, not removed)")
        return self


class SlaPoliciesUpdate(BaseModel):
    """Change the targets of one or more priorities, in the workspace or in one channel."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"policies": [{"priority": "high", "first_response": "30m", "resolution": 14400}]},
                {
                    "channel": "C0VIP",
                    "policies": [{"priority": "normal", "first_response": 3600}],
                },
            ]
        },
    )

    channel: str | None = Field(
        default=None,
        description="A channel id to set an override for that channel; null: the workspace's.",
        max_length=32,
        pattern=r"^[A-Z0-9]+$",
    )
    policies: list[SlaPolicyChange] = Field(min_length=1, max_length=len(Priority))

    @field_validator("policies")
    @classmethod
    def _one_change_per_priority(cls, value: list[SlaPolicyChange]) -> list[SlaPolicyChange]:
        seen: set[Priority] = set()
        for change in value:
            if change.priority in seen:
                raise ValueError(f"priority {change.priority.value} is given twice")
            seen.add(change.priority)
        return value


# -- business hours ----------------------------------------------------------------------------

_DAY_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


class BusinessHoursRead(BaseModel):
    """The workspace's working week: SLA clocks in business hours count only these times."""

    time_zone: str = Field(examples=["Europe/Berlin"])
    weekly_hours: dict[str, list[list[str]]] = Field(
        description="Opening hours per weekday (mon to sun); a day not listed is closed.",
        examples=[{"mon": [["09:00", "17:00"]], "tue": [["09:00", "12:00"], ["13:00", "17:00"]]}],
    )
    holiday_country: str | None = Field(
        description="Public holidays of this country (ISO code) are closed.", examples=["DE"]
    )
    holiday_subdivision: str | None = Field(
        description="Also the holidays of this state or region.", examples=["BY"]
    )
    closed_dates: list[date] = Field(
        description="Further days off.", examples=[["2026-12-24", "2026-12-31"]]
    )
    is_default: bool = Field(
        description="No business hours were set: Monday to Friday, 09:00-17:00 UTC.",
        examples=[False],
    )
    description: str = Field(examples=["mon 09:00-17:00, ... (Europe/Berlin)"])
    updated_by: str | None = Field(examples=["tb_k3x9q2ab"])
    updated_at: datetime | None = Field(examples=[_AT])

    @classmethod
    def of(cls, week: WorkingWeek) -> Self:
        return cls(
            time_zone=week.time_zone,
            weekly_hours=week.weekly_hours,
            holiday_country=week.holiday_country,
            holiday_subdivision=week.holiday_subdivision,
            closed_dates=week.closed_dates,
            is_default=week.is_default,
            description=week.description,
            updated_by=week.updated_by,
            updated_at=week.updated_at,
        )


class BusinessHoursUpdate(BaseModel):
    """The whole working week, replacing the one set before."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "time_zone": "Europe/Berlin",
                    "weekly_hours": {
                        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "holiday_country": "DE",
                    "holiday_subdivision": "BY",
                    "closed_dates": ["2026-12-24", "2026-12-31"],
                }
            ]
        },
    )

    time_zone: str = Field(description="An IANA time zone.", examples=["Europe/Berlin"])
    weekly_hours: dict[str, list[list[str]]] = Field(
        description='Per weekday, opening spans as ["HH:MM", "HH:MM"]; "00:00" as the end'
        " means midnight. At least one day must be open.",
    )
    holiday_country: str | None = Field(
        default=None, description="ISO country code whose public holidays are closed."
    )
    holiday_subdivision: str | None = Field(
        default=None, description="A state or region code of that country (e.g. BY)."
    )
    closed_dates: list[date] = Field(
        default_factory=list, max_length=MAX_CLOSED_DATES, description="Further days off."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use one like Europe/Berlin") from None
        return value

    @field_validator("holiday_country", "holiday_subdivision")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not (value.replace("-", "").isalnum() and value.isascii() and 0 < len(value) <= 8):
            raise ValueError(f"{value!r} is not a country or region code")
        return value

    @field_validator("weekly_hours")
    @classmethod
    def _valid_week(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        week: dict[str, list[list[str]]] = {}
        for name, spans in value.items():
            day = _DAY_NAMES.get(name.strip().lower(), name.strip().lower())
            if day not in WEEKDAYS:
                raise ValueError(f"{name!r} is not a weekday; use mon, tue, ... sun")
            if day in week:
                raise ValueError(f"{day} is given twice")
            week[day] = [_span(day, span) for span in spans]
            _no_overlap(day, week[day])
        if not any(week.values()):
            raise ValueError("at least one day needs opening hours")
        return {day: week[day] for day in WEEKDAYS if day in week}


def _span(day: str, span: list[str]) -> list[str]:
    if len(span) != 2:
        raise ValueError(f'{day}: each span is ["HH:MM", "HH:MM"], got {span!r}')
    try:
        opens, closes = (time.fromisoformat(part) for part in span)
    except (TypeError, ValueError):
        raise ValueError(f"{day}: {span!r} is not two times like 09:00") from None
    if not (opens < closes or closes == time(0)):
        raise ValueError(f"{day}: {span[0]} must be before {span[1]}")
    return [opens.strftime("%H:%M"), closes.strftime("%H:%M")]


def _no_overlap(day: str, spans: list[list[str]]) -> None:
    ends = sorted((opens, "24:00" if closes == "00:00" else closes) for opens, closes in spans)
    for (_, closes), (opens, _) in pairwise(ends):
        if opens < closes:
            raise ValueError(f"{day}: the spans overlap")
