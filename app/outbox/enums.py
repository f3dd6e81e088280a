from enum import StrEnum


class OutboxKind(StrEnum):
    SLACK_API = "slack_api"
    WEBHOOK = "webhook"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
