from enum import StrEnum


class OutboxKind(StrEnum):
    SLACK_API = "slack_api"
    WEBHOOK = "webhook"
    CONNECTOR = "connector"  # a call to a CRM, helpdesk or issue tracker (app/connectors)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
