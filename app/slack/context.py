"""What the Slack listeners need from the running app, handed to them when they are registered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.metrics import Metrics
from app.slack.authorize import BotIdentity
from app.tickets.conversation import IntakeRules
from app.workspaces.cache import WorkspaceIds


@dataclass(frozen=True)
class SlackContext:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: Metrics
    identity: BotIdentity
    workspace_ids: WorkspaceIds
    rules: IntakeRules


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
