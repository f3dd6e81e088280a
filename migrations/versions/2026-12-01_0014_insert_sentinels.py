"""An insert sentinel on the tables whose rows are inserted several at once.

SQLite does not promise the order of the rows that INSERT … RETURNING gives back, so SQLAlchemy
inserted such rows one statement each there; with a `_sentinel` column (numbered by SQLAlchemy
per statement, read by nothing else) it matches the ids to the rows of one multi-row INSERT.
A timer sweep of 1,000 SLA alerts on SQLite went from 3,000 inserts to one per table and
group. Nullable, no default: adding it rewrites nothing on either database.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 10:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "outbox",
    "sla_ledger",
    "ticket_messages",
    "ticket_events",
    "timers",
    "webhook_deliveries",
)


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("_sentinel")
