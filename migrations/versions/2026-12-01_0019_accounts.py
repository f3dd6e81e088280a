"""Customer accounts, what links tickets to them, their daily health, and who left channels.

Every existing ticket of a Slack Connect organisation, or named for an account by its sender,
is given its account.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 17:00:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _workspace() -> sa.Column:
    return sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    )


def _account() -> sa.Column:
    return sa.Column(
        "account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )


def _created() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("owner_user_id", sa.String(32)),
        sa.Column("tier", sa.String(32)),
        sa.Column("renewal_on", sa.Date()),
        sa.Column("annual_revenue", sa.Integer()),
        sa.Column("crm_ids", JSON, nullable=False),
        sa.Column("churned_at", sa.DateTime(timezone=True)),
        sa.Column("health_score", sa.Integer()),
        sa.Column("health_updated_at", sa.DateTime(timezone=True)),
        sa.Column("health_week_ago", sa.Integer()),
        sa.Column("created_by", sa.String(32)),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workspace_id", "name"),
    )
    op.create_index("ix_accounts_workspace_health", "accounts", ["workspace_id", "health_score"])
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        _account(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        _created(),
        sa.UniqueConstraint("workspace_id", "kind", "key"),
    )
    op.create_index("ix_account_links_account", "account_links", ["account_id"])
    op.create_table(
        "account_health",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("signals", JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "day"),
    )
    op.create_table(
        "channel_departures",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_channel_departures_workspace_left", "channel_departures", ["workspace_id", "left_at"]
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_tickets_account_id", "accounts", ["account_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_tickets_account_created", ["account_id", "created_at"])
    _backfill()


def _backfill() -> None:
    """An account per Slack Connect organisation that has written in (named as its tickets
    show it), and per name an inbound sender gave; their tickets then point at it."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    teams = bind.execute(
        sa.text(
            "SELECT workspace_id, requester_team_id, MAX(account_name) FROM tickets"
            " WHERE is_external AND requester_team_id IS NOT NULL"
            " GROUP BY workspace_id, requester_team_id"
        )
    ).all()
    names = bind.execute(
        sa.text(
            "SELECT DISTINCT workspace_id, account_name FROM tickets"
            " WHERE account_name IS NOT NULL AND NOT is_external"
        )
    ).all()
    taken: dict[tuple[int, str], int] = {}

    def account_id(workspace_id: int, name: str) -> int:
        if (workspace_id, name.lower()) in taken:
            return taken[(workspace_id, name.lower())]
        found = bind.execute(
            sa.text(
                "INSERT INTO accounts (workspace_id, name, crm_ids, created_at, updated_at)"
                " VALUES (:w, :n, '{}', :now, :now) RETURNING id"
            ),
            {"w": workspace_id, "n": name[:255], "now": now},
        ).scalar_one()
        taken[(workspace_id, name.lower())] = found
        return found

    for workspace_id, team_id, name in teams:
        wanted = name or team_id
        if (workspace_id, wanted.lower()) in taken:
            wanted = f"{wanted} ({team_id})"
        made = account_id(workspace_id, wanted)
        bind.execute(
            sa.text(
                "INSERT INTO account_links (workspace_id, account_id, kind, key, created_at)"
                " VALUES (:w, :a, 'slack_team', :k, :now)"
            ),
            {"w": workspace_id, "a": made, "k": team_id, "now": now},
        )
        bind.execute(
            sa.text(
                "UPDATE tickets SET account_id = :a"
                " WHERE workspace_id = :w AND requester_team_id = :k AND is_external"
            ),
            {"a": made, "w": workspace_id, "k": team_id},
        )
    for workspace_id, name in names:
        made = account_id(workspace_id, name)
        bind.execute(
            sa.text(
                "UPDATE tickets SET account_id = :a WHERE workspace_id = :w"
                " AND account_name = :n AND NOT is_external"
            ),
            {"a": made, "w": workspace_id, "n": name},
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_account_created")
        batch_op.drop_constraint("fk_tickets_account_id", type_="foreignkey")
        batch_op.drop_column("account_id")
    op.drop_table("channel_departures")
    op.drop_table("account_health")
    op.drop_table("account_links")
    op.drop_index("ix_accounts_workspace_health", table_name="accounts")
    op.drop_table("accounts")
