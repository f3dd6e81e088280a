"""Rollup histograms stored as packed (bucket, count) pairs instead of JSON objects.

The rollups are a cache of the tickets, the SLA ledger and the CSAT surveys: their rows are
dropped with the old columns and the reports' timer builds them again (a report counts the days
not built from the rows meanwhile, so it is never wrong, only slower until then).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("report_rollups", "report_rollup_months")
_HISTOGRAMS = ("first_response", "resolution")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _replace_histograms(kind: sa.types.TypeEngine) -> None:
    op.execute("DELETE FROM report_rollup_days")
    for table in _TABLES:
        op.execute(f"DELETE FROM {table}")
        with op.batch_alter_table(table) as batch:
            for column in _HISTOGRAMS:
                batch.drop_column(column)
        with op.batch_alter_table(table) as batch:
            for column in _HISTOGRAMS:
                batch.add_column(sa.Column(column, kind, nullable=False))


def upgrade() -> None:
    _replace_histograms(sa.LargeBinary())


def downgrade() -> None:
    _replace_histograms(JSON)
