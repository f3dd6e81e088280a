"""What the REST API speaks about tickets: Pydantic models with examples for the OpenAPI docs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.text_safety import readable
from app.tickets.changes import TicketChanges
from app.tickets.enums import ActorKind, AuthorKind, Priority, TicketSource, TicketStatus
from app.tickets.models import Ticket, TicketEvent, TicketMessage
from app.tickets.notes import MAX_NOTE_LENGTH

_AT = "2026-01-05T09:00:00Z"


class TicketRead(BaseModel):
    """A ticket as it stands."""

    number: int = Field(description="The ticket's number within the workspace.", examples=[12])
    display_number: str = Field(description="The number as people write it.", examples=["T-12"])
    subject: str = Field(examples=["Exports fail since this morning"])
    status: TicketStatus = Field(examples=[TicketStatus.OPEN])
    priority: Priority = Field(examples=[Priority.NORMAL])
    source: TicketSource = Field(description="How the ticket was opened.", examples=["message"])
    requester: str | None = Field(
        description="Slack user id of the requester.", examples=["U0CUSTOMER"]
    )
    requester_team: str | None = Field(
        description="Slack team id of an external (Slack Connect) requester.", examples=[None]
    )
    is_external: bool = Field(
        description="The requester is from another organisation.", examples=[False]
    )
    account: str | None = Field(description="The customer account, if known.", examples=["Acme"])
    assignee: str | None = Field(description="Slack user id of the assignee.", examples=["U0AGENT"])
    channel: str | None = Field(description="The customer channel.", examples=["C0SUPPORT"])
    channel_team: str | None = Field(
        description=(
            "Slack team id of the workspace the ticket came from: which workspace of an"
            " Enterprise Grid org, for an org-wide install. Null when not known."
        ),
        examples=["T0SUPPORT"],
    )
    permalink: str | None = Field(
        description="Link to the message that opened the ticket.",
        examples=["https://acme.slack.com/archives/C0SUPPORT/p1767603600000100"],
    )
    triage_channel: str | None = Field(
        description="Where the triage card is.", examples=["C0TRIAGE"]
    )
    sla_state: str = Field(description="on_track, at_risk or breached.", examples=["on_track"])
    first_response_due_at: datetime | None = Field(examples=["2026-01-05T13:00:00Z"])
    next_response_due_at: datetime | None = Field(examples=[None])
    resolution_due_at: datetime | None = Field(examples=["2026-01-07T17:00:00Z"])
    created_at: datetime = Field(examples=[_AT])
    updated_at: datetime | None = Field(examples=["2026-01-05T09:30:00Z"])
    first_response_at: datetime | None = Field(examples=["2026-01-05T09:12:00Z"])
    resolved_at: datetime | None = Field(examples=[None])
    closed_at: datetime | None = Field(examples=[None])

    @classmethod
    def of(cls, ticket: Ticket) -> Self:
        return cls(**_ticket_fields(ticket))


def _ticket_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "display_number": ticket.display_number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "source": ticket.source,
        "requester": ticket.requester_user_id,
        "requester_team": ticket.requester_team_id,
        "is_external": ticket.is_external,
        "account": ticket.account_name,
        "assignee": ticket.assignee_user_id,
        "channel": ticket.channel_id,
        "channel_team": ticket.channel_team_id,
        "permalink": ticket.permalink,
        "triage_channel": ticket.triage_channel_id,
        "sla_state": ticket.sla_state,
        "first_response_due_at": ticket.first_response_due_at,
        "next_response_due_at": ticket.next_response_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
    }


class MessageRead(BaseModel):
    """One message of the conversation, or an internal note."""

    channel: str = Field(examples=["C0SUPPORT"])
    ts: str = Field(
        description="Slack's message ts (notes get a `note-` id).", examples=["1767603600.000100"]
    )
    author: str | None = Field(description="Slack user id of the author.", examples=["U0CUSTOMER"])
    author_kind: AuthorKind = Field(examples=[AuthorKind.CUSTOMER])
    internal: bool = Field(
        description="An internal note, never shown to the customer.", examples=[False]
    )
    text: str = Field(
        description="The message as people read it: plain text, mentions as @names.",
        examples=["Exports fail since this morning, see @U0AGENT's note"],
    )
    slack_text: str = Field(
        description="The message in Slack's own format: `&`, `<` and `>` escaped, mentions as"
        " `<@U…>`, links as `<url|label>`.",
        examples=["Exports fail since this morning, see <@U0AGENT>'s note"],
    )
    created_at: datetime = Field(examples=[_AT])
    edited_at: datetime | None = Field(examples=[None])
    deleted_at: datetime | None = Field(examples=[None])

    @classmethod
    def of(cls, message: TicketMessage) -> Self:
        return cls(
            channel=message.channel_id,
            ts=message.ts,
            author=message.author_user_id,
            author_kind=message.author_kind,
            internal=message.is_internal,
            text=readable(message.text),
            slack_text=message.text,
            created_at=message.created_at,
            edited_at=message.edited_at,
            deleted_at=message.deleted_at,
        )


class EventRead(BaseModel):
    """One entry of the audit trail."""

    kind: str = Field(examples=["assigned"])
    actor_kind: ActorKind = Field(examples=[ActorKind.API_KEY])
    actor: str | None = Field(
        description="Slack user id, or the API key's prefix; none for ticketbot itself.",
        examples=["tb_k3x9q2ab"],
    )
    data: dict[str, Any] = Field(examples=[{"previous": None, "assignee": "U0AGENT"}])
    created_at: datetime = Field(examples=[_AT])

    @classmethod
    def of(cls, event: TicketEvent) -> Self:
        return cls(
            kind=event.kind,
            actor_kind=event.actor_kind,
            actor=event.actor_id,
            data=event.data or {},
            created_at=event.created_at,
        )


class TicketDetail(TicketRead):
    """A ticket with its conversation (internal notes included) and its audit trail."""

    messages: list[MessageRead]
    events: list[EventRead]

    @classmethod
    def with_history(
        cls, ticket: Ticket, messages: list[TicketMessage], events: list[TicketEvent]
    ) -> Self:
        return cls(
            **_ticket_fields(ticket),
            messages=[MessageRead.of(m) for m in messages],
            events=[EventRead.of(e) for e in events],
        )


class TicketPage(BaseModel):
    """One page of tickets; pass `next_cursor` as `cursor` for the next (null: no more)."""

    items: list[TicketRead]
    next_cursor: str | None = Field(
        examples=["eyJzIjoiLWNyZWF0ZWRfYXQiLCJrIjoiMjAyNi0wMS0wNVQwOTowMDowMCswMDowMCIsImkiOjEyfQ"]
    )


class StatusChange(StrEnum):
    """The statuses a ticket can be moved to (`new` and `discarded` are not set by hand)."""

    OPEN = TicketStatus.OPEN.value
    WAITING_ON_CUSTOMER = TicketStatus.WAITING_ON_CUSTOMER.value
    RESOLVED = TicketStatus.RESOLVED.value
    CLOSED = TicketStatus.CLOSED.value


class TicketUpdate(BaseModel):
    """Triage changes; give any of them. They are made as the same clicks in Slack would be."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"assignee": "U0AGENT", "priority": "high"},
                {"status": "waiting_on_customer"},
                {"status": "resolved"},
            ]
        },
    )

    assignee: str | None = Field(
        default=None,
        description="Slack user id to assign, or null to unassign.",
        examples=["U0AGENT", None],
    )
    priority: Priority | None = Field(default=None, description="The new priority (not null).")
    status: StatusChange | None = Field(
        default=None,
        description="Move the ticket along its life; `open` also reopens a resolved or closed"
        " ticket (not null).",
    )

    @field_validator("assignee")
    @classmethod
    def _slack_user_id(cls, value: str | None) -> str | None:
        if value is not None and not (
            value[:1] in ("U", "W") and value.isalnum() and value.isascii() and len(value) <= 32
        ):
            raise ValueError(f"{value!r} is not a Slack user id (like U0123ABCD)")
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of assignee, priority, status")
        for name in ("priority", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> TicketChanges:
        return TicketChanges(
            assign="assignee" in self.model_fields_set,
            assignee=self.assignee,
            priority=self.priority,
            status=TicketStatus(self.status) if self.status else None,
        )


NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE_LENGTH)
]


class NoteCreate(BaseModel):
    """An internal note for the team; posted in the triage thread, never to the customer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Customer is on the legacy plan; see T-9."}]},
    )

    text: NoteText = Field(description=f"The note (1 to {MAX_NOTE_LENGTH} characters).")


SubjectText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class TicketCreate(BaseModel):
    """A ticket opened by an API client, as an agent opens one with the new-ticket form: the
    same checks, triage card, SLA clocks and channel post."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": "Exports fail since this morning",
                    "description": "Every CSV export ends with a 500 since 08:00 UTC.",
                    "priority": "high",
                    "requester": "U0CUSTOMER",
                    "channel": "C0SUPPORT",
                    "external_id": "status-page-4711",
                }
            ]
        },
    )

    subject: SubjectText = Field(description="Plain text, shown as written (1 to 255 characters).")
    description: Annotated[str, StringConstraints(max_length=3000)] = Field(
        default="", description="Plain text: the conversation's first message."
    )
    priority: Priority = Field(default=Priority.NORMAL)
    requester: str | None = Field(
        default=None, description="Slack user id of who asked.", examples=["U0CUSTOMER"]
    )
    channel: str | None = Field(
        default=None,
        description="Slack channel to post the ticket in; replies in that post's thread join it.",
        examples=["C0SUPPORT"],
    )
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="Your id for this request: sending it again returns the same ticket (200).",
        examples=["status-page-4711"],
    )

    @field_validator("requester")
    @classmethod
    def _slack_user_id(cls, value: str | None) -> str | None:
        if value is not None and not (
            value[:1] in ("U", "W") and value.isalnum() and value.isascii() and len(value) <= 32
        ):
            raise ValueError(f"{value!r} is not a Slack user id (like U0123ABCD)")
        return value

    @field_validator("channel")
    @classmethod
    def _slack_channel_id(cls, value: str | None) -> str | None:
        if value is not None and not (
            value[:1] in ("C", "G") and value.isalnum() and value.isascii() and len(value) <= 32
        ):
            raise ValueError(f"{value!r} is not a Slack channel id (like C0123ABCD)")
        return value
