"""Who has opened ticketbot's Home tab; only their tabs are kept up to date."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class HomeTab(Base):
    """A user who opened the Home tab: ticket changes republish it (views.publish) for them.

    Someone who never opened it costs no Slack call; the first opening publishes it anyway.
    """

    __tablename__ = "home_tabs"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    last_opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
