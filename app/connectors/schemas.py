"""What the REST API speaks about connectors (never a token or a webhook secret)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.connectors.models import Connector, ConnectorSyncEntry


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=512), AfterValidator(_no_nul)
]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_no_nul)]
Vendor = Literal["hubspot", "salesforce", "zendesk", "jira", "linear"]


class ConnectorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: Vendor = Field(examples=["zendesk"])
    base_url: Text = Field(
        description="The far side's API address: https://api.hubapi.com, your Salesforce"
        " instance URL, https://<you>.zendesk.com, https://<you>.atlassian.net,"
        " https://api.linear.app.",
        examples=["https://acme.zendesk.com"],
    )
    token: Secret = Field(description="API token or access token; stored encrypted.")
    email: Text | None = Field(
        default=None, description="The account's email (Zendesk and Jira API tokens need it)."
    )
    webhook_secret: Secret | None = Field(
        default=None,
        description="The secret the vendor signs its webhooks with (Zendesk, Jira, Linear).",
    )
    mapping: dict[str, Any] | None = Field(
        default=None, description="Overrides of the vendor's default field mapping."
    )


class ConnectorUpdate(BaseModel):
    """Only the fields given change. A new token clears a failing state and sends what waited."""

    model_config = ConfigDict(extra="forbid")

    base_url: Text | None = None
    token: Secret | None = None
    webhook_secret: Secret | None = None
    mapping: dict[str, Any] | None = None
    paused: bool | None = Field(
        default=None, description="true holds every sync; false sends them."
    )


class ConnectorRead(BaseModel):
    id: int = Field(examples=[2])
    vendor: str = Field(examples=["zendesk"])
    base_url: str = Field(examples=["https://acme.zendesk.com"])
    state: str = Field(description="active, paused or failing", examples=["active"])
    last_error: str | None = Field(examples=[None])
    mapping: dict[str, Any]
    webhook_url: str = Field(
        description="Where the vendor's webhooks go (path on this server).",
        examples=["/webhooks/connectors/2"],
    )
    takes_webhooks: bool
    created_at: datetime

    @classmethod
    def of(cls, connector: Connector, *, takes_webhooks: bool) -> Self:
        return cls(
            id=connector.id,
            vendor=connector.vendor,
            base_url=connector.base_url,
            state=connector.state,
            last_error=connector.last_error,
            mapping=dict(connector.mapping or {}),
            webhook_url=f"/webhooks/connectors/{connector.id}",
            takes_webhooks=takes_webhooks,
            created_at=connector.created_at,
        )


class ConnectorList(BaseModel):
    items: list[ConnectorRead]


class SyncEntryRead(BaseModel):
    id: int
    action: str = Field(examples=["sync_ticket"])
    record_kind: str = Field(examples=["ticket"])
    record_id: int
    outcome: str = Field(
        examples=["sent"], description="sent, retrying, failed, cancelled, received"
    )
    remote_id: str | None
    status_code: int | None
    error: str | None
    attempts: int
    at: datetime

    @classmethod
    def of(cls, entry: ConnectorSyncEntry) -> Self:
        return cls(
            id=entry.id,
            action=entry.action,
            record_kind=entry.record_kind,
            record_id=entry.record_id,
            outcome=entry.outcome,
            remote_id=entry.remote_id,
            status_code=entry.status_code,
            error=entry.error,
            attempts=entry.attempts,
            at=entry.at,
        )


class SyncLog(BaseModel):
    items: list[SyncEntryRead]


class Resync(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: Literal["ticket", "account"]
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] = (
        Field(description="A ticket number (T-42 or 42) or an account id.", examples=["T-42"])
    )


class WebhookAnswer(BaseModel):
    done: str = Field(examples=["issue done"])
