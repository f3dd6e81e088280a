"""What a `/ticket` handler is given: the run it answers (`Call`, inside the listener's one
transaction, after the check of who may run it), or the request itself (`Slash`, for the few
subcommands answered at once, with no transaction: `help`, `new`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.nps import NpsPolicy
from app.accounts.scoring import HealthPolicy
from app.slack.context import SlackContext
from app.team.enums import Role
from app.tickets.actors import Actor


@dataclass(frozen=True)
class Call:
    """Who ran the command, where, and the transaction it runs in."""

    session: AsyncSession
    workspace_id: int
    actor: Actor  # the person who ran it, with their role on the support team
    user_id: str
    channel_id: str
    channel_name: str
    now: datetime
    bot_user_id: str | None
    health: HealthPolicy = field(default_factory=HealthPolicy)
    nps: NpsPolicy = field(default_factory=NpsPolicy)

    @property
    def role(self) -> Role | None:
        """Their role on the support team; None: they are not on it."""
        return self.actor.role


@dataclass(frozen=True)
class Slash:
    """A slash command to answer at once: the handler acknowledges it itself."""

    ctx: SlackContext
    ack: AsyncAck
    client: AsyncWebClient
    body: Mapping[str, Any]
