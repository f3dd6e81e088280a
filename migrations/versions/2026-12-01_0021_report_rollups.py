"""Daily rollups of the support metrics, for reports over long periods.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _workspace(**options: object) -> sa.Column:
    return sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
        **options,  # type: ignore[arg-type]
    )


def _numbers() -> list[sa.Column]:
    return [
        sa.Column("grouping", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("first_response", JSON, nullable=False),
        sa.Column("resolution", JSON, nullable=False),
        sa.Column("sla_met", sa.Integer(), nullable=False),
        sa.Column("sla_met_late", sa.Integer(), nullable=False),
        sa.Column("sla_breaches", sa.Integer(), nullable=False),
        sa.Column("csat_sent", sa.Integer(), nullable=False),
        sa.Column("csat_rated", sa.Integer(), nullable=False),
        sa.Column("csat_satisfied", sa.Integer(), nullable=False),
        sa.Column("csat_rating_sum", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_rollups",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("day", sa.Date(), nullable=False),
        *_numbers(),
        sa.UniqueConstraint("workspace_id", "day", "grouping", "key"),
    )
    op.create_table(
        "report_rollup_months",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("month", sa.Date(), nullable=False),
        *_numbers(),
        sa.UniqueConstraint("workspace_id", "month", "grouping", "key"),
    )
    op.create_table(
        "report_rollup_days",
        _workspace(primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_rollup_days")
    op.drop_table("report_rollup_months")
    op.drop_table("report_rollups")
