"""What Slack told us about other teams (from team.info), cached.

Slack Connect customers are recognised from the `user_team` of their messages; this cache names
their organisation as the ticket's account without a Web API call on the hot path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class SlackTeam(Base):
    __tablename__ = "slack_teams"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    domain: Mapped[str | None] = mapped_column(String(255))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
