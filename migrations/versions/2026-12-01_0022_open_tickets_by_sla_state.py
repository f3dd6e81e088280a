"""The queue filtered by SLA state reads an index of the open tickets by state and priority.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 21:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status IN ('new', 'open', 'waiting_on_customer')")


def upgrade() -> None:
    op.create_index(
        "ix_tickets_open_by_sla_state",
        "tickets",
        ["workspace_id", "sla_state", "priority", "created_at"],
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_open_by_sla_state", table_name="tickets")
