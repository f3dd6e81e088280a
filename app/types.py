"""Column helpers shared by the domain models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from app.db import UTCDateTime


def enum_column_type(enum_class: type[StrEnum]) -> Enum:
    """Store a StrEnum as its value in a VARCHAR (no native enum, no CHECK).

    Adding a member later is then a code change only, with no migration on either database.
    """
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def created_at_column() -> Mapped[datetime]:
    """A `created_at` column filled by the database when the row is inserted.

    Services pass their clock's time explicitly where tests need control; this default only
    covers rows written without one.
    """
    return mapped_column(UTCDateTime(), nullable=False, server_default=func.now())
