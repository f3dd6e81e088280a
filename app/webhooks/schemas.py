"""What the REST API speaks about webhooks: Pydantic models with examples for the OpenAPI docs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.tickets.enums import Priority, TicketStatus
from app.webhooks.enums import DeliveryStatus, WebhookEventType
from app.webhooks.inbound import InboundTicket, Requester
from app.webhooks.models import WebhookDelivery, WebhookSubscription

_AT = "2026-01-05T09:00:00Z"
_URL = "https://hooks.example.com/ticketbot"
_EVENTS = [WebhookEventType.TICKET_CREATED, WebhookEventType.TICKET_RESOLVED]


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


NoNul = AfterValidator(_no_nul)
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), NoNul]
Url = Annotated[str, NoNul]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="Where events are POSTed: an http(s) URL.", examples=[_URL])
    events: list[WebhookEventType] = Field(
        min_length=1, description="The event types to send.", examples=[_EVENTS]
    )
    description: Text255 = Field(default="", examples=["CRM sync"])


class WebhookUpdate(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = Field(default=None, examples=[_URL])
    events: list[WebhookEventType] | None = Field(default=None, min_length=1, examples=[_EVENTS])
    active: bool | None = Field(
        default=None,
        description="false stops deliveries (pending ones are cancelled); true resumes them.",
        examples=[False],
    )
    description: Text255 | None = Field(default=None, examples=["CRM sync"])


class WebhookRead(BaseModel):
    id: int = Field(examples=[3])
    url: str = Field(examples=[_URL])
    description: str = Field(examples=["CRM sync"])
    events: list[str] = Field(examples=[_EVENTS])
    active: bool = Field(examples=[True])
    created_at: datetime = Field(examples=[_AT])
    updated_at: datetime | None = Field(examples=[_AT])
    disabled_at: datetime | None = Field(examples=[None])

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> Self:
        return cls(
            id=subscription.id,
            url=subscription.url,
            description=subscription.description,
            events=list(subscription.event_types),
            active=subscription.active,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
            disabled_at=subscription.disabled_at,
        )


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="Signs every delivery (see README, Webhooks). Shown only in this answer.",
        examples=["whsec_3q2-7wE0R8m1n4xPjzQ9yA5cVbK6LdHfTgUs2oIeNrM"],
    )


class WebhookList(BaseModel):
    items: list[WebhookRead]


class DeliveryRead(BaseModel):
    """One event sent (or being sent) to one webhook, and how its attempts went."""

    id: int = Field(examples=[41])
    event_id: str = Field(
        description="Also the X-Ticketbot-Delivery header.",
        examples=["evt_6f1c2a9d0b8e4f37a5d2c1b0e9f8a7d6"],
    )
    event_type: str = Field(examples=["ticket.created"])
    status: DeliveryStatus = Field(examples=[DeliveryStatus.PENDING])
    attempts: int = Field(examples=[3])
    last_status_code: int | None = Field(
        description="The receiver's HTTP status at the last attempt (none if unreachable).",
        examples=[503],
    )
    last_error: str | None = Field(examples=["receiver answered 503: upstream unavailable"])
    redelivery_of: int | None = Field(
        description="The delivery this one sends again.", examples=[None]
    )
    created_at: datetime = Field(examples=[_AT])
    last_attempt_at: datetime | None = Field(examples=["2026-01-05T09:00:07Z"])
    next_attempt_at: datetime | None = Field(examples=["2026-01-05T09:00:15Z"])
    delivered_at: datetime | None = Field(examples=[None])

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> Self:
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            redelivery_of=delivery.redelivery_of_id,
            created_at=delivery.created_at,
            last_attempt_at=delivery.last_attempt_at,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
        )


class DeliveryPageRead(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page.",
        examples=["40"],
    )


# -- inbound -------------------------------------------------------------------------------


class InboundRequester(BaseModel):
    email: Text255 | None = Field(default=None, examples=["ana@example.com"])
    name: Text255 | None = Field(default=None, examples=["Ana Pérez"])
    slack_user_id: Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,31}$")] | None = (
        Field(default=None, examples=["U0CUSTOMER"])
    )


class InboundPayload(BaseModel):
    """A request from another system; the first for an `external_id` opens a ticket."""

    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), NoNul
    ] = Field(description="The request's id in the sending system.", examples=["ZD-4711"])
    subject: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), NoNul
    ] = Field(description="Cut to 255 characters.", examples=["Exports fail since this morning"])
    description: Annotated[str, StringConstraints(max_length=40000), NoNul] = Field(
        default="", examples=["Every CSV export ends with a 500 since 08:00 UTC."]
    )
    requester: InboundRequester = Field(default_factory=InboundRequester)
    priority: Priority | None = Field(default=None, examples=[Priority.HIGH])
    status: Literal["open", "resolved", "closed"] | None = Field(
        default=None, description="For updates: move the ticket.", examples=[None]
    )
    account: Text255 | None = Field(default=None, examples=["Acme"])

    def to_request(self) -> InboundTicket:
        return InboundTicket(
            external_id=self.external_id,
            subject=self.subject,
            description=self.description,
            requester=Requester(
                email=self.requester.email or None,
                name=self.requester.name or None,
                slack_user_id=self.requester.slack_user_id,
            ),
            priority=self.priority,
            status=TicketStatus(self.status) if self.status else None,
            account=self.account or None,
        )


class InboundResult(BaseModel):
    ticket: str = Field(description="The ticket's number.", examples=["T-12"])
    created: bool = Field(
        description="true: this request opened it (201); false: it updated it (200).",
        examples=[True],
    )
