"""What a connector's far side is asked to do, and how it answers, for every vendor alike.

A vendor module (hubspot.py, salesforce.py, zendesk.py, jira.py, linear.py) turns one `Push`
into the vendor's documented HTTP calls with the `httpx.AsyncClient` it is given, and answers
with a `Remote` (the far side's id for our record) or raises `FarSideError`, classified so the
outbox knows whether to retry (429, 5xx, timeouts), stop (bad credentials, refused) or look
first. Vendor modules hold no database or Slack code: the connector's sender
(app/connectors/sender.py) loads the record as it stands now, hands it over, and records
the answer.

Replays never duplicate: an update carries the stored `Remote`; a create whose earlier attempt
may have reached the far side (`look_first`) searches for our record by the id we stamp on it
(`Push.ours`, e.g. a HubSpot property, a Zendesk `external_id`, a Jira label) before creating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx


class Action(StrEnum):
    SYNC_ACCOUNT = "sync_account"  # CRMs: our account -> their company / Account
    SYNC_TICKET = "sync_ticket"  # CRMs and helpdesks: our ticket -> their ticket / Case
    ADD_COMMENT = "add_comment"  # helpdesks: a thread reply or internal note -> a comment
    ESCALATE = "escalate"  # issue trackers: an engineering issue for the ticket


class Failure(StrEnum):
    AUTH = "auth"  # 401/403: the credentials are wrong or revoked; retrying cannot help
    RATE_LIMITED = "rate_limited"  # 429: try again after `retry_after`
    UNAVAILABLE = "unavailable"  # 5xx, timeout, connection refused: try again later
    REFUSED = "refused"  # 4xx about the request itself (a bad field, a missing project)
    NOT_FOUND = "not_found"  # the stored far-side record is gone (deleted there)


class FarSideError(Exception):
    def __init__(
        self,
        failure: Failure,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        maybe_done: bool = False,
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        # The request may have been carried out although no answer came (a timeout).
        self.maybe_done = maybe_done


@dataclass(frozen=True)
class Credentials:
    base_url: str  # e.g. https://api.hubapi.com, https://acme.zendesk.com, a fake's address
    token: str  # decrypted only for the call; never logged
    # Vendor-specific, not secret: Jira's and Zendesk's account email, Salesforce's API version.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountRecord:
    id: int
    name: str
    domains: tuple[str, ...]
    tier: str | None
    owner: str | None
    renewal_on: str | None  # ISO date
    health_score: int | None
    nps: float | None  # -100..100 over the last 180 days, None without answers
    csat: float | None  # the average rating (1-5) of the last 90 days, None without ratings
    churned: bool


@dataclass(frozen=True)
class TicketRecord:
    id: int
    number: int  # shown as T-<number>
    subject: str
    description: str  # the customer's first message, as plain text
    status: str  # app.tickets.enums.TicketStatus values
    priority: str  # low | normal | high | urgent
    requester_name: str | None
    requester_email: str | None
    account: AccountRecord | None
    permalink: str | None  # the Slack thread
    created_at: datetime


@dataclass(frozen=True)
class CommentRecord:
    id: int  # our message's id (a thread reply or an internal note)
    ticket_id: int
    body: str
    public: bool  # a reply the customer sees; False for an internal note
    author_name: str | None


@dataclass(frozen=True)
class Remote:
    """Our record's counterpart on the far side."""

    id: str
    key: str | None = None  # a human key where the vendor has one: PROJ-12, ENG-42
    url: str | None = None
    status: str | None = None  # the far side's status as it names it
    done: bool = False  # an issue tracker's issue is finished


@dataclass(frozen=True)
class Push:
    action: Action
    ours: str  # our record's stable id on the far side, e.g. "ticketbot-ticket-42"
    mapping: dict[str, Any]  # the connector's field mapping (defaults merged with its settings)
    account: AccountRecord | None = None
    ticket: TicketRecord | None = None
    comment: CommentRecord | None = None
    remote: Remote | None = None  # what we stored from an earlier push of this record
    parent: Remote | None = None  # e.g. the Zendesk ticket a comment belongs to
    look_first: bool = False  # an earlier attempt may have created it: search before creating
    target: str | None = None  # escalation: the Jira project key or Linear team key asked for


@dataclass(frozen=True)
class Inbound:
    """What a vendor's webhook told us about one of our records' counterparts."""

    remote_id: str  # the far side's id, as `Remote.id` stored it
    event_id: str | None = None  # the vendor's id of this delivery, to drop a repeat
    status: str | None = None
    done: bool = False  # an issue tracker's issue reached a finished state
    public_reply: str | None = None  # a helpdesk agent's public comment, to post in Slack
    reply_author: str | None = None
    comment_id: str | None = None  # the far side's id of that comment


class Vendor(Protocol):
    name: ClassVar[str]
    actions: ClassVar[frozenset[Action]]
    default_mapping: ClassVar[dict[str, Any]]

    async def push(self, http: httpx.AsyncClient, credentials: Credentials, push: Push) -> Remote:
        """Carry out `push`; raise FarSideError when the far side says no or is not there."""
        ...

    async def check(self, http: httpx.AsyncClient, credentials: Credentials) -> str:
        """One cheap authenticated call: a line naming who the token is (for `connector add`);
        FarSideError if it is refused."""
        ...


class TakesWebhooks(Protocol):
    """A vendor whose webhooks we receive (Zendesk, Jira, Linear)."""

    def verify(self, headers: dict[str, str], body: bytes, secret: str, now: datetime) -> bool:
        """The vendor's documented signature check (an HMAC of the raw body, with its
        timestamp where the vendor signs one), compared in constant time; False for a missing,
        stale or wrong signature. `headers` keys are lower case."""
        ...

    def read(self, body: bytes) -> Inbound | None:
        """The news in a verified delivery, or None if it is nothing we act on."""
        ...
