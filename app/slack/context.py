"""What the Slack listeners need from the running app, handed to them when they are registered."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.metrics import Metrics
from app.slack.authorize import BotIdentity
from app.workspaces.cache import WorkspaceIds


@dataclass(frozen=True)
class SlackContext:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: Metrics
    identity: BotIdentity
    workspace_ids: WorkspaceIds
