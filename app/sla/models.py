"""SLA policies (targets per priority, per workspace or per channel) and business hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BatchInserted, BigIntegerId, JSONDocument, UTCDateTime
from app.tickets.enums import Priority
from app.types import enum_column_type

WORKSPACE_SCOPE = ""
"""`scope` of a workspace-wide policy; a channel override's scope is the channel id."""


class SlaPolicy(Base):
    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("workspace_id", "scope", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(32), default=WORKSPACE_SCOPE)
    priority: Mapped[Priority] = mapped_column(enum_column_type(Priority))
    # Seconds; NULL means no target of that kind.
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    warn_fraction: Mapped[float] = mapped_column(Float, default=0.75)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BusinessHours(Base):
    """A workspace's working week: `weekly_hours` is {"mon": [["09:00", "17:00"]], ...}."""

    __tablename__ = "business_hours"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    closed_dates: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


OUTCOME_PREDICATE = text("kind IN ('met', 'met_late', 'breached')")
"""Ledger rows that decide a target: met in time, met late, or breached (the alert)."""


class SlaLedgerEntry(BatchInserted, Base):
    """The SLA ledger: every clock start, pause, resume, met target and breach, with its reason.

    The workspace, channel, assignee and account are copied from the ticket when the row is
    written (as CSAT surveys copy them), so SLA numbers by channel, agent and account come from
    one index without a join, and do not shift when the ticket later changes hands.
    """

    __tablename__ = "sla_ledger"
    __table_args__ = (
        Index("ix_sla_ledger_ticket", "ticket_id", "id"),
        # The metrics' SLA attainment: outcomes of one workspace in a period, index-only.
        Index(
            "ix_sla_ledger_outcomes",
            "workspace_id",
            "at",
            postgresql_include=["kind", "reason", "channel_id", "assignee_user_id", "account_name"],
            postgresql_where=OUTCOME_PREDICATE,
            sqlite_where=OUTCOME_PREDICATE,
        ),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(32))  # first_response | next_response | resolution
    kind: Mapped[str] = mapped_column(String(32))  # started | warned | met | breached | ...
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # For `started`: when the clock started (a re-plan after a priority change counts from it).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    channel_id: Mapped[str | None] = mapped_column(String(32))
    assignee_user_id: Mapped[str | None] = mapped_column(String(32))
    account_name: Mapped[str | None] = mapped_column(String(255))
