"""Linear: a ticket escalated to engineering becomes a Linear issue, and Linear's webhooks tell
us when that issue moves.

Everything goes through Linear's one GraphQL endpoint, `POST <base_url>/graphql`
(https://api.linear.app/graphql in production; https://linear.app/developers/graphql), with a
personal API key sent as the whole `Authorization` header, without a `Bearer` prefix
(https://linear.app/developers/graphql#personal-api-keys). Operations used:

- `viewer { name email }` for `check()`;
- `teams(filter: { key: { eq } })` to turn the team key (ENG) into the id `issueCreate` needs;
- `issueCreate(input: { teamId, title, description, priority })`
  (IssueCreateInput, https://github.com/linear/linear/blob/master/packages/sdk/src/schema.graphql);
- `issue(id:)` to read the current state of an issue we created;
- `issues(filter: { description: { contains } })` to find an issue by the line we stamp on it
  (filtering: https://linear.app/developers/filtering; IssueFilter.description is a
  NullableStringComparator in the schema).

Errors. Linear answers errors in the standard GraphQL `errors` array, each with `extensions`
(`code`, `type`, `userPresentableMessage`), also with HTTP 200 and partial data
(https://linear.app/developers/graphql#error-handling). A rejected API key is answered with
`AUTHENTICATION_ERROR` and `extensions.statusCode` 401; the docs name no HTTP status for it.
Answers captured from api.linear.app come with HTTP 401, and Linear's SDK (parseLinearError in
packages/sdk/src/error.ts) takes the type from the body before the status, so the code is read
from the body whatever the status, a 400 included.

Running out of the rate limit is answered with HTTP 400 (not 429) and `RATELIMITED`, with
`X-RateLimit-Requests-*`, `X-RateLimit-Complexity-*` or `X-RateLimit-Endpoint-Requests-*`
headers whose `-Reset` is a UTC epoch in milliseconds (https://linear.app/developers/rate-limiting).
Every request goes through `call()`; its 4xx refusals keep only an excerpt of the body, so the
codes are read from that excerpt, and a 400 `RATELIMITED` cannot carry its reset (`call()` reads
headers for 429 and 5xx only): it is RATE_LIMITED with `retry_after=None`. A 429, should Linear
send one, carries the reset.

Done. A workflow state's `type` is one of triage, backlog, unstarted, started, completed,
canceled, duplicate (WorkflowState.type in the schema). An escalation is finished when its issue
is closed: completed, and also canceled or duplicate, because engineering will do no more on it
either way; `status` (the state's name, e.g. "Done" or "Canceled") tells the support agent which.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from app.connectors.vendors.base import (
    AccountRecord,
    Action,
    Credentials,
    Failure,
    FarSideError,
    Inbound,
    Push,
    Remote,
    TicketRecord,
)
from app.connectors.vendors.http import call, retry_after_header

# WorkflowState.type values of a closed issue (see "Done" above).
DONE_STATE_TYPES = frozenset({"completed", "canceled", "duplicate"})

# The last line of every issue we create: how `look_first` finds it again.
MARKER_PREFIX = "ticketbot: "

# IssueCreateInput.priority: 0 = No priority, 1 = Urgent, 2 = High, 3 = Normal, 4 = Low.
PRIORITIES = {"urgent": 1, "high": 2, "normal": 3, "low": 4}

# How many issues whose description contains our line are checked for the exact line.
LOOKUP_CANDIDATES = 10

# https://linear.app/developers/webhooks#securing-webhooks: the hex HMAC-SHA256 of the raw
# body, keyed with the webhook's signing secret, in `Linear-Signature`; `webhookTimestamp` in
# the body (UTC epoch milliseconds) must be within a minute of now, against replays (Linear's
# SDK, LinearWebhookClient.verify, refuses a difference of more than 60 s either way).
SIGNATURE_HEADER = "linear-signature"
TIMESTAMP_FIELD = "webhookTimestamp"
WEBHOOK_TOLERANCE_MS = 60_000

# The rate-limit buckets, by header prefix (https://linear.app/developers/rate-limiting).
_RATE_LIMIT_BUCKETS = (
    "x-ratelimit-endpoint-requests",
    "x-ratelimit-requests",
    "x-ratelimit-complexity",
)

# Codes and types in Linear's error `extensions`, as found in a refusal's body excerpt.
_EXCERPT_RATE_LIMITED = re.compile(r'"(?:code|type)"\s*:\s*"ratelimited"', re.IGNORECASE)
_EXCERPT_AUTH = re.compile(
    r'"(?:code|type)"\s*:\s*"(?:authentication[ _]error|forbidden)"', re.IGNORECASE
)
_EXCERPT_NOT_FOUND = re.compile(r'"message"\s*:\s*"Entity not found', re.IGNORECASE)

_ISSUE_FIELDS = "id identifier url state { name type }"

VIEWER = "query Viewer { viewer { id name email } }"

TEAM_BY_KEY = """query TeamByKey($key: String!) {
  teams(filter: { key: { eq: $key } }) { nodes { id key name } }
}"""

ISSUE_BY_ID = f"""query IssueById($id: String!) {{
  issue(id: $id) {{ {_ISSUE_FIELDS} }}
}}"""

ISSUES_BY_MARKER = f"""query IssuesByMarker($marker: String!, $first: Int!) {{
  issues(filter: {{ description: {{ contains: $marker }} }}, first: $first) {{
    nodes {{ {_ISSUE_FIELDS} description }}
  }}
}}"""

ISSUE_CREATE = f"""mutation IssueCreate($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ {_ISSUE_FIELDS} }} }}
}}"""


class Linear:
    """Escalations to a Linear team, and the news of them from Linear's webhooks."""

    name: ClassVar[str] = "linear"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.ESCALATE})
    # team: the key of the Linear team escalations go to (ENG) unless one is named.
    default_mapping: ClassVar[dict[str, Any]] = {"team": None}

    async def push(self, http: httpx.AsyncClient, credentials: Credentials, push: Push) -> Remote:
        if push.action is not Action.ESCALATE:
            raise FarSideError(Failure.REFUSED, f"Linear cannot {push.action.value}")
        if push.remote is not None:
            return await _current(http, credentials, push.remote.id)
        ticket = push.ticket
        if ticket is None:
            raise FarSideError(Failure.REFUSED, "an escalation needs its ticket")
        team_key = push.target or push.mapping.get("team")
        if not team_key:
            raise FarSideError(
                Failure.REFUSED, "no Linear team: set the connector's `team` mapping or name one"
            )
        if push.look_first:
            found = await _find(http, credentials, push.ours)
            if found is not None:
                return found
        team_id = await _team_id(http, credentials, str(team_key))
        return await _create(http, credentials, team_id, ticket, push.account, push.ours)

    async def check(self, http: httpx.AsyncClient, credentials: Credentials) -> str:
        data = await _graphql(http, credentials, VIEWER, {})
        viewer = data.get("viewer")
        if not isinstance(viewer, dict):
            raise FarSideError(Failure.REFUSED, "Linear answered without a viewer")
        email = viewer.get("email")
        return f"Linear user {viewer.get('name')}" + (f" ({email})" if email else "")

    def verify(self, headers: dict[str, str], body: bytes, secret: str, now: datetime) -> bool:
        signature = headers.get(SIGNATURE_HEADER)
        if not signature or not secret:
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            return False
        try:
            sent_ms = json.loads(body)[TIMESTAMP_FIELD]
        except (ValueError, TypeError, KeyError):
            return False
        if not isinstance(sent_ms, int | float) or isinstance(sent_ms, bool):
            return False
        moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        return abs(moment.timestamp() * 1000 - sent_ms) <= WEBHOOK_TOLERANCE_MS

    def read(self, body: bytes) -> Inbound | None:
        """An Issue create or update delivery (https://linear.app/developers/webhooks: `action`,
        `type`, `data` with the issue as the webhook schema has it, `updatedFrom`,
        `webhookId`, `webhookTimestamp`) -> the issue's state now."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("type") != "Issue":
            return None
        if payload.get("action") not in ("create", "update"):
            return None
        data = payload.get("data")
        if not isinstance(data, dict) or not data.get("id"):
            return None
        state = data.get("state")
        if not isinstance(state, dict) or not state.get("name"):
            return None
        # The `Linear-Delivery` header would name the delivery, but read() has the body only.
        # The issue's `updatedAt` with the state it reached names the change: a retried
        # delivery repeats both, the next change differs (`webhookTimestamp` is no help: a
        # retry must be stamped anew, or it could never pass the one-minute check).
        changed = data.get("updatedAt")
        state_id = state.get("id") or state.get("name")
        return Inbound(
            remote_id=str(data["id"]),
            event_id=f"linear:issue:{data['id']}:{changed}:{state_id}" if changed else None,
            status=str(state["name"]),
            done=state.get("type") in DONE_STATE_TYPES,
        )


def marker_line(ours: str) -> str:
    return f"{MARKER_PREFIX}{ours}"


def issue_title(ticket: TicketRecord) -> str:
    return f"T-{ticket.number}: {_one_line(ticket.subject)}"


def issue_description(ticket: TicketRecord, account: AccountRecord | None, ours: str) -> str:
    """Markdown: the customer's words quoted (so no line of theirs can pose as our marker),
    who and where, and our marker as the last line."""
    quoted = "\n".join(f"> {line}".rstrip() for line in ticket.description.splitlines())
    account = account or ticket.account
    facts = [f"- **Ticket:** T-{ticket.number} ({ticket.priority} priority)"]
    if account is not None:
        facts.append(f"- **Account:** {_one_line(account.name)}")
    requester = " ".join(
        part
        for part in (
            _one_line(ticket.requester_name or ""),
            f"<{_one_line(ticket.requester_email)}>" if ticket.requester_email else "",
        )
        if part
    )
    if requester:
        facts.append(f"- **Requester:** {requester}")
    if ticket.permalink:
        facts.append(f"- **Slack thread:** {_one_line(ticket.permalink)}")
    parts = [quoted or "> (no description)", "\n".join(facts), marker_line(ours)]
    return "\n\n".join(parts)


def has_marker(description: str | None, ours: str) -> bool:
    """Our marker as a line of its own (a longer id, or the marker inside a quote, is not it)."""
    line = re.compile(rf"^{re.escape(marker_line(ours))}[ \t]*$", re.MULTILINE)
    return bool(description) and line.search(description or "") is not None


def linear_retry_after(response: httpx.Response) -> float | None:
    """Seconds until the exhausted bucket refills: its `X-RateLimit-*-Reset` (epoch ms), else
    `Retry-After`."""
    now_ms = datetime.now(UTC).timestamp() * 1000
    waits: list[float] = []
    for bucket in _RATE_LIMIT_BUCKETS:
        reset = _number(response.headers.get(f"{bucket}-reset"))
        remaining = _number(response.headers.get(f"{bucket}-remaining"))
        if reset is None or (remaining is not None and remaining > 0):
            continue
        waits.append(max(reset - now_ms, 0.0) / 1000)
    if waits:
        return max(waits)
    return retry_after_header(response)


async def _current(http: httpx.AsyncClient, credentials: Credentials, issue_id: str) -> Remote:
    data = await _graphql(
        http, credentials, ISSUE_BY_ID, {"id": issue_id}, not_found=Failure.NOT_FOUND
    )
    issue = data.get("issue")
    if not isinstance(issue, dict):
        raise FarSideError(Failure.NOT_FOUND, f"Linear has no issue {issue_id}")
    return _remote(issue)


async def _find(http: httpx.AsyncClient, credentials: Credentials, ours: str) -> Remote | None:
    data = await _graphql(
        http,
        credentials,
        ISSUES_BY_MARKER,
        {"marker": marker_line(ours), "first": LOOKUP_CANDIDATES},
    )
    for issue in _nodes(data.get("issues")):
        if has_marker(issue.get("description"), ours):
            return _remote(issue)
    return None


async def _team_id(http: httpx.AsyncClient, credentials: Credentials, key: str) -> str:
    data = await _graphql(http, credentials, TEAM_BY_KEY, {"key": key})
    for team in _nodes(data.get("teams")):
        if team.get("key") == key and team.get("id"):
            return str(team["id"])
    raise FarSideError(
        Failure.REFUSED, f"Linear has no team with key {key!r} that this API key can see"
    )


async def _create(
    http: httpx.AsyncClient,
    credentials: Credentials,
    team_id: str,
    ticket: TicketRecord,
    account: AccountRecord | None,
    ours: str,
) -> Remote:
    issue_input: dict[str, Any] = {
        "teamId": team_id,
        "title": issue_title(ticket),
        "description": issue_description(ticket, account, ours),
    }
    if ticket.priority in PRIORITIES:
        issue_input["priority"] = PRIORITIES[ticket.priority]
    data = await _graphql(http, credentials, ISSUE_CREATE, {"input": issue_input}, creates=True)
    payload = data.get("issueCreate")
    issue = payload.get("issue") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not payload.get("success") or not isinstance(issue, dict):
        raise FarSideError(Failure.REFUSED, "Linear did not create the issue (success: false)")
    return _remote(issue)


async def _graphql(
    http: httpx.AsyncClient,
    credentials: Credentials,
    query: str,
    variables: dict[str, Any],
    *,
    creates: bool = False,
    not_found: Failure = Failure.REFUSED,
) -> dict[str, Any]:
    """One GraphQL operation: its `data`, or FarSideError classified by Linear's error codes."""
    try:
        body = await call(
            http,
            "POST",
            f"{credentials.base_url.rstrip('/')}/graphql",
            headers={"Authorization": credentials.token, "Content-Type": "application/json"},
            json={"query": query, "variables": variables},
            retry_after=linear_retry_after,
            creates=creates,
        )
    except FarSideError as exc:
        raise _reclassified(exc, not_found) from None
    if not isinstance(body, dict):
        raise FarSideError(Failure.UNAVAILABLE, "Linear answered without a GraphQL body")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        raise _graphql_error(errors, not_found)
    data = body.get("data")
    if not isinstance(data, dict):
        raise FarSideError(Failure.UNAVAILABLE, "Linear answered without data")
    return data


def _reclassified(exc: FarSideError, not_found: Failure) -> FarSideError:
    """A refusal `call()` classified by status alone, read again by the codes in its body."""
    if exc.failure is Failure.NOT_FOUND:
        # A 404 or 410 names the address, not an issue: there is no GraphQL API there.
        return FarSideError(
            Failure.REFUSED,
            f"no Linear GraphQL API at this base URL ({exc.message})",
            status_code=exc.status_code,
        )
    if exc.failure not in (Failure.REFUSED, Failure.AUTH):
        return exc
    failure: Failure = exc.failure
    if _EXCERPT_RATE_LIMITED.search(exc.message):
        failure = Failure.RATE_LIMITED
    elif _EXCERPT_AUTH.search(exc.message):
        failure = Failure.AUTH
    elif _EXCERPT_NOT_FOUND.search(exc.message):
        failure = not_found
    if failure is exc.failure:
        return exc
    return FarSideError(
        failure,
        exc.message,
        status_code=exc.status_code,
        retry_after=exc.retry_after,
        maybe_done=exc.maybe_done,
    )


def _graphql_error(errors: list[Any], not_found: Failure) -> FarSideError:
    first = _object(errors[0])
    extensions = _object(first.get("extensions"))
    code = str(extensions.get("code") or "").upper()
    kind = str(extensions.get("type") or "").lower()
    message = str(first.get("message") or "")
    said = extensions.get("userPresentableMessage") or message or code or "an error"
    text = f"Linear answered: {said}" + (f" ({code})" if code else "")
    if code == "RATELIMITED" or kind == "ratelimited":
        return FarSideError(Failure.RATE_LIMITED, text)
    if code in ("AUTHENTICATION_ERROR", "FORBIDDEN") or kind in (
        "authentication error",
        "forbidden",
    ):
        return FarSideError(Failure.AUTH, text)
    if message.lower().startswith("entity not found"):
        return FarSideError(not_found, text)
    if code == "INTERNAL_ERROR" or kind in ("internal error", "lock timeout", "network error"):
        return FarSideError(Failure.UNAVAILABLE, text)
    return FarSideError(Failure.REFUSED, text)


def _remote(issue: dict[str, Any]) -> Remote:
    state = _object(issue.get("state"))
    return Remote(
        id=str(issue["id"]),
        key=issue.get("identifier"),
        url=issue.get("url"),
        status=state.get("name"),
        done=state.get("type") in DONE_STATE_TYPES,
    )


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
        return []
    return [node for node in connection["nodes"] if isinstance(node, dict)]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
