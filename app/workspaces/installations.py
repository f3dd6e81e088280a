"""Installations through Slack's OAuth flow: each workspace's bot token, stored encrypted.

The one writer of `slack_installations` and `slack_oauth_states`. Tokens enter and leave this
module in plain text only in memory; what is written is `TokenCipher`'s ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.token_cipher import TokenCipher
from app.workspaces.models import OAuthState, SlackInstallation, Workspace
from app.workspaces.service import ensure_workspace


@dataclass(frozen=True, kw_only=True)
class NewInstallation:
    """What Slack's `oauth.v2.access` (and `auth.test`) said of a new or renewed install."""

    team_id: str | None
    team_name: str | None
    enterprise_id: str | None
    enterprise_name: str | None
    is_enterprise_install: bool
    app_id: str | None
    bot_id: str | None
    bot_user_id: str
    bot_scopes: str
    bot_token: str
    bot_refresh_token: str | None
    bot_token_expires_at: datetime | None
    installer_user_id: str | None
    domain: str | None = None

    @property
    def key(self) -> str:
        """The workspace row's key: the org for an org-wide install, else the workspace."""
        key = self.enterprise_id if self.is_enterprise_install else self.team_id
        if key is None:
            raise ValueError("an installation names neither its workspace nor its org")
        return key


@dataclass(frozen=True, kw_only=True)
class InstalledBot(NewInstallation):
    """A workspace's stored installation, its tokens decrypted."""

    workspace_id: int
    installation_key: str
    installed_at: datetime


async def save_installation(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    installation: NewInstallation,
    now: datetime,
    default_triage_channel_id: str | None = None,
) -> int:
    """Store an install (a re-install replaces the tokens); returns its workspace's id."""
    workspace = await ensure_workspace(
        session=session,
        slack_team_id=installation.key,
        name=(
            installation.enterprise_name
            if installation.is_enterprise_install
            else installation.team_name
        ),
        domain=installation.domain,
        bot_user_id=installation.bot_user_id,
        default_triage_channel_id=default_triage_channel_id,
        enterprise_id=installation.enterprise_id,
        is_enterprise_install=installation.is_enterprise_install,
    )
    row = await session.scalar(
        select(SlackInstallation)
        .where(SlackInstallation.workspace_id == workspace.id)
        .with_for_update()
    )
    if row is None:
        row = SlackInstallation(workspace_id=workspace.id, installed_at=now)
        session.add(row)
    row.app_id = installation.app_id
    row.team_id = installation.team_id
    row.team_name = installation.team_name
    row.enterprise_id = installation.enterprise_id
    row.enterprise_name = installation.enterprise_name
    row.is_enterprise_install = installation.is_enterprise_install
    row.bot_id = installation.bot_id
    row.bot_user_id = installation.bot_user_id
    row.bot_scopes = installation.bot_scopes
    row.bot_token_encrypted = cipher.encrypt(installation.bot_token)
    row.bot_refresh_token_encrypted = (
        cipher.encrypt(installation.bot_refresh_token) if installation.bot_refresh_token else None
    )
    row.bot_token_expires_at = installation.bot_token_expires_at
    row.installer_user_id = installation.installer_user_id
    row.updated_at = now
    await session.flush()
    return workspace.id


async def find_installed_bot(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    installation_key: str | None = None,
    workspace_id: int | None = None,
) -> InstalledBot | None:
    """A workspace's installation, by its key or its row id."""
    query = select(SlackInstallation, Workspace.slack_team_id).join(
        Workspace, Workspace.id == SlackInstallation.workspace_id
    )
    if workspace_id is not None:
        query = query.where(SlackInstallation.workspace_id == workspace_id)
    elif installation_key is not None:
        query = query.where(Workspace.slack_team_id == installation_key)
    else:
        raise ValueError("name the installation by its key or its workspace")
    found = (await session.execute(query)).first()
    if found is None:
        return None
    row, key = found
    return InstalledBot(
        workspace_id=row.workspace_id,
        installation_key=key,
        team_id=row.team_id,
        team_name=row.team_name,
        enterprise_id=row.enterprise_id,
        enterprise_name=row.enterprise_name,
        is_enterprise_install=row.is_enterprise_install,
        app_id=row.app_id,
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=row.bot_scopes,
        bot_token=cipher.decrypt(row.bot_token_encrypted),
        bot_refresh_token=(
            cipher.decrypt(row.bot_refresh_token_encrypted)
            if row.bot_refresh_token_encrypted
            else None
        ),
        bot_token_expires_at=row.bot_token_expires_at,
        installer_user_id=row.installer_user_id,
        installed_at=row.installed_at,
    )


async def claim_refresh(
    *, session: AsyncSession, workspace_id: int, due_by: datetime, now: datetime, until: datetime
) -> bool:
    """Claim the refresh of a token expiring by `due_by`, unless another claim holds it; one
    UPDATE, so of concurrent claimers exactly one wins (the row's lock decides)."""
    result = await session.execute(
        update(SlackInstallation)
        .where(
            SlackInstallation.workspace_id == workspace_id,
            SlackInstallation.bot_refresh_token_encrypted.is_not(None),
            SlackInstallation.bot_token_expires_at <= due_by,
            or_(
                SlackInstallation.refresh_claimed_until.is_(None),
                SlackInstallation.refresh_claimed_until < now,
            ),
        )
        .values(refresh_claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def store_refreshed_token(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    workspace_id: int,
    bot_token: str,
    bot_refresh_token: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    row = await session.scalar(
        select(SlackInstallation).where(SlackInstallation.workspace_id == workspace_id)
    )
    if row is None:
        return  # uninstalled meanwhile: nothing to keep
    row.bot_token_encrypted = cipher.encrypt(bot_token)
    row.bot_refresh_token_encrypted = cipher.encrypt(bot_refresh_token)
    row.bot_token_expires_at = expires_at
    row.refresh_claimed_until = None
    row.updated_at = now


async def delete_installation(*, session: AsyncSession, workspace_id: int) -> bool:
    """Forget a workspace's tokens (uninstalled, or its bot token revoked). Its tickets and
    everything else stay: a re-install finds them."""
    result = await session.execute(
        delete(SlackInstallation).where(SlackInstallation.workspace_id == workspace_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def reencrypt_tokens(*, session: AsyncSession, cipher: TokenCipher) -> int:
    """Encrypt every stored token again with the newest key; returns how many installations."""
    rows = list(await session.scalars(select(SlackInstallation).with_for_update()))
    for row in rows:
        row.bot_token_encrypted = cipher.reencrypt(row.bot_token_encrypted)
        if row.bot_refresh_token_encrypted:
            row.bot_refresh_token_encrypted = cipher.reencrypt(row.bot_refresh_token_encrypted)
    return len(rows)


# -- the states of installs under way -----------------------------------------------------------


async def issue_state(*, session: AsyncSession, state: str, expires_at: datetime) -> None:
    session.add(OAuthState(state=state, expires_at=expires_at))


async def consume_state(*, session: AsyncSession, state: str, now: datetime) -> bool:
    """Use a state up: True once, if it was issued and has not expired."""
    result = await session.execute(
        delete(OAuthState).where(OAuthState.state == state, OAuthState.expires_at > now)
    )
    await session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
    return bool(getattr(result, "rowcount", 0))
