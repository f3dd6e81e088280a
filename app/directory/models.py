"""What Slack told us about users and teams (from users.info / team.info), cached.

Used to tell Slack Connect customers (users of another team) from our own people and to name
their organisation as the ticket's account, without a Web API call on the hot path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class SlackUser(Base):
    __tablename__ = "slack_users"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    real_name: Mapped[str | None] = mapped_column(String(255))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlackTeam(Base):
    __tablename__ = "slack_teams"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    domain: Mapped[str | None] = mapped_column(String(255))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
