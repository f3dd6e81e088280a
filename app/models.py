"""Imports every model so `Base.metadata` is complete (for alembic and tests)."""

from app.accounts.models import (
    Account,
    AccountHealth,
    AccountLink,
    ChannelDeparture,
    NpsOptOut,
    NpsSurvey,
    Testimonial,
)
from app.apikeys.models import ApiKey
from app.connectors.models import Connector, ConnectorLink, ConnectorSyncEntry
from app.csat.models import CsatOptOut, CsatSettings, CsatSurvey
from app.db import Base
from app.directory.models import SlackTeam
from app.home.models import HomeTab
from app.inbox.models import SlackEvent
from app.outbox.models import OutboxMessage, PacedKey
from app.reports.models import ReportRollup, ReportRollupDay, ReportRollupMonth
from app.sla.models import BusinessHours, SlaLedgerEntry, SlaPolicy
from app.team.models import TeamMember
from app.tickets.models import Ticket, TicketEvent, TicketMessage
from app.timers.models import Timer
from app.webhooks.models import InboundSource, WebhookDelivery, WebhookSubscription
from app.workspaces.models import WatchedChannel, Workspace

__all__ = [
    "Account",
    "AccountHealth",
    "AccountLink",
    "ApiKey",
    "Base",
    "BusinessHours",
    "ChannelDeparture",
    "Connector",
    "ConnectorLink",
    "ConnectorSyncEntry",
    "CsatOptOut",
    "CsatSettings",
    "CsatSurvey",
    "HomeTab",
    "InboundSource",
    "NpsOptOut",
    "NpsSurvey",
    "OutboxMessage",
    "PacedKey",
    "ReportRollup",
    "ReportRollupDay",
    "ReportRollupMonth",
    "SlaLedgerEntry",
    "SlaPolicy",
    "SlackEvent",
    "SlackTeam",
    "TeamMember",
    "Testimonial",
    "Ticket",
    "TicketEvent",
    "TicketMessage",
    "Timer",
    "WatchedChannel",
    "WebhookDelivery",
    "WebhookSubscription",
    "Workspace",
]
