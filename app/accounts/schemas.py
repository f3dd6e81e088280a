"""Accounts as the REST API reads and writes them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.accounts.enums import LinkKind, Tier
from app.accounts.models import Account, AccountHealth, AccountLink
from app.accounts.nps import NpsNumbers
from app.accounts.queries import AccountSummary
from app.webhooks.schemas import NoNul

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), NoNul]
CrmKey = Annotated[str, StringConstraints(min_length=1, max_length=40), NoNul]
CrmId = Annotated[str, StringConstraints(max_length=255), NoNul]
MAX_REVENUE = 2_000_000_000  # the column is a 32-bit integer


def _slack_user_id(value: str | None) -> str | None:
    if value is not None and not (
        value[:1] in ("U", "W") and value.isalnum() and value.isascii() and len(value) <= 32
    ):
        raise ValueError(f"{value!r} is not a Slack user id (like U0123ABCD)")
    return value


def _channel_ids(values: list[str]) -> list[str]:
    for value in values:
        if not (
            value[:1] in ("C", "G") and value.isalnum() and value.isascii() and len(value) <= 32
        ):
            raise ValueError(f"{value!r} is not a Slack channel id (like C0123ABCD)")
    return values


class AccountRead(BaseModel):
    id: int = Field(examples=[7])
    name: str = Field(examples=["Acme"])
    owner: str | None = Field(description="Slack user id of the account owner (CSM).")
    tier: Tier | None
    renewal_on: date | None
    annual_revenue: int | None = Field(description="Whole currency units a year.")
    crm_ids: dict[str, str] = Field(examples=[{"hubspot": "1234567"}])
    slack_teams: list[str] = Field(description="Slack Connect organisations (team ids).")
    channels: list[str] = Field(description="Channels mapped to it.")
    domains: list[str] = Field(description="Email domains mapped to it.")
    health_score: int | None = Field(description="0-100, the latest daily score.", examples=[72])
    health_updated_at: datetime | None
    at_risk: bool = Field(description="Under the at-risk line, or fallen fast in a week.")
    churned_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, account: Account, links: list[AccountLink], *, at_risk: bool) -> Self:
        def keys(kind: LinkKind) -> list[str]:
            return sorted(link.key for link in links if link.kind is kind)

        return cls(
            id=account.id,
            name=account.name,
            owner=account.owner_user_id,
            tier=account.tier,
            renewal_on=account.renewal_on,
            annual_revenue=account.annual_revenue,
            crm_ids={str(k): str(v) for k, v in (account.crm_ids or {}).items()},
            slack_teams=keys(LinkKind.SLACK_TEAM),
            channels=keys(LinkKind.CHANNEL),
            domains=keys(LinkKind.DOMAIN),
            health_score=account.health_score,
            health_updated_at=account.health_updated_at,
            at_risk=at_risk,
            churned_at=account.churned_at,
            created_at=account.created_at,
        )


class AccountPage(BaseModel):
    items: list[AccountRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page (null: none).")


class HealthDay(BaseModel):
    day: date
    score: int
    reasons: list[str] = Field(
        description="What cost points, in words, the heaviest first.",
        examples=[["3 SLA breaches in 30 days: -12"]],
    )
    signals: dict[str, Any]

    @classmethod
    def of(cls, row: AccountHealth) -> Self:
        costs = sorted((r for r in row.reasons if r.get("points")), key=lambda r: r["points"])
        return cls(
            day=row.day,
            score=row.score,
            reasons=[f"{r['why']}: {r['points']}" for r in costs],
            signals=dict(row.signals),
        )


class AccountTicket(BaseModel):
    number: str = Field(examples=["T-42"])
    subject: str
    status: str
    priority: str
    created_at: datetime
    resolved_at: datetime | None


class AccountDetail(AccountRead):
    open_tickets: int
    tickets_90_days: int
    csat_average_90_days: float | None
    csat_ratings_90_days: int
    nps_180_days: float | None = Field(description="% promoters - % detractors, 180 days.")
    nps_answers_180_days: int
    health_history: list[HealthDay] = Field(description="Daily scores, newest first (90 days).")
    recent_tickets: list[AccountTicket] = Field(description="The latest 20, newest first.")

    @classmethod
    def build(
        cls,
        read: AccountRead,
        summary: AccountSummary,
        history: list[AccountHealth],
        tickets: list[AccountTicket],
        nps: NpsNumbers | None,
    ) -> Self:
        return cls(
            **read.model_dump(),
            open_tickets=summary.open_tickets,
            tickets_90_days=summary.recent_tickets,
            csat_average_90_days=summary.csat_average,
            csat_ratings_90_days=summary.csat_ratings,
            nps_180_days=nps.nps if nps else None,
            nps_answers_180_days=nps.answers if nps else 0,
            health_history=[HealthDay.of(row) for row in history],
            recent_tickets=tickets,
        )


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme",
                    "owner": "U0CSM",
                    "tier": "growth",
                    "renewal_on": "2027-03-31",
                    "channels": ["C0ACME"],
                    "domains": ["acme.com"],
                }
            ]
        },
    )

    name: Name
    owner: str | None = None
    tier: Tier | None = None
    renewal_on: date | None = None
    annual_revenue: int | None = Field(default=None, ge=0, le=MAX_REVENUE)
    crm_ids: dict[CrmKey, CrmId] = Field(default_factory=dict, max_length=20)
    channels: list[str] = Field(default_factory=list, max_length=100)
    domains: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return _slack_user_id(value)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        return _channel_ids(value)


class AccountUpdate(BaseModel):
    """Give any of these; null clears owner, tier, renewal_on and annual_revenue. Channels and
    domains listed under `add_*` / `remove_*` are mapped to it or taken off it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"owner": "U0CSM", "churned": True}]},
    )

    name: Name | None = None
    owner: str | None = None
    tier: Tier | None = None
    renewal_on: date | None = None
    annual_revenue: int | None = Field(default=None, ge=0, le=MAX_REVENUE)
    crm_ids: dict[CrmKey, CrmId] | None = Field(default=None, max_length=20)
    churned: bool | None = None
    add_channels: list[str] = Field(default_factory=list, max_length=100)
    remove_channels: list[str] = Field(default_factory=list, max_length=100)
    add_domains: list[str] = Field(default_factory=list, max_length=100)
    remove_domains: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return _slack_user_id(value)

    @field_validator("add_channels", "remove_channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        return _channel_ids(value)

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("name", "churned", "crm_ids"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ChurnWarning(BaseModel):
    days_before: int = Field(examples=[30])
    churned_average_score: float | None = Field(
        description="Average score of the churned accounts this many days before they churned."
    )
    churned_with_a_score: int
    churned_at_risk: int = Field(description="... of which were under the at-risk line then.")
    stayed_average_score: float | None = Field(
        description="Average score of the accounts that stayed, this many days before the end."
    )
    stayed_with_a_score: int


class ChurnRead(BaseModel):
    since: datetime
    until: datetime
    active_at_start: int
    churned: int
    churn_rate: float | None = Field(description="churned / active at the start (0-1).")
    churned_accounts: list[str]
    warnings: list[ChurnWarning] = Field(
        description="How well the health score warned: measured on our own history."
    )
