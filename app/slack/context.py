"""What the Slack listeners need from the running app, handed to them when they are registered."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.errors import NotAllowed
from app.flows.conversation import IntakeRules
from app.metrics import Metrics
from app.slack.authorize import BotIdentity
from app.slack.installation import installation_of
from app.slack.installations import Installations
from app.workspaces.cache import WorkspaceIds
from app.workspaces.service import installation_workspace_id, installed_workspace_id

logger = logging.getLogger(__name__)

NOT_OUR_INSTALLATION = "This ticketbot serves another Slack workspace, so it can't help here."


@dataclass(frozen=True)
class SlackContext:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: Metrics
    identity: BotIdentity
    workspace_ids: WorkspaceIds
    rules: IntakeRules
    # Several workspaces installed through OAuth; None with one (SLACK_BOT_TOKEN).
    installations: Installations | None = None

    async def workspace_id_for(
        self, *, session: AsyncSession, body: Mapping[str, Any]
    ) -> int | None:
        """The workspace of the installation a request is for, or None when it is not ours.

        Every listener finds its workspace here. The installation comes from the payload as
        Slack documents it (app/slack/installation.py), never from the team of the person who
        wrote or clicked; with one bot token it must be the token's own installation, which
        auth.test told us. With several (OAuth), Bolt's authorize step has found the
        installation the payload names before any listener runs.
        """
        asked = installation_of(body)
        ours = self.identity.installation
        chosen = ours if ours is not None else asked
        if ours is not None and asked.key is not None and asked.key != ours.key:
            logger.warning(
                "ignoring a request for installation %s: this ticketbot serves %s",
                asked.key,
                ours.key,
            )
            return None
        if self.installations is not None:
            # Several workspaces: rows are made by installs, never by a request's payload.
            return await installed_workspace_id(
                session=session,
                team_id=None if chosen.is_enterprise_install else chosen.team_id,
                enterprise_id=chosen.enterprise_id,
            )
        if chosen.key is None:
            # Slack has not said who we are yet, and the payload does not say either.
            return await installation_workspace_id(session=session, slack_team_id=None)
        return await self.workspace_ids.get(
            session=session,
            slack_team_id=chosen.key,
            enterprise_id=chosen.enterprise_id,
            is_enterprise_install=chosen.is_enterprise_install,
        )

    async def require_workspace_id(self, *, session: AsyncSession, body: Mapping[str, Any]) -> int:
        """`workspace_id_for`, refusing (a domain error the listener shows) when it is not ours."""
        workspace_id = await self.workspace_id_for(session=session, body=body)
        if workspace_id is None:
            raise NotAllowed(NOT_OUR_INSTALLATION)
        return workspace_id


def intake_rules(settings: Settings) -> IntakeRules:
    return IntakeRules(
        grouping_window=timedelta(seconds=settings.ticket_grouping_window_seconds),
        not_a_request_phrases=tuple(settings.not_a_request_phrases),
        auto_reply_text=settings.auto_reply_text,
        off_hours_reply_text=settings.off_hours_reply_text,
        ticket_reaction=settings.ticket_reaction,
        resolve_reaction=settings.resolve_reaction,
        default_triage_channel_id=settings.triage_channel_id,
    )
