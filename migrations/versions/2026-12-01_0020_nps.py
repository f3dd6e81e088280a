"""NPS (the questions asked of accounts' contacts, and who is never asked) and testimonials.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _workspace() -> sa.Column:
    return sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    )


def _created() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "nps_surveys",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("contact_user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("prompt_ts", sa.String(32)),
        sa.Column("owner_user_id", sa.String(32)),
        sa.Column("score", sa.Integer()),
        sa.Column("reason", sa.Text()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("reason_at", sa.DateTime(timezone=True)),
        sa.Column("detractor_alerted_at", sa.DateTime(timezone=True)),
        sa.Column("started_by", sa.String(32)),
        _created(),
    )
    op.create_index(
        "ix_nps_surveys_contact", "nps_surveys", ["workspace_id", "contact_user_id", "sent_at"]
    )
    op.create_index("ix_nps_surveys_account_answered", "nps_surveys", ["account_id", "answered_at"])
    op.create_table(
        "nps_opt_outs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(32)),
        _created(),
        sa.UniqueConstraint("workspace_id", "kind", "key"),
    )
    op.create_table(
        "testimonials",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="SET NULL")),
        sa.Column("person_user_id", sa.String(32), nullable=False),
        sa.Column("quote", sa.Text()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("prompt_ts", sa.String(32)),
        sa.Column("consent", sa.String(32), nullable=False),
        sa.Column("consent_wording", sa.Text(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("source", "source_id"),
    )
    op.create_index(
        "ix_testimonials_workspace_consent", "testimonials", ["workspace_id", "consent"]
    )


def downgrade() -> None:
    op.drop_index("ix_testimonials_workspace_consent", table_name="testimonials")
    op.drop_table("testimonials")
    op.drop_table("nps_opt_outs")
    op.drop_index("ix_nps_surveys_account_answered", table_name="nps_surveys")
    op.drop_index("ix_nps_surveys_contact", table_name="nps_surveys")
    op.drop_table("nps_surveys")
