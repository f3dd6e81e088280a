"""Daily rollups of the support metrics: per workspace, calendar day (the workspace's zone),
and grouping (the whole day, or one channel, agent or account), the day's counts and its
durations as histograms. Written only by app/reports/rollups.py, which rebuilds a day from the
tickets, the SLA ledger and the CSAT surveys; reports over long periods read these."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class RollupNumbers:
    """A grouping's numbers over a day or a month."""

    # day (the whole day or month) | channel | agent | account
    grouping: Mapped[str] = mapped_column(String(16))
    # The channel id, agent's user id or account name; "" for none (and for `day`).
    key: Mapped[str] = mapped_column(String(255))
    opened: Mapped[int] = mapped_column(Integer, default=0)
    # Histograms (app/reports/histogram.py `encode`) of the seconds from opening to the first
    # response and to the resolution of the tickets first answered / resolved then.
    first_response: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    resolution: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    sla_met_late: Mapped[int] = mapped_column(Integer, default=0)
    sla_breaches: Mapped[int] = mapped_column(Integer, default=0)
    csat_sent: Mapped[int] = mapped_column(Integer, default=0)
    csat_rated: Mapped[int] = mapped_column(Integer, default=0)
    csat_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    csat_rating_sum: Mapped[int] = mapped_column(Integer, default=0)


class ReportRollup(RollupNumbers, Base):
    __tablename__ = "report_rollups"
    __table_args__ = (UniqueConstraint("workspace_id", "day", "grouping", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date())


class ReportRollupMonth(RollupNumbers, Base):
    """A calendar month's rollup: the sum of its days', rebuilt with them, so that a year's
    report by account reads twelve rows a group instead of 365."""

    __tablename__ = "report_rollup_months"
    __table_args__ = (UniqueConstraint("workspace_id", "month", "grouping", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date())  # its first day


class ReportRollupDay(Base):
    """That a workspace's day is rolled up, and when it was last built."""

    __tablename__ = "report_rollup_days"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
