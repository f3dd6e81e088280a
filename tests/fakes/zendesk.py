"""A fake Zendesk Support account: the Ticketing API calls our Zendesk connector makes, and the
signed webhook deliveries of a trigger.

It answers as Zendesk documents, and no more kindly: API token auth for one agent (401
`{"error":"Couldn't authenticate you"}` otherwise), tickets with sequential numeric ids that
need a comment to be created (422 otherwise), comments and audits per ticket with audit
metadata, List Tickets by external id, List Audits with cursor pagination, `Idempotency-Key` on
ticket creation, a closed ticket that refuses updates, Show Self that answers anonymous requests
with the anonymous user, 429s with `Retry-After`, 5xx, and going down. Every request is
recorded.

References:
- API token auth: https://developer.zendesk.com/api-reference/introduction/security-and-auth/
  (the 401 body as Zendesk sends it: https://support.zendesk.com/hc/en-us/articles/4408831452954)
- Tickets: https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
- Creating and updating tickets (new requester, metadata, closed tickets):
  https://developer.zendesk.com/documentation/ticketing/managing-tickets/creating-and-updating-tickets
- Ticket comments: https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
- Ticket audits: https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/
- Pagination: https://developer.zendesk.com/api-reference/introduction/pagination/
- Idempotency: https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency
- Errors (RecordInvalid, RecordNotFound):
  https://developer.zendesk.com/api-reference/introduction/requests/
- Show Self: https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self
- Rate limits: https://developer.zendesk.com/api-reference/introduction/rate-limits/
- Webhooks: https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request
  and https://developer.zendesk.com/documentation/webhooks/verifying/
- Placeholders: https://support.zendesk.com/hc/en-us/articles/4408886858138
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app.connectors.vendors.zendesk import TRIGGER_BODY_TEMPLATE, webhook_signature
from app.slack_emulator.server import ServerRunner
from tests.fakes.base import LocalService

# Tickets' JSON format: allowed values.
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
FIRST_TICKET_ID = 1  # ticket ids count up from 1 in each account
MAX_PAGE_SIZE = 100  # "Returns a maximum of 100 records per page"
METADATA_MAX_BYTES = 1024  # "up to 1 kilobyte of custom metadata" per audit
IDEMPOTENCY_KEY_MAX_CHARS = 255

NOT_AUTHENTICATED = {"error": "Couldn't authenticate you"}
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
# The rate-limit answer's text (Zendesk sends it as text/plain).
RATE_LIMITED_TEXT = "Number of allowed API requests per minute exceeded"

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]


@dataclass
class FakeUser:
    id: int
    name: str
    email: str
    role: str  # "end-user", "agent" or "admin"


@dataclass
class FakeComment:
    id: int
    author_id: int
    body: str
    public: bool
    audit_id: int
    created_at: datetime


@dataclass
class FakeAudit:
    id: int
    author_id: int
    created_at: datetime
    custom: dict[str, str]
    events: list[dict[str, Any]]


@dataclass
class FakeTicket:
    id: int
    subject: str | None
    status: str
    priority: str | None
    requester_id: int
    submitter_id: int
    external_id: str | None
    tags: list[str]
    comments: list[FakeComment] = field(default_factory=list)
    audits: list[FakeAudit] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def description(self) -> str:
        return self.comments[0].body if self.comments else ""


class FakeZendesk(LocalService):
    """A Zendesk account with one API agent, served on 127.0.0.1."""

    def __init__(
        self,
        *,
        email: str = "ticketbot@acme.example",
        token: str = "zd-api-token-7c2a91",
        agent_name: str = "Ticketbot Integration",
        role: str = "admin",
        webhook_secret: str = "dGhpc19pc19hX3Rlc3Rfc2VjcmV0",
    ) -> None:
        self.email = email
        self.token = token
        self.webhook_secret = webhook_secret
        self.requests: list[Recorded] = []
        self.tickets: dict[int, FakeTicket] = {}
        self.users: dict[int, FakeUser] = {}
        # Show Self answers the anonymous user for bad credentials too, when set (otherwise
        # only for a request with no credentials at all, and bad ones get the 401).
        self.anonymous_for_bad_credentials = False
        self._ticket_ids = itertools.count(FIRST_TICKET_ID)
        self._user_ids = itertools.count(360_000_001)
        self._object_ids = itertools.count(9_000_000_001)  # comments and audits
        self._idempotent: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._rate_limited = 0
        self._rate_limit_retry_after = 0
        self._failing = 0
        self._failure_status = 503
        self.agent = self._add_user(agent_name, email, role)
        self._runner = ServerRunner(self._app())

    # -- helpers for tests -------------------------------------------------------------------

    def rate_limit_next(self, n: int, *, retry_after: int = 60) -> None:
        """Answer the next `n` requests with 429 and `Retry-After: <seconds>`."""
        self._rate_limited = n
        self._rate_limit_retry_after = retry_after

    def fail_next(self, n: int, *, status: int = 503) -> None:
        """Answer the next `n` requests with a 5xx."""
        self._failing = n
        self._failure_status = status

    def ticket(self, ticket_id: int | str) -> FakeTicket:
        return self.tickets[int(ticket_id)]

    def creates(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and _is(r.path, "tickets")]

    def updates(self, ticket_id: int | str) -> list[Recorded]:
        return [
            r for r in self.requests if r.method == "PUT" and _is(r.path, f"tickets/{ticket_id}")
        ]

    def set_status(self, ticket_id: int | str, status: str) -> None:
        """Change a ticket's status as an agent (or Zendesk's close automation) would."""
        if status not in STATUSES:
            raise ValueError(status)
        self.ticket(ticket_id).status = status

    def delete_ticket(self, ticket_id: int | str) -> None:
        del self.tickets[int(ticket_id)]

    def agent_reply(
        self,
        ticket_id: int | str,
        body: str,
        author: str,
        *,
        signed_at: datetime | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """An agent's public comment on the ticket, and the signed webhook delivery a trigger
        with `TRIGGER_BODY_TEMPLATE` as its JSON body sends for it."""
        ticket = self.ticket(ticket_id)
        agent = next(
            (u for u in self.users.values() if u.name == author and u.role != "end-user"), None
        )
        if agent is None:
            agent = self._add_user(author, f"agent{len(self.users)}@acme.example", "agent")
        self._comment(ticket, agent.id, body, public=True, custom={})
        rendered = render_template(TRIGGER_BODY_TEMPLATE, self._placeholders(ticket))
        return self.sign(rendered.encode(), signed_at=signed_at), rendered.encode()

    def sign(self, body: bytes, *, signed_at: datetime | None = None) -> dict[str, str]:
        """The headers of a webhook request carrying `body` ("Anatomy of a webhook request"),
        signed with the webhook's signing secret."""
        when = (signed_at or datetime.now(UTC)).astimezone(UTC)
        timestamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "content-type": "application/json",
            "x-zendesk-account-id": "123456",
            "x-zendesk-webhook-id": "01F1KRFQ6BG29CNWFR60NK5FNY",
            "x-zendesk-webhook-invocation-id": str(next(self._object_ids)),
            "x-zendesk-webhook-signature": webhook_signature(self.webhook_secret, timestamp, body),
            "x-zendesk-webhook-signature-timestamp": timestamp,
        }

    # -- the API -----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def gate(request: Request, call_next: Any) -> Response:
            raw = await request.body()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            self.requests.append(
                Recorded(
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    json=parsed,
                    headers={k.lower(): v for k, v in request.headers.items()},
                )
            )
            if self._rate_limited > 0:
                self._rate_limited -= 1
                # Rate limits: "429 Too Many Requests ... a Retry-After header that tells you
                # how many seconds to wait", with the account's X-Rate-Limit headers.
                return Response(
                    RATE_LIMITED_TEXT,
                    status_code=429,
                    media_type="text/plain",
                    headers={
                        "Retry-After": str(self._rate_limit_retry_after),
                        "X-Rate-Limit": "700",
                        "X-Rate-Limit-Remaining": "0",
                    },
                )
            if self._failing > 0:
                self._failing -= 1
                return JSONResponse(
                    {"error": "ServiceUnavailable", "description": "Try again later"},
                    status_code=self._failure_status,
                )
            # Show Self decides for itself (it answers anonymous requests).
            show_self = request.url.path.removesuffix(".json") == "/api/v2/users/me"
            if not show_self and self._authenticated(request) is None:
                return JSONResponse(NOT_AUTHENTICATED, status_code=401)
            response: Response = await call_next(request)
            return response

        for path in ("/api/v2/users/me", "/api/v2/users/me.json"):
            app.add_api_route(path, self._show_self, methods=["GET"])
        for path in ("/api/v2/tickets", "/api/v2/tickets.json"):
            app.add_api_route(path, self._list_tickets, methods=["GET"])
            app.add_api_route(path, self._create_ticket, methods=["POST"])
        app.add_api_route("/api/v2/tickets/{ticket_ref}", self._show_ticket, methods=["GET"])
        app.add_api_route("/api/v2/tickets/{ticket_ref}", self._update_ticket, methods=["PUT"])
        for suffix in ("comments", "comments.json"):
            app.add_api_route(
                f"/api/v2/tickets/{{ticket_id:int}}/{suffix}", self._list_comments, methods=["GET"]
            )
        for suffix in ("audits", "audits.json"):
            app.add_api_route(
                f"/api/v2/tickets/{{ticket_id:int}}/{suffix}", self._list_audits, methods=["GET"]
            )
        return app

    def _authenticated(self, request: Request) -> FakeUser | None:
        """The agent, if the request carries `Basic base64({email}/token:{api_token})`."""
        header = request.headers.get("authorization") or ""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        if decoded != f"{self.email}/token:{self.token}":
            return None
        return self.agent

    async def _show_self(self, request: Request) -> Response:
        user = self._authenticated(request)
        if user is None:
            no_credentials = not request.headers.get("authorization")
            if not (no_credentials or self.anonymous_for_bad_credentials):
                return JSONResponse(NOT_AUTHENTICATED, status_code=401)
            # Show Self is "Allowed for: Anonymous users": the anonymous user has no id.
            return JSONResponse(
                {
                    "user": {
                        "id": None,
                        "url": None,
                        "name": "Anonymous user",
                        "email": "invalid@example.com",
                        "role": "end-user",
                    }
                }
            )
        return JSONResponse({"user": self._user_json(user)})

    async def _list_tickets(self, request: Request) -> Response:
        external_id = request.query_params.get("external_id")
        found = [
            t
            for t in sorted(self.tickets.values(), key=lambda t: t.id)
            if external_id is None or t.external_id == external_id
        ][:MAX_PAGE_SIZE]
        return JSONResponse(
            {
                "tickets": [self._ticket_json(t) for t in found],
                "next_page": None,
                "previous_page": None,
                "count": len(found),
            }
        )

    async def _create_ticket(self, request: Request) -> Response:
        payload = await _json_body(request)
        key = request.headers.get("idempotency-key")
        if key is not None:
            if not key or len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
                return _invalid("idempotency_key", "Idempotency key is invalid")
            earlier = self._idempotent.get(key)
            if earlier is not None:
                earlier_payload, earlier_answer = earlier
                if earlier_payload != payload:
                    return JSONResponse(
                        {
                            "error": "IdempotentRequestError",
                            "description": "Request parameters don't match the given "
                            "idempotency key",
                        },
                        status_code=400,
                    )
                return JSONResponse(
                    earlier_answer, status_code=201, headers={"x-idempotency-lookup": "hit"}
                )
        fields = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(fields, dict):
            return _no_ticket_object()
        # Create Ticket: "The only required property is comment".
        comment = fields.get("comment")
        text = _comment_text(comment)
        if not text:
            return _invalid("description", "Description: cannot be blank")
        problem = _check_fields(fields)
        if problem is not None:
            return problem
        requester_id = self.agent.id
        requester = fields.get("requester")
        if requester is not None:
            if not isinstance(requester, dict) or not _looks_like_email(requester.get("email")):
                return _invalid("requester", "Requester: Email is invalid")
            requester_id = self._requester(requester).id
        ticket = FakeTicket(
            id=next(self._ticket_ids),
            subject=fields.get("subject"),
            status=fields.get("status") or "new",
            priority=fields.get("priority"),
            requester_id=requester_id,
            submitter_id=self.agent.id,
            external_id=fields.get("external_id"),
            tags=[str(t) for t in fields.get("tags") or []],
        )
        self.tickets[ticket.id] = ticket
        public = comment.get("public", True) if isinstance(comment, dict) else True
        audit = self._comment(
            ticket, self.agent.id, text, public=bool(public), custom=_custom(fields)
        )
        answer = {"ticket": self._ticket_json(ticket), "audit": self._audit_json(ticket, audit)}
        headers = {}
        if key is not None:
            self._idempotent[key] = (payload, answer)
            headers["x-idempotency-lookup"] = "miss"
        return JSONResponse(answer, status_code=201, headers=headers)

    async def _show_ticket(self, ticket_ref: str) -> Response:
        ticket = self._find(ticket_ref)
        if ticket is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse({"ticket": self._ticket_json(ticket)})

    async def _update_ticket(self, ticket_ref: str, request: Request) -> Response:
        ticket = self._find(ticket_ref)
        if ticket is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        payload = await _json_body(request)
        fields = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(fields, dict):
            return _no_ticket_object()
        # "Once a ticket is closed (as distinct from solved), it can't be reopened."
        if ticket.status == "closed":
            return _invalid("status", "Status: closed prevents ticket update")
        problem = _check_fields(fields)
        if problem is not None:
            return problem
        comment = fields.get("comment")
        text = _comment_text(comment) if comment is not None else None
        if comment is not None and not text:
            return _invalid("comment", "Comment: cannot be blank")
        if "status" in fields:
            ticket.status = fields["status"]
        if "priority" in fields:
            ticket.priority = fields["priority"]
        if "tags" in fields:
            ticket.tags = [str(t) for t in fields["tags"] or []]
        if "subject" in fields:
            ticket.subject = fields["subject"]
        ticket.updated_at = datetime.now(UTC)
        custom = _custom(fields)
        if text:
            public = comment.get("public", True) if isinstance(comment, dict) else True
            audit = self._comment(ticket, self.agent.id, text, public=bool(public), custom=custom)
        else:
            audit = self._audit(ticket, self.agent.id, custom, events=[])
        return JSONResponse(
            {"ticket": self._ticket_json(ticket), "audit": self._audit_json(ticket, audit)}
        )

    async def _list_comments(self, ticket_id: int) -> Response:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse(
            {
                "comments": [self._comment_json(c) for c in ticket.comments[:MAX_PAGE_SIZE]],
                "next_page": None,
                "previous_page": None,
                "count": len(ticket.comments),
            }
        )

    async def _list_audits(self, ticket_id: int, request: Request) -> Response:
        """List Audits for a Ticket, oldest first, with cursor pagination when `page[size]`
        is given (and offset pagination, 100 a page, otherwise)."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        query = request.query_params
        audits = ticket.audits
        if "page[size]" not in query and "page[after]" not in query:
            page = audits[:MAX_PAGE_SIZE]
            return JSONResponse(
                {
                    "audits": [self._audit_json(ticket, a) for a in page],
                    "next_page": None,
                    "previous_page": None,
                    "count": len(audits),
                }
            )
        try:
            size = int(query.get("page[size]", str(MAX_PAGE_SIZE)))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE_SIZE:
            return JSONResponse(
                {"error": "InvalidPaginationParameter", "description": "page[size] is invalid"},
                status_code=400,
            )
        after = query.get("page[after]")
        start = 0 if after is None else _decode_cursor(after)
        if start is None:
            return JSONResponse(
                {"error": "InvalidPaginationParameter", "description": "cursor is invalid"},
                status_code=400,
            )
        page = audits[start : start + size]
        has_more = start + size < len(audits)
        after_cursor = _encode_cursor(start + size) if page else None
        before_cursor = _encode_cursor(start) if page else None
        path = f"{self.base_url}/api/v2/tickets/{ticket_id}/audits.json"
        return JSONResponse(
            {
                "audits": [self._audit_json(ticket, a) for a in page],
                "meta": {
                    "has_more": has_more,
                    "after_cursor": after_cursor,
                    "before_cursor": before_cursor,
                },
                "links": {
                    "next": f"{path}?page[size]={size}&page[after]={after_cursor}"
                    if has_more
                    else None,
                    "prev": f"{path}?page[size]={size}&page[before]={before_cursor}"
                    if start > 0
                    else None,
                },
            }
        )

    # -- records -----------------------------------------------------------------------------

    def _add_user(self, name: str, email: str, role: str) -> FakeUser:
        user = FakeUser(id=next(self._user_ids), name=name, email=email, role=role)
        self.users[user.id] = user
        return user

    def _requester(self, fields: dict[str, Any]) -> FakeUser:
        """The user with this email, or a new end user ("Creating a ticket with a new
        requester")."""
        email = str(fields["email"]).lower()
        for user in self.users.values():
            if user.email.lower() == email:
                return user
        return self._add_user(str(fields.get("name") or email), email, "end-user")

    def _find(self, ticket_ref: str) -> FakeTicket | None:
        raw = ticket_ref.removesuffix(".json")
        return self.tickets.get(int(raw)) if raw.isdigit() else None

    def _audit(
        self,
        ticket: FakeTicket,
        author_id: int,
        custom: dict[str, str],
        *,
        events: list[dict[str, Any]],
    ) -> FakeAudit:
        audit = FakeAudit(
            id=next(self._object_ids),
            author_id=author_id,
            created_at=datetime.now(UTC),
            custom=custom,
            events=events,
        )
        ticket.audits.append(audit)
        return audit

    def _comment(
        self,
        ticket: FakeTicket,
        author_id: int,
        body: str,
        *,
        public: bool,
        custom: dict[str, str],
    ) -> FakeAudit:
        """A comment and the audit that records it (the Comment event's id is the comment's)."""
        audit = self._audit(ticket, author_id, custom, events=[])
        comment = FakeComment(
            id=next(self._object_ids),
            author_id=author_id,
            body=body,
            public=public,
            audit_id=audit.id,
            created_at=audit.created_at,
        )
        ticket.comments.append(comment)
        audit.events.append(
            {
                "id": comment.id,
                "type": "Comment",
                "author_id": author_id,
                "body": body,
                "plain_body": body,
                "public": public,
                "attachments": [],
                "audit_id": audit.id,
            }
        )
        ticket.updated_at = audit.created_at
        return audit

    def _placeholders(self, ticket: FakeTicket) -> dict[str, str]:
        latest = next(c for c in reversed(ticket.comments) if c.public)
        author = self.users[latest.author_id]
        return {
            "ticket.id": str(ticket.id),
            "ticket.external_id": ticket.external_id or "",
            # {{ticket.status}} is the status's name as agents see it.
            "ticket.status": ticket.status.capitalize(),
            "ticket.latest_public_comment.id": str(latest.id),
            "ticket.latest_public_comment.author.name": author.name,
            "ticket.latest_public_comment.value": latest.body,
        }

    # -- JSON --------------------------------------------------------------------------------

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "url": f"{self.base_url}/api/v2/users/{user.id}.json",
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "active": True,
            "verified": True,
        }

    def _ticket_json(self, ticket: FakeTicket) -> dict[str, Any]:
        return {
            "id": ticket.id,
            "url": f"{self.base_url}/api/v2/tickets/{ticket.id}.json",
            "external_id": ticket.external_id,
            "subject": ticket.subject,
            "raw_subject": ticket.subject,
            "description": ticket.description,
            "status": ticket.status,
            "priority": ticket.priority,
            "requester_id": ticket.requester_id,
            "submitter_id": ticket.submitter_id,
            "tags": ticket.tags,
            "is_public": any(c.public for c in ticket.comments),
            "created_at": _iso(ticket.created_at),
            "updated_at": _iso(ticket.updated_at),
            "via": {"channel": "api"},
        }

    def _comment_json(self, comment: FakeComment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "type": "Comment",
            "author_id": comment.author_id,
            "body": comment.body,
            "plain_body": comment.body,
            "public": comment.public,
            "audit_id": comment.audit_id,
            "attachments": [],
            "created_at": _iso(comment.created_at),
        }

    def _audit_json(self, ticket: FakeTicket, audit: FakeAudit) -> dict[str, Any]:
        return {
            "id": audit.id,
            "ticket_id": ticket.id,
            "author_id": audit.author_id,
            "created_at": _iso(audit.created_at),
            "metadata": {"custom": dict(audit.custom), "system": {}},
            "via": {"channel": "api"},
            "events": list(audit.events),
        }


# -- helpers -----------------------------------------------------------------------------------


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill a trigger's JSON body as Zendesk does: each placeholder becomes its value, escaped
    for the JSON string it sits in; an unknown placeholder becomes the empty string."""

    def fill(match: re.Match[str]) -> str:
        return json.dumps(values.get(match.group(1), ""))[1:-1]

    return PLACEHOLDER.sub(fill, template)


def _is(path: str, resource: str) -> bool:
    return path.removesuffix(".json") == f"/api/v2/{resource}"


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _invalid(field_name: str, description: str) -> JSONResponse:
    """422 RecordInvalid, Zendesk's answer to a record that fails validation."""
    return JSONResponse(
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field_name: [{"description": description, "error": "InvalidValue"}]},
        },
        status_code=422,
    )


def _no_ticket_object() -> JSONResponse:
    """A body without the `ticket` object every Create and Update Ticket body has. (The
    references show no exact answer for it; a 400 is as strict as Zendesk can be.)"""
    return JSONResponse(
        {"error": "InvalidValue", "description": "The request body needs a ticket object"},
        status_code=400,
    )


def _check_fields(fields: dict[str, Any]) -> JSONResponse | None:
    status = fields.get("status")
    if status is not None and status not in STATUSES:
        return _invalid("status", f"Status: {status} is not a valid value")
    priority = fields.get("priority")
    if priority is not None and priority not in PRIORITIES:
        return _invalid("priority", f"Priority: {priority} is not a valid value")
    tags = fields.get("tags")
    if tags is not None and not isinstance(tags, list):
        return _invalid("tags", "Tags: must be a list")
    metadata = fields.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            return _invalid("metadata", "Metadata: must be an object")
        if len(json.dumps(metadata).encode()) > METADATA_MAX_BYTES:
            return _invalid("metadata", "Metadata: is too large")
    return None


def _comment_text(comment: Any) -> str:
    if not isinstance(comment, dict):
        return ""
    text = comment.get("body") or comment.get("html_body") or ""
    return str(text).strip()


def _custom(fields: dict[str, Any]) -> dict[str, str]:
    """Ticket `metadata` becomes the audit's `metadata.custom`, values as strings."""
    metadata = fields.get("metadata") or {}
    return {str(k): str(v) for k, v in metadata.items()}


def _looks_like_email(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not raw.startswith("o:") or not raw[2:].isdigit():
        return None
    return int(raw[2:])


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
