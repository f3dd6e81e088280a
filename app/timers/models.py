"""Timers: time-based work (SLA alerts, CSAT prompts, auto-close) as rows with a due time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BatchInserted, BigIntegerId, JSONDocument, UTCDateTime
from app.types import created_at_column

_ACTIVE = text("done_at IS NULL AND cancelled_at IS NULL")


class Timer(BatchInserted, Base):
    __tablename__ = "timers"
    __table_args__ = (
        # Sweeps read only the active timers, so closed history never slows them down.
        Index("ix_timers_active_due", "due_at", postgresql_where=_ACTIVE, sqlite_where=_ACTIVE),
        Index("ix_timers_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # Idempotency: one timer per key (e.g. "sla:42:first_response:breach").
    key: Mapped[str | None] = mapped_column(String(255), unique=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()
