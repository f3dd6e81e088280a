"""Jira Cloud: escalate a ticket to engineering as a Jira issue, and hear when it is done.

One issue per escalated ticket, stamped with a label (`Push.ours`) so that a replayed create
finds the issue an earlier attempt may have made instead of making a second one. Updates do
not write to Jira: engineering owns the issue, so a push with a stored `Remote` only reads its
current status. Jira's webhooks (`jira:issue_updated`) bring status changes in between.

References (Jira Cloud platform REST API v3 and its guides):
- Basic auth with an account email and API token:
  https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
- Create issue, get issue:
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/
- Enhanced JQL search (`/rest/api/3/search/jql`, the successor of `/rest/api/3/search`):
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/
- Current user: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/
- Atlassian Document Format: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
- Rate limiting: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
- Webhooks (payloads, secure admin webhooks, retries):
  https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from app.connectors.vendors.base import (
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

ISSUE_PATH = "/rest/api/3/issue"
SEARCH_PATH = "/rest/api/3/search/jql"
MYSELF_PATH = "/rest/api/3/myself"

# Create issue: "summary" is a single line of at most 255 characters (Jira answers 400
# "Summary must be less than 255 characters." otherwise).
SUMMARY_MAX_CHARS = 255
# Labels: no spaces, at most 255 characters.
LABEL_MAX_CHARS = 255

# Webhooks registered with a secret carry `X-Hub-Signature: sha256=<hex HMAC of the raw body>`
# (the WebSub `method=signature` form). See "Secure admin webhooks" on the webhooks page.
SIGNATURE_HEADER = "x-hub-signature"
SIGNATURE_METHOD = "sha256"

ISSUE_UPDATED = "jira:issue_updated"


class Jira:
    """Escalations to Jira Cloud over REST API v3, with basic auth (email + API token)."""

    name: ClassVar[str] = "jira"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.ESCALATE})
    default_mapping: ClassVar[dict[str, Any]] = {
        # The project key issues go to when the escalation names none (`Push.target`).
        "project": None,
        # The issue type's name, as the project's issue type scheme spells it.
        "issue_type": "Task",
        # Status category keys (`new`, `indeterminate`, `done`) that count as finished.
        "done_categories": ["done"],
    }

    async def push(self, http: httpx.AsyncClient, credentials: Credentials, push: Push) -> Remote:
        if push.action is not Action.ESCALATE:
            raise FarSideError(Failure.REFUSED, f"Jira does not take {push.action.value}")
        mapping = {**self.default_mapping, **push.mapping}
        site = _site(credentials)
        headers = _headers(credentials)
        done_categories = frozenset(mapping.get("done_categories") or ())
        if push.remote is not None:
            issue = await _get_issue(http, site, headers, push.remote.id)
            return _remote(site, issue, done_categories)
        if push.look_first:
            found = await _find_by_label(http, site, headers, _label(push.ours))
            if found is not None:
                return _remote(site, found, done_categories)
        if push.ticket is None:
            raise FarSideError(Failure.REFUSED, "an escalation needs the ticket")
        project = push.target or mapping.get("project")
        if not project:
            raise FarSideError(
                Failure.REFUSED, "no Jira project: name one in the escalation or the mapping"
            )
        # POST /rest/api/3/issue answers 201 {"id", "key", "self"}; 400 with an
        # ErrorCollection {"errorMessages": [...], "errors": {field: message}} when a field
        # is refused (unknown project, issue type, invalid description).
        created = await call(
            http,
            "POST",
            f"{site}{ISSUE_PATH}",
            headers=headers,
            json={"fields": _issue_fields(push, str(project), str(mapping["issue_type"]))},
            retry_after=retry_after,
            creates=True,
        )
        issue_id, key = _created_ids(created)
        # The create answer carries no status; the workflow's first status is read back. The
        # issue exists whatever this read says, so a failure here must not fail the push (a
        # retry would create a second issue).
        try:
            issue = await _get_issue(http, site, headers, issue_id)
        except FarSideError:
            return Remote(id=issue_id, key=key, url=_browse_url(site, key))
        return _remote(site, issue, done_categories)

    async def check(self, http: httpx.AsyncClient, credentials: Credentials) -> str:
        # GET /rest/api/3/myself: the user the credentials belong to ({"accountId",
        # "displayName", "emailAddress", ...}).
        me = await call(
            http,
            "GET",
            f"{_site(credentials)}{MYSELF_PATH}",
            headers=_headers(credentials),
            retry_after=retry_after,
        )
        if not isinstance(me, dict):
            raise FarSideError(Failure.UNAVAILABLE, "answered /myself without a user")
        who = me.get("displayName") or me.get("emailAddress") or me.get("accountId")
        return f"Jira user {who}"

    # -- webhooks ---------------------------------------------------------------------------

    def verify(self, headers: dict[str, str], body: bytes, secret: str, now: datetime) -> bool:
        """`X-Hub-Signature: sha256=<hex>` over the raw body with the webhook's secret.

        Jira signs no timestamp, so `now` is not used: a replayed delivery verifies, and
        repeats are dropped by `Inbound.event_id` instead.
        """
        del now
        if not secret:
            return False
        method, _, signature = (headers.get(SIGNATURE_HEADER) or "").strip().partition("=")
        if method.lower() != SIGNATURE_METHOD or not signature:
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.strip().lower())

    def read(self, body: bytes) -> Inbound | None:
        """A `jira:issue_updated` delivery's issue and its status now; None for other events.

        Payload (webhooks page, "Example callback for an issue-related event"):
        {"timestamp": <ms>, "webhookEvent": "jira:issue_updated", "issue": {"id", "key",
        "fields": {"status": {"name", "statusCategory": {"key"}}, ...}}, "changelog": {...}}.
        """
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("webhookEvent") != ISSUE_UPDATED:
            return None
        issue = payload.get("issue")
        if not isinstance(issue, dict) or issue.get("id") in (None, ""):
            return None
        issue_id = str(issue["id"])
        status, category = _status(issue)
        # Jira's delivery id is a header (X-Atlassian-Webhook-Identifier) that `read` is not
        # given; a retried delivery repeats the payload, so its timestamp and issue id serve.
        timestamp = payload.get("timestamp")
        event_id = f"{timestamp}-{issue_id}" if timestamp is not None else None
        done_categories = frozenset(self.default_mapping["done_categories"])
        return Inbound(
            remote_id=issue_id,
            event_id=event_id,
            status=status,
            done=category in done_categories,
        )


def retry_after(response: httpx.Response) -> float | None:
    """Jira's 429 (and some 503s) carry `Retry-After` in seconds; some carry only
    `X-RateLimit-Reset`, an ISO 8601 time (`yyyy-MM-ddTHH:mmZ`) when the budget refills."""
    seconds = retry_after_header(response)
    if seconds is not None:
        return seconds
    raw = (response.headers.get("x-ratelimit-reset") or "").strip()
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


# -- requests -------------------------------------------------------------------------------


def _site(credentials: Credentials) -> str:
    return credentials.base_url.rstrip("/")


def _headers(credentials: Credentials) -> dict[str, str]:
    """Basic auth: base64 of `<account email>:<API token>`."""
    email = (credentials.extra.get("email") or "").strip()
    if not email:
        raise FarSideError(Failure.AUTH, "Jira needs the account email next to the API token")
    pair = base64.b64encode(f"{email}:{credentials.token}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}", "Accept": "application/json"}


async def _get_issue(
    http: httpx.AsyncClient, site: str, headers: dict[str, str], id_or_key: str
) -> dict[str, Any]:
    # GET /rest/api/3/issue/{issueIdOrKey}?fields=status: {"id", "key", "fields":
    # {"status": {...}}}; 404 when the issue is gone or hidden from this user.
    issue = await call(
        http,
        "GET",
        f"{site}{ISSUE_PATH}/{id_or_key}",
        headers=headers,
        params={"fields": "status"},
        retry_after=retry_after,
    )
    if not isinstance(issue, dict) or "id" not in issue:
        raise FarSideError(Failure.UNAVAILABLE, "answered without the issue")
    return issue


async def _find_by_label(
    http: httpx.AsyncClient, site: str, headers: dict[str, str], label: str
) -> dict[str, Any] | None:
    # GET /rest/api/3/search/jql?jql=...&fields=status: {"issues": [...], "nextPageToken",
    # "isLast"}. Its `fields` default is `id` alone, so the status is asked for. Jira notes
    # that "recent updates might not be immediately visible" in search results.
    found = await call(
        http,
        "GET",
        f"{site}{SEARCH_PATH}",
        headers=headers,
        params={"jql": f"labels = {_jql_string(label)}", "fields": "status", "maxResults": "1"},
        retry_after=retry_after,
    )
    issues = found.get("issues") if isinstance(found, dict) else None
    if not issues:
        return None
    first = issues[0]
    return first if isinstance(first, dict) and "id" in first else None


def _created_ids(created: Any) -> tuple[str, str]:
    if not isinstance(created, dict) or not created.get("id") or not created.get("key"):
        raise FarSideError(Failure.UNAVAILABLE, "answered the create without the issue's id")
    return str(created["id"]), str(created["key"])


# -- what we send ---------------------------------------------------------------------------


def _issue_fields(push: Push, project: str, issue_type: str) -> dict[str, Any]:
    ticket = push.ticket
    assert ticket is not None  # checked by the caller
    return {
        "project": {"key": project},
        "issuetype": {"name": issue_type},
        "summary": _summary(ticket),
        "description": _description(ticket),
        "labels": [_label(push.ours)],
    }


def _summary(ticket: TicketRecord) -> str:
    """`T-<number>: <subject>` on one line, cut to Jira's limit."""
    subject = " ".join(ticket.subject.split())
    summary = f"T-{ticket.number}: {subject}" if subject else f"T-{ticket.number}"
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[: SUMMARY_MAX_CHARS - 1].rstrip() + "…"
    return summary


def _label(ours: str) -> str:
    """Jira labels cannot hold spaces; the same label is used to create and to search."""
    return re.sub(r"\s+", "-", ours.strip())[:LABEL_MAX_CHARS]


def _jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with backslash and quote escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _description(ticket: TicketRecord) -> dict[str, Any]:
    """An ADF document: the customer's message, then the account and the Slack thread.

    ADF: {"type": "doc", "version": 1, "content": [block nodes]}; a paragraph holds inline
    nodes (`text`, never empty; `hardBreak`); a link is a `link` mark with `attrs.href`.
    """
    content: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", ticket.description.strip()):
        paragraph = _paragraph_of_lines(block)
        if paragraph is not None:
            content.append(paragraph)
    if ticket.account is not None and ticket.account.name.strip():
        content.append(_paragraph([_text("Account: "), _text(ticket.account.name.strip())]))
    if ticket.permalink:
        link = _text("Slack thread", marks=[{"type": "link", "attrs": {"href": ticket.permalink}}])
        content.append(_paragraph([link]))
    if not content:
        content.append(_paragraph([_text(f"T-{ticket.number}")]))
    return {"type": "doc", "version": 1, "content": content}


def _paragraph_of_lines(block: str) -> dict[str, Any] | None:
    inline: list[dict[str, Any]] = []
    for line in block.splitlines():
        line = line.rstrip()
        if inline:
            inline.append({"type": "hardBreak"})
        if line:
            inline.append(_text(line))
    while inline and inline[-1]["type"] == "hardBreak":
        inline.pop()
    return _paragraph(inline) if inline else None


def _paragraph(inline: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "paragraph", "content": inline}


def _text(text: str, *, marks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = marks
    return node


# -- what we read ---------------------------------------------------------------------------


def _status(issue: dict[str, Any]) -> tuple[str | None, str | None]:
    """The status's name and its category's key (`new`, `indeterminate`, `done`)."""
    fields = issue.get("fields")
    status = fields.get("status") if isinstance(fields, dict) else None
    if not isinstance(status, dict):
        return None, None
    category = status.get("statusCategory")
    key = category.get("key") if isinstance(category, dict) else None
    name = status.get("name")
    return (str(name) if name is not None else None), (str(key) if key is not None else None)


def _remote(site: str, issue: dict[str, Any], done_categories: frozenset[str]) -> Remote:
    key = str(issue["key"]) if issue.get("key") else None
    status, category = _status(issue)
    return Remote(
        id=str(issue["id"]),
        key=key,
        url=_browse_url(site, key) if key else None,
        status=status,
        done=category in done_categories,
    )


def _browse_url(site: str, key: str) -> str:
    return f"{site}/browse/{key}"
