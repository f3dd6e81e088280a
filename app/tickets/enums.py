from enum import StrEnum


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    # Escalated to engineering (a Jira or Linear issue): back to open when the issue is done.
    WAITING_ON_ENGINEERING = "waiting_on_engineering"
    RESOLVED = "resolved"
    CLOSED = "closed"
    # Opened by mistake ("Not a request"): kept for the audit trail, left out of every number.
    DISCARDED = "discarded"


OPEN_STATUSES = frozenset(
    {
        TicketStatus.NEW,
        TicketStatus.OPEN,
        TicketStatus.WAITING_ON_CUSTOMER,
        TicketStatus.WAITING_ON_ENGINEERING,
    }
)
# Waiting on someone outside the team: the resolution clock is paused.
WAITING_STATUSES = frozenset(
    {TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.WAITING_ON_ENGINEERING}
)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketSource(StrEnum):
    MESSAGE = "message"
    REACTION = "reaction"
    COMMAND = "command"
    API = "api"
    INBOUND_WEBHOOK = "inbound_webhook"


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"


class ActorKind(StrEnum):
    """Who caused a ticket event: a Slack user, an API key, an inbound webhook, or ticketbot."""

    USER = "user"
    API_KEY = "api_key"
    WEBHOOK = "webhook"
    SYSTEM = "system"


class ListFilter(StrEnum):
    """The triage views of `/ticket list` (all of them show active tickets only)."""

    OPEN = "open"
    MINE = "mine"
    UNASSIGNED = "unassigned"
    BREACHING = "breaching"  # at risk or breached
    WAITING = "waiting"  # waiting on the customer


class SlaState(StrEnum):
    """Where a ticket stands against its SLA targets (`Ticket.sla_state`, set by app/sla)."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
