from enum import StrEnum


class WebhookEventType(StrEnum):
    """The events a subscription may ask for; the value is the `type` of the delivered body."""

    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    TICKET_RESOLVED = "ticket.resolved"
    TICKET_REOPENED = "ticket.reopened"
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"
    CSAT_RECEIVED = "csat.received"
    ACCOUNT_HEALTH_CHANGED = "account.health_changed"
    NPS_RECEIVED = "nps.received"
    TESTIMONIAL_CONSENTED = "testimonial.consented"


class DeliveryStatus(StrEnum):
    """Where one delivery of one event to one subscription stands."""

    PENDING = "pending"  # not tried yet, or failed in a way worth retrying
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # the receiver refused (4xx), or retries ran out
    CANCELLED = "cancelled"  # the subscription was deleted or disabled before delivery
