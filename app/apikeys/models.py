"""API keys. Only a SHA-256 hash of each key is stored, with a short prefix to show and find it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDocument, UTCDateTime
from app.types import created_at_column
from app.workspaces.models import Workspace


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The non-secret middle of `tb_<prefix>_<secret>`: shown in lists, used to find the key.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # Hex SHA-256 of the whole key. Keys are 256-bit random, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # The workspace it acts on; None: the one workspace there is (keys made before several
    # could be installed).
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey(Workspace.id, ondelete="CASCADE"))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def display_prefix(self) -> str:
        return f"tb_{self.prefix}"
