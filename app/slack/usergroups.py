"""Reading the support agents user group from Slack and applying it to the team.

This is a read, not an effect we owe Slack, so it is a direct call rather than an outbox row.
Any failure leaves the team as it was; the next run tries again.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.slack.authorize import BotIdentity
from app.team.usergroup_sync import UsergroupSyncResult, sync_usergroup_members
from app.workspaces.service import ensure_workspace

logger = logging.getLogger(__name__)


async def read_usergroup_members(client: AsyncWebClient, usergroup_id: str) -> list[str] | None:
    """The user ids in the group, or None (with a warning logged) if Slack did not say."""
    try:
        response = await client.usergroups_users_list(usergroup=usergroup_id)
    except SlackApiError as exc:
        logger.warning(
            "could not read user group %s (%s); team left as it was",
            usergroup_id,
            exc.response.get("error"),
        )
        return None
    except Exception as exc:
        logger.warning(
            "could not reach Slack to read user group %s (%s); team left as it was",
            usergroup_id,
            type(exc).__name__,
        )
        return None
    users = response.get("users")
    if not isinstance(users, list):
        logger.warning(
            "usergroups.users.list for %s had no user list; team left as it was", usergroup_id
        )
        return None
    return [str(user_id) for user_id in users]


async def sync_support_agents(
    *,
    client: AsyncWebClient,
    session_factory: async_sessionmaker[AsyncSession],
    identity: BotIdentity,
    usergroup_id: str,
    default_triage_channel_id: str | None = None,
) -> UsergroupSyncResult | None:
    """Make the group's members agents of the bot's workspace. None: nothing was changed.

    `default_triage_channel_id` is only used if the workspace is first heard of here.
    """
    if identity.installation is None:
        try:
            await identity.refresh()
        except Exception as exc:
            logger.warning("workspace unknown (auth.test: %s); user group not synced", exc)
            return None
    installation = identity.installation
    if installation is None or installation.key is None:
        return None
    member_ids = await read_usergroup_members(client, usergroup_id)
    if member_ids is None:
        return None
    async with session_factory() as session, session.begin():
        workspace = await ensure_workspace(
            session=session,
            slack_team_id=installation.key,
            default_triage_channel_id=default_triage_channel_id,
            enterprise_id=installation.enterprise_id,
            is_enterprise_install=installation.is_enterprise_install,
        )
        result = await sync_usergroup_members(
            session=session,
            workspace_id=workspace.id,
            usergroup_id=usergroup_id,
            member_ids=member_ids,
        )
    if result.changed:
        logger.info(
            "user group %s synced: %d agent(s) added, %d removed",
            usergroup_id,
            len(result.added),
            len(result.removed),
        )
    return result
