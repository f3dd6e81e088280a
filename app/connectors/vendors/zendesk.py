"""Zendesk Support as the helpdesk of record: our tickets become Zendesk tickets, our thread
replies and internal notes become their comments, and agents' public replies come back.

A ticket is created once, stamped with `external_id = Push.ours`, so a replayed create finds it
(List Tickets by external id) instead of making a second one; the create also carries an
`Idempotency-Key`, so Zendesk itself answers a resent identical create with the first answer.
Later pushes change status and priority only: subject, description and requester are Zendesk's
to edit once the ticket exists. A comment is added with the ticket update, and the update's
audit carries our id for the comment as custom metadata, so a replayed comment finds the audit
an earlier attempt wrote (List Audits) instead of adding the comment twice. Zendesk comments
cannot be edited, so a comment with a stored `Remote` is left alone.

Statuses: Zendesk's "closed" is final ("Once a ticket is closed (as distinct from solved), it
can't be reopened", Creating and updating tickets), and Zendesk's own automation closes solved
tickets after a while. So our resolved and closed both map to "solved" by default; the default
mapping never sends "closed". An update never sends "new" either: Zendesk leaves a ticket new
until it is first worked, and an existing ticket can only be set to open, pending, hold or
solved (Custom ticket statuses, "Setting the ticket status property").

Agents' replies come back through a webhook connected to a trigger. Such a webhook's body is
whatever the trigger's JSON body says, so the lead pastes `TRIGGER_BODY_TEMPLATE` into it (see
`TRIGGER_SETUP` for the whole recipe). Zendesk signs every webhook request:
`X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(signing secret, timestamp + body))` with the
timestamp in `X-Zendesk-Webhook-Signature-Timestamp`.

References:
- API token auth (`{email_address}/token:{api_token}` as basic auth):
  https://developer.zendesk.com/api-reference/introduction/security-and-auth/
  and https://support.zendesk.com/hc/en-us/articles/4408831452954
- Tickets (JSON format, List Tickets by external_id, Create Ticket, Update Ticket):
  https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
- Creating and updating tickets (new requester, setting metadata, closed is final):
  https://developer.zendesk.com/documentation/ticketing/managing-tickets/creating-and-updating-tickets
- Idempotency (`Idempotency-Key` on ticket creation, `x-idempotency-lookup`):
  https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency
- Ticket comments are added through the Tickets API:
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
- Ticket audits (metadata `custom`, Comment events):
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/
- Cursor pagination (`page[size]`, `page[after]`, `meta.has_more`, `meta.after_cursor`):
  https://developer.zendesk.com/api-reference/introduction/pagination/
- Show Self (`/api/v2/users/me`, allowed for anonymous users):
  https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self
- Rate limits (429 with `Retry-After` in seconds):
  https://developer.zendesk.com/api-reference/introduction/rate-limits/
- Custom ticket statuses (status categories; values an existing ticket accepts):
  https://developer.zendesk.com/api-reference/ticketing/tickets/custom_ticket_statuses/
  and https://support.zendesk.com/hc/en-us/articles/4959212269210
- Webhooks: request anatomy and headers, verifying the signature, creating a webhook and
  connecting it to a trigger:
  https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request
  https://developer.zendesk.com/documentation/webhooks/verifying/
  https://support.zendesk.com/hc/en-us/articles/4408839108378
- Placeholders (`ticket.id`, `ticket.external_id`, `ticket.status`,
  `ticket.latest_public_comment` and its properties; rendered as unformatted text in webhooks):
  https://support.zendesk.com/hc/en-us/articles/4408886858138
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from app.connectors.vendors.base import (
    Action,
    CommentRecord,
    Credentials,
    Failure,
    FarSideError,
    Inbound,
    Push,
    Remote,
    TicketRecord,
)
from app.connectors.vendors.http import call

# Paths as the Tickets, Ticket Audits and Users references spell them (the `.json` suffix is
# optional on every Zendesk endpoint; the references' curl samples use it).
TICKETS_PATH = "/api/v2/tickets.json"
TICKET_PATH = "/api/v2/tickets/{id}.json"
AUDITS_PATH = "/api/v2/tickets/{id}/audits.json"
ME_PATH = "/api/v2/users/me.json"
# Where an agent opens the ticket in the Agent Workspace.
AGENT_TICKET_PATH = "/agent/tickets/{id}"

# The email of the agent whose API token ticketbot uses (not secret), in `Credentials.extra`.
EMAIL_KEY = "email"

# Zendesk's ticket priorities and statuses (Tickets, JSON format: "priority" and "status").
PRIORITIES = frozenset({"urgent", "high", "normal", "low"})
NEW = "new"
CLOSED = "closed"

# The audit metadata key that names our comment. "Metadata for the audit. In the audit
# object, the data is specified in the custom property of the metadata object" (Tickets, JSON
# format: "metadata"); up to 1 KB per audit, and values are stored as strings.
COMMENT_MARKER = "ticketbot_comment"

# Cursor pagination: at most 100 records a page. A ticket holds at most 5000 comments (Ticket
# comments), so 60 pages of audits is more than any ticket has; the bound only stops a loop.
PAGE_SIZE = 100
MAX_AUDIT_PAGES = 60

# Webhook signing (Verifying webhook authenticity; header names as "Anatomy of a webhook
# request" shows them, lower case as `verify()` receives them).
SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
# A delivery signed longer ago (or further ahead) than this is refused as a replay.
MAX_SIGNATURE_AGE_SECONDS = 5 * 60

# The JSON body a lead pastes into the trigger's "Notify active webhook" action. Each value is
# a placeholder Zendesk fills in when the trigger fires (placeholders reference):
# - ticket_id: `{{ticket.id}}`, the Zendesk ticket's id, which our `Remote.id` stores;
# - external_id: `{{ticket.external_id}}`, our id on tickets ticketbot created (blank on
#   tickets it did not create; those deliveries are dropped);
# - status: `{{ticket.status}}`, the status's name as the agent sees it ("Open", "Solved");
# - comment_id: `{{ticket.latest_public_comment.id}}`, the new public comment's id (one id per
#   comment, so a repeated delivery of the same reply is recognised);
# - comment_author: `{{ticket.latest_public_comment.author.name}}`;
# - comment_body: `{{ticket.latest_public_comment.value}}`, the comment's text (placeholders
#   sent to a webhook render as unformatted text, not HTML).
# Every placeholder sits inside a JSON string, so the body stays valid JSON whatever it holds,
# as long as Zendesk escapes quotes and line breaks in the values it inserts into a JSON body.
TRIGGER_BODY_TEMPLATE = """{
  "ticket_id": "{{ticket.id}}",
  "external_id": "{{ticket.external_id}}",
  "status": "{{ticket.status}}",
  "comment_id": "{{ticket.latest_public_comment.id}}",
  "comment_author": "{{ticket.latest_public_comment.author.name}}",
  "comment_body": "{{ticket.latest_public_comment.value}}"
}"""

# The whole recipe, for the README and `connector add`.
TRIGGER_SETUP = (
    """\
1. Admin Center > Apps and integrations > Webhooks > Create webhook: connection method
   "Trigger or automation", endpoint URL = ticketbot's Zendesk webhook address, request method
   POST, request format JSON. Open the webhook and reveal its signing secret; give that secret
   to ticketbot.
2. Admin Center > Objects and rules > Triggers > Add trigger, meeting ALL of:
   - Comment | Is | Public
   - Current user | Is | (agent)
   - Current user | Is not | <the agent whose API token ticketbot uses>
   (the last one keeps ticketbot's own comments from coming back to Slack).
3. Action: Notify by > Active webhook > the webhook from step 1, with this JSON body:
"""
    + TRIGGER_BODY_TEMPLATE
)


class Zendesk:
    """Zendesk Support over the Ticketing API, with API token auth (agent email + token)."""

    name: ClassVar[str] = "zendesk"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.SYNC_TICKET, Action.ADD_COMMENT})
    default_mapping: ClassVar[dict[str, Any]] = {
        # Our ticket status -> Zendesk status. A status left out is not sent: a new ticket then
        # starts as Zendesk decides ("new", or "open" with an assignee), and an update leaves
        # Zendesk's status as it is. Avoid "closed": Zendesk never lets a closed ticket change.
        "status": {
            "new": "new",
            "open": "open",
            "waiting_on_customer": "pending",
            "resolved": "solved",
            "closed": "solved",
        },
        # Our priority -> Zendesk priority (Zendesk has the same four).
        "priority": {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"},
        # Tags set on the tickets ticketbot creates (later pushes leave tags alone).
        "tags": ["slack"],
    }

    async def push(self, http: httpx.AsyncClient, credentials: Credentials, push: Push) -> Remote:
        headers = _headers(credentials)
        base = _base(credentials)
        if push.action is Action.SYNC_TICKET:
            return await self._sync_ticket(http, base, headers, push)
        if push.action is Action.ADD_COMMENT:
            return await self._add_comment(http, base, headers, push)
        raise FarSideError(Failure.REFUSED, f"Zendesk does not take {push.action.value}")

    async def check(self, http: httpx.AsyncClient, credentials: Credentials) -> str:
        # Show Self is allowed for anonymous users: a request Zendesk cannot tie to a user can
        # be answered 200 with an anonymous user (no id) rather than 401, so that is a refusal.
        answer = await call(
            http, "GET", _base(credentials) + ME_PATH, headers=_headers(credentials)
        )
        user = (answer or {}).get("user") or {}
        if user.get("id") is None:
            raise FarSideError(
                Failure.AUTH,
                "Zendesk answered as an anonymous user: the email and API token were not accepted",
            )
        # "end-user" accounts cannot use the Tickets API (Allowed for: Agents).
        if user.get("role") == "end-user":
            raise FarSideError(
                Failure.AUTH,
                f"{user.get('email')} is an end user in Zendesk; ticketbot needs an agent",
            )
        return f"Zendesk user {user.get('name')} ({user.get('email')}, {user.get('role')})"

    # -- webhooks ------------------------------------------------------------------------------

    def verify(self, headers: dict[str, str], body: bytes, secret: str, now: datetime) -> bool:
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp or not secret:
            return False
        signed_at = _parse_timestamp(timestamp)
        if signed_at is None:
            return False
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        if abs((now - signed_at).total_seconds()) > MAX_SIGNATURE_AGE_SECONDS:
            return False
        expected = webhook_signature(secret, timestamp, body)
        return hmac.compare_digest(expected.encode(), signature.strip().encode())

    def read(self, body: bytes) -> Inbound | None:
        """An agent's public reply, from a delivery of `TRIGGER_BODY_TEMPLATE`."""
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(payload, dict):
            return None
        ticket_id = _text(payload.get("ticket_id"))
        comment_id = _text(payload.get("comment_id"))
        reply = _text(payload.get("comment_body"))
        # A placeholder Zendesk cannot fill renders as an empty string.
        if not ticket_id.isdigit() or not comment_id.isdigit() or not reply:
            return None
        if not _text(payload.get("external_id")):
            return None  # not a ticket ticketbot created
        status = _text(payload.get("status")).lower()
        return Inbound(
            remote_id=ticket_id,
            event_id=comment_id,
            status=status or None,
            public_reply=reply,
            reply_author=_text(payload.get("comment_author")) or None,
            comment_id=comment_id,
        )

    # -- tickets -------------------------------------------------------------------------------

    async def _sync_ticket(
        self, http: httpx.AsyncClient, base: str, headers: dict[str, str], push: Push
    ) -> Remote:
        ticket = push.ticket
        if ticket is None:
            raise FarSideError(Failure.REFUSED, "sync_ticket without a ticket")
        if push.remote is not None:
            return await self._update_ticket(http, base, headers, push.remote.id, ticket, push)
        if push.look_first:
            found = await self._find_ticket(http, base, headers, push.ours)
            if found is not None:
                return await self._update_ticket(http, base, headers, found, ticket, push)
        return await self._create_ticket(http, base, headers, ticket, push)

    async def _create_ticket(
        self,
        http: httpx.AsyncClient,
        base: str,
        headers: dict[str, str],
        ticket: TicketRecord,
        push: Push,
    ) -> Remote:
        body = {"ticket": _new_ticket(ticket, push)}
        # The same key with the same body within two hours gets the first answer back; a
        # different body gets a new key, so a changed ticket is never refused as a key reuse.
        key_headers = {**headers, "Idempotency-Key": _idempotency_key(push.ours, body)}
        answer = await call(
            http, "POST", base + TICKETS_PATH, headers=key_headers, json=body, creates=True
        )
        return _ticket_remote(base, _ticket_of(answer))

    async def _update_ticket(
        self,
        http: httpx.AsyncClient,
        base: str,
        headers: dict[str, str],
        ticket_id: str,
        ticket: TicketRecord,
        push: Push,
    ) -> Remote:
        changes: dict[str, Any] = {}
        priority = _mapped_priority(ticket, push.mapping)
        if priority is not None:
            changes["priority"] = priority
        status = _mapped_status(ticket, push.mapping)
        if status is not None and status != NEW:
            changes["status"] = status
        answer = await call(
            http,
            "PUT",
            base + TICKET_PATH.format(id=_ticket_id(ticket_id)),
            headers=headers,
            json={"ticket": changes},
        )
        return _ticket_remote(base, _ticket_of(answer))

    async def _find_ticket(
        self, http: httpx.AsyncClient, base: str, headers: dict[str, str], ours: str
    ) -> str | None:
        # "External ids don't have to be unique for each ticket": the first one made wins.
        answer = await call(
            http, "GET", base + TICKETS_PATH, headers=headers, params={"external_id": ours}
        )
        ids = [
            t["id"]
            for t in (answer or {}).get("tickets") or []
            if isinstance(t, dict) and t.get("external_id") == ours and isinstance(t.get("id"), int)
        ]
        return str(min(ids)) if ids else None

    # -- comments ------------------------------------------------------------------------------

    async def _add_comment(
        self, http: httpx.AsyncClient, base: str, headers: dict[str, str], push: Push
    ) -> Remote:
        comment, parent = push.comment, push.parent
        if comment is None or parent is None:
            raise FarSideError(
                Failure.REFUSED, "add_comment needs the comment and the Zendesk ticket it joins"
            )
        if push.remote is not None:
            return push.remote  # added before; Zendesk comments cannot be edited
        ticket_id = _ticket_id(parent.id)
        url = base + AGENT_TICKET_PATH.format(id=ticket_id)
        if push.look_first:
            found = await self._find_comment(http, base, headers, ticket_id, push.ours)
            if found is not None:
                return Remote(id=found, url=url)
        answer = await call(
            http,
            "PUT",
            base + TICKET_PATH.format(id=ticket_id),
            headers=headers,
            json={"ticket": _comment_update(comment, push.ours)},
            creates=True,
        )
        comment_id = _comment_id_of((answer or {}).get("audit"))
        return Remote(id=comment_id or ticket_id, url=url)

    async def _find_comment(
        self,
        http: httpx.AsyncClient,
        base: str,
        headers: dict[str, str],
        ticket_id: str,
        ours: str,
    ) -> str | None:
        """The id of the comment an earlier attempt added, found by its audit's metadata."""
        params = {"page[size]": str(PAGE_SIZE)}
        for _ in range(MAX_AUDIT_PAGES):
            answer = await call(
                http,
                "GET",
                base + AUDITS_PATH.format(id=ticket_id),
                headers=headers,
                params=params,
            )
            answer = answer or {}
            for audit in answer.get("audits") or []:
                custom = ((audit or {}).get("metadata") or {}).get("custom") or {}
                if isinstance(custom, dict) and custom.get(COMMENT_MARKER) == ours:
                    return _comment_id_of(audit)
            meta = answer.get("meta") or {}
            cursor = meta.get("after_cursor")
            if not meta.get("has_more") or not cursor:
                return None
            params = {"page[size]": str(PAGE_SIZE), "page[after]": str(cursor)}
        return None


# -- pure helpers ------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _parse_timestamp(raw: str) -> datetime | None:
    """The signature timestamp, ISO 8601 in UTC as Zendesk sends it ("2021-03-25T05:09:27Z")."""
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _headers(credentials: Credentials) -> dict[str, str]:
    email = (credentials.extra.get(EMAIL_KEY) or "").strip()
    if not email:
        raise FarSideError(
            Failure.AUTH, "Zendesk needs the agent's email with the API token (extra 'email')"
        )
    raw = f"{email}/token:{credentials.token}".encode()
    return {
        "Authorization": "Basic " + base64.b64encode(raw).decode(),
        "Accept": "application/json",
    }


def _base(credentials: Credentials) -> str:
    return credentials.base_url.rstrip("/")


def _ticket_id(raw: str) -> str:
    """A stored Zendesk ticket id, checked before it goes into a path."""
    if not raw.isdigit():
        raise FarSideError(Failure.REFUSED, f"not a Zendesk ticket id: {raw!r}")
    return raw


def _new_ticket(ticket: TicketRecord, push: Push) -> dict[str, Any]:
    # The first comment is the ticket's description ("The only required property is comment").
    first = ticket.description.strip() or ticket.subject
    fields: dict[str, Any] = {
        "subject": f"T-{ticket.number}: {ticket.subject}",
        "comment": {"body": first, "public": True},
        "external_id": push.ours,
    }
    if ticket.requester_email:
        # Creating a ticket with a new requester: Zendesk finds the user by email or makes one.
        fields["requester"] = {
            "name": ticket.requester_name or ticket.requester_email,
            "email": ticket.requester_email,
        }
    priority = _mapped_priority(ticket, push.mapping)
    if priority is not None:
        fields["priority"] = priority
    status = _mapped_status(ticket, push.mapping)
    if status is not None:
        fields["status"] = status
    tags = push.mapping.get("tags")
    if isinstance(tags, list) and tags:
        fields["tags"] = [str(tag) for tag in tags]
    return fields


def _comment_update(comment: CommentRecord, ours: str) -> dict[str, Any]:
    body = comment.body.strip()
    if not body:
        raise FarSideError(Failure.REFUSED, "an empty comment")
    return {
        "comment": {"body": body, "public": comment.public},
        "metadata": {COMMENT_MARKER: ours},
    }


def _mapped_status(ticket: TicketRecord, mapping: dict[str, Any]) -> str | None:
    statuses = mapping.get("status")
    if not isinstance(statuses, dict):
        return None
    status = statuses.get(ticket.status)
    return str(status) if status else None


def _mapped_priority(ticket: TicketRecord, mapping: dict[str, Any]) -> str | None:
    priorities = mapping.get("priority")
    if isinstance(priorities, dict):
        priority = priorities.get(ticket.priority)
        return str(priority) if priority else None
    return ticket.priority if ticket.priority in PRIORITIES else None


def _idempotency_key(ours: str, body: dict[str, Any]) -> str:
    """Our id and a digest of the request: any string up to 255 characters will do."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return f"{ours[:200]}-{hashlib.sha256(canonical).hexdigest()[:32]}"


def _ticket_of(answer: Any) -> dict[str, Any]:
    ticket = (answer or {}).get("ticket") if isinstance(answer, dict) else None
    if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
        raise FarSideError(Failure.UNAVAILABLE, "Zendesk answered without the ticket")
    return ticket


def _ticket_remote(base: str, ticket: dict[str, Any]) -> Remote:
    ticket_id = str(ticket["id"])
    status = ticket.get("status")
    return Remote(
        id=ticket_id,
        key=f"#{ticket_id}",
        url=base + AGENT_TICKET_PATH.format(id=ticket_id),
        status=str(status) if status else None,
    )


def _comment_id_of(audit: Any) -> str | None:
    """The id of the Comment event in a ticket audit (the comment's own id)."""
    if not isinstance(audit, dict):
        return None
    for event in audit.get("events") or []:
        if isinstance(event, dict) and event.get("type") == "Comment" and event.get("id"):
            return str(event["id"])
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()
