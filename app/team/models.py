"""Team members: the workspace's support staff. Everyone else in a watched channel is a customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDocument
from app.team.enums import Role
from app.types import created_at_column, enum_column_type


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("workspace_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[Role] = mapped_column(enum_column_type(Role))
    added_by: Mapped[str | None] = mapped_column(String(32))
    # Auto-assignment: at most this many open tickets (NULL: no limit), and only during these
    # hours, {"time_zone": "Europe/Berlin", "days": ["mon", ...], "opens": "09:00",
    # "closes": "17:00"} (NULL: the workspace's business hours).
    capacity: Mapped[int | None] = mapped_column(Integer)
    working_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = created_at_column()
