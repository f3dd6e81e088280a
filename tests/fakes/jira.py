"""A fake Jira Cloud site: the REST API v3 calls our Jira connector makes, and its webhooks.

It answers as Jira Cloud documents, and no more kindly: basic auth with one account's email
and API token, issues in the projects it was made with (keys ENG-1, ENG-2, ...; ids numeric
strings), a workflow of To Do -> In Progress -> Done, a JQL search that understands
`labels = "..."` only, 429s with Jira's rate-limit headers, 5xx, and going down. Every request
is recorded.

References:
- Basic auth: https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
- Issues (create, get): https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/
- Enhanced JQL search: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/
- Myself: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/
- ADF: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
- Status categories: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-workflow-status-categories/
- Rate limiting: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
- Webhooks: https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app.slack_emulator.server import ServerRunner
from tests.fakes.base import LocalService

# Workflow statuses with their status category (id, key, colour, name) as Jira reports them
# in `fields.status.statusCategory`.
STATUSES: dict[str, dict[str, Any]] = {
    "To Do": {"id": "10000", "category": (2, "new", "blue-gray", "To Do")},
    "In Progress": {"id": "3", "category": (4, "indeterminate", "yellow", "In Progress")},
    "Done": {"id": "10001", "category": (3, "done", "green", "Done")},
}
FIRST_STATUS = "To Do"
FIRST_ISSUE_ID = 10000

# Error texts Jira Cloud answers with, in its ErrorCollection {"errorMessages", "errors"}.
NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
NO_SUCH_ISSUE = "Issue does not exist or you do not have permission to see it."
BAD_PROJECT = "Specify a valid project ID or key"
NO_ISSUE_TYPE = "Specify an issue type"
BAD_ISSUE_TYPE = "Specify a valid issue type"
NO_SUMMARY = "You must specify a summary of the issue."
LONG_SUMMARY = "Summary must be less than 255 characters."
MULTILINE_SUMMARY = "The summary is invalid because it contains newline characters."
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"

# The one JQL shape the fake understands: `labels = "<label>"` (the label may also be unquoted).
LABEL_JQL = re.compile(r'^\s*labels\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"()]+))\s*$', re.IGNORECASE)


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    authorization: str | None


@dataclass
class FakeIssue:
    id: str
    key: str
    project: str
    issue_type: str
    summary: str
    description: dict[str, Any] | None
    labels: list[str]
    status: str = FIRST_STATUS
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The last status change, for the changelog of a webhook delivery: (id, from, to).
    last_change: tuple[str, str, str] | None = None


class FakeJira(LocalService):
    """A Jira Cloud site with a few projects and one API user, served on 127.0.0.1."""

    def __init__(
        self,
        *,
        projects: list[str] | tuple[str, ...] = ("ENG",),
        email: str = "escalations@example.com",
        token: str = "jira-api-token-5e1f",
        display_name: str = "Escalations Bot",
        issue_types: tuple[str, ...] = ("Task", "Bug", "Story"),
    ) -> None:
        self.projects = list(projects)
        self.email = email
        self.token = token
        self.display_name = display_name
        self.account_id = "5b10ac8d82e05b22cc7d4ef5"
        self.issue_types = issue_types
        self.issues: dict[str, FakeIssue] = {}  # by id
        self.requests: list[Recorded] = []
        self._next_id = FIRST_ISSUE_ID
        self._next_number: dict[str, int] = {}
        self._next_change_id = 10100
        self._rate_limited = 0
        self._rate_limit_retry_after = 0
        self._failing = 0
        self._failure_status = 503
        self._failure_method: str | None = None
        self._runner = ServerRunner(self._app())

    # -- helpers for tests -------------------------------------------------------------------

    def rate_limit_next(self, n: int, *, retry_after: int = 30) -> None:
        """Answer the next `n` requests with 429 and Jira's rate-limit headers."""
        self._rate_limited = n
        self._rate_limit_retry_after = retry_after

    def fail_next(self, n: int, *, status: int = 503, method: str | None = None) -> None:
        """Answer the next `n` requests (of `method` only, if given) with a 5xx."""
        self._failing = n
        self._failure_status = status
        self._failure_method = method

    def issue(self, id_or_key: str) -> FakeIssue:
        found = self._find(id_or_key)
        if found is None:
            raise KeyError(id_or_key)
        return found

    def creates(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/rest/api/3/issue"]

    def transition(self, key: str, status: str) -> None:
        """Move an issue to another workflow status, as someone in engineering would."""
        if status not in STATUSES:
            raise ValueError(f"no status {status!r}; the workflow has {sorted(STATUSES)}")
        issue = self.issue(key)
        if issue.status != status:
            issue.last_change = (str(self._next_change_id), issue.status, status)
            self._next_change_id += 1
            issue.status = status
            issue.updated = datetime.now(UTC)

    def webhook_delivery(
        self, key: str, secret: str, *, retry: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed `jira:issue_updated` delivery for the issue as it stands now.

        Body per the webhooks page ("Example callback for an issue-related event"); headers:
        `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>` ("Secure admin webhooks"),
        `X-Atlassian-Webhook-Identifier` and, on a retry, `X-Atlassian-Webhook-Retry`
        ("Retry policy").
        """
        issue = self.issue(key)
        payload: dict[str, Any] = {
            "timestamp": int(issue.updated.timestamp() * 1000),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": self._user(),
            "issue": self._issue_json(issue, fields=None),
        }
        if issue.last_change is not None:
            change_id, before, after = issue.last_change
            payload["changelog"] = {
                "id": change_id,
                "items": [
                    {
                        "field": "status",
                        "fieldtype": "jira",
                        "fieldId": "status",
                        "from": STATUSES[before]["id"],
                        "fromString": before,
                        "to": STATUSES[after]["id"],
                        "toString": after,
                    }
                ],
            }
        body = json.dumps(payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature": f"sha256={signature}",
            "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
            "X-Atlassian-Webhook-Flow": "Primary",
        }
        if retry is not None:
            headers["X-Atlassian-Webhook-Retry"] = str(retry)
        return headers, body

    # -- the site ----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/rest/api/3/issue")
        async def create_issue(request: Request) -> Response:
            refused = await self._admit(request)
            raw = await request.body()  # read (and checked to be JSON) by _admit
            return refused or self._create(json.loads(raw) if raw else None)

        @app.get("/rest/api/3/issue/{id_or_key}")
        async def get_issue(id_or_key: str, request: Request) -> Response:
            refused = await self._admit(request)
            if refused is not None:
                return refused
            issue = self._find(id_or_key)
            if issue is None:
                # 404: "the issue is not found or the user does not have permission to view it"
                return _errors(404, [NO_SUCH_ISSUE])
            return JSONResponse(self._issue_json(issue, _fields(request)))

        @app.get("/rest/api/3/search/jql")
        async def search(request: Request) -> Response:
            refused = await self._admit(request)
            return refused or self._search(request)

        @app.get("/rest/api/3/myself")
        async def myself(request: Request) -> Response:
            refused = await self._admit(request)
            return refused or JSONResponse(self._user())

        return app

    async def _admit(self, request: Request) -> Response | None:
        """Record the request; answer for the injected faults and for bad credentials."""
        raw = await request.body()
        try:
            parsed = json.loads(raw) if raw else None
            readable = True
        except ValueError:
            parsed, readable = raw.decode(errors="replace"), False
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                json=parsed,
                authorization=request.headers.get("authorization"),
            )
        )
        if self._failing > 0 and self._failure_method in (None, request.method):
            self._failing -= 1
            return _errors(self._failure_status, ["Internal server error"])
        if self._rate_limited > 0:
            self._rate_limited -= 1
            return self._too_many()
        if not self._authenticated(request.headers.get("authorization")):
            # 401 "authentication credentials are incorrect or missing".
            return _errors(401, [NOT_AUTHENTICATED], headers={"WWW-Authenticate": "Basic"})
        if not readable:
            return _errors(400, ["Unexpected character in the request body: not JSON."])
        return None

    def _authenticated(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            pair = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        email, _, token = pair.partition(":")
        return hmac.compare_digest(email, self.email) and hmac.compare_digest(token, self.token)

    def _too_many(self) -> Response:
        # Rate limiting page: 429 with Retry-After (seconds), X-RateLimit-Reset (ISO 8601,
        # yyyy-MM-ddTHH:mmZ), X-RateLimit-Limit / -Remaining and RateLimit-Reason.
        reset = datetime.now(UTC) + timedelta(seconds=self._rate_limit_retry_after)
        headers = {
            "Retry-After": str(self._rate_limit_retry_after),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "RateLimit-Reason": "jira-burst-based",
        }
        return Response(status_code=429, headers=headers)

    # -- POST /rest/api/3/issue ----------------------------------------------------------------

    def _create(self, body: Any) -> Response:
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return _errors(400, ["No fields were provided for the issue."])
        errors: dict[str, str] = {}
        project = _reference(fields.get("project"), "key")
        if project not in self.projects:
            errors["project"] = BAD_PROJECT
        issue_type = fields.get("issuetype")
        type_name = _reference(issue_type, "name")
        if issue_type is None:
            errors["issuetype"] = NO_ISSUE_TYPE
        elif type_name not in self.issue_types:
            errors["issuetype"] = BAD_ISSUE_TYPE
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = NO_SUMMARY
        elif len(summary) > 255:
            errors["summary"] = LONG_SUMMARY
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = MULTILINE_SUMMARY
        description = fields.get("description")
        if description is not None and not _is_adf(description):
            errors["description"] = NOT_ADF
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            errors["labels"] = "Labels must be a list of strings."
        else:
            for label in labels:
                if not label or re.search(r"\s", label) or len(label) > 255:
                    errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        if errors:
            return _errors(400, [], errors=errors)
        assert isinstance(project, str) and isinstance(type_name, str)
        assert isinstance(summary, str) and isinstance(labels, list)
        number = self._next_number.get(project, 1)
        self._next_number[project] = number + 1
        issue = FakeIssue(
            id=str(self._next_id),
            key=f"{project}-{number}",
            project=project,
            issue_type=type_name,
            summary=summary,
            description=description,
            labels=list(labels),
        )
        self._next_id += 1
        self.issues[issue.id] = issue
        # 201 {"id", "key", "self"}.
        return JSONResponse(
            {"id": issue.id, "key": issue.key, "self": self._self_url(issue)}, status_code=201
        )

    # -- GET /rest/api/3/search/jql ------------------------------------------------------------

    def _search(self, request: Request) -> Response:
        jql = request.query_params.get("jql")
        if not jql:
            # The enhanced search requires a bounded query.
            return _errors(400, ["Unbounded JQL queries are not allowed here."])
        match = LABEL_JQL.match(jql)
        if match is None:
            return _errors(400, [f'The fake only understands labels = "..."; got {jql!r}.'])
        label = match.group(1)
        label = re.sub(r"\\(.)", r"\1", label) if label is not None else match.group(2)
        try:
            max_results = int(request.query_params.get("maxResults", "50"))
        except ValueError:
            return _errors(400, ["maxResults must be a number."])
        found = [i for i in self.issues.values() if label in i.labels]
        found.sort(key=lambda i: int(i.id), reverse=True)
        wanted = _fields(request) or ["id"]  # the enhanced search returns ids unless asked
        page = [self._issue_json(i, wanted) for i in found[: max(max_results, 0)]]
        return JSONResponse({"issues": page, "isLast": len(found) <= max_results})

    # -- representations -----------------------------------------------------------------------

    def _find(self, id_or_key: str) -> FakeIssue | None:
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        return next((i for i in self.issues.values() if i.key == id_or_key.upper()), None)

    def _self_url(self, issue: FakeIssue) -> str:
        return f"{self.base_url}/rest/api/3/issue/{issue.id}"

    def _issue_json(self, issue: FakeIssue, fields: list[str] | None) -> dict[str, Any]:
        """The issue as GET issue returns it; `fields` None means all (`*all`)."""
        if fields == ["id"]:
            return {"id": issue.id}
        everything: dict[str, Any] = {
            "summary": issue.summary,
            "description": issue.description,
            "labels": issue.labels,
            "project": {"key": issue.project, "name": issue.project},
            "issuetype": {"name": issue.issue_type},
            "status": _status_json(self.base_url, issue.status),
            "created": issue.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "updated": issue.updated.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        }
        if fields is not None and "*all" not in fields and "*navigable" not in fields:
            everything = {k: v for k, v in everything.items() if k in fields}
        return {
            "id": issue.id,
            "key": issue.key,
            "self": self._self_url(issue),
            "fields": everything,
        }

    def _user(self) -> dict[str, Any]:
        return {
            "self": f"{self.base_url}/rest/api/3/user?accountId={self.account_id}",
            "accountId": self.account_id,
            "accountType": "atlassian",
            "emailAddress": self.email,
            "displayName": self.display_name,
            "active": True,
            "timeZone": "UTC",
        }


def _errors(
    status: int,
    messages: list[str],
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Jira's ErrorCollection body."""
    return JSONResponse(
        {"errorMessages": messages, "errors": errors or {}}, status_code=status, headers=headers
    )


def _fields(request: Request) -> list[str] | None:
    """The `fields` query parameter(s), comma-separated and repeatable; None when absent."""
    given = request.query_params.getlist("fields")
    if not given:
        return None
    return [f.strip() for value in given for f in value.split(",") if f.strip()]


def _reference(value: Any, name_key: str) -> str | None:
    """A project or issue type given as {"key"/"name": ...} or {"id": ...}."""
    if not isinstance(value, dict):
        return None
    found = value.get(name_key)
    return found if isinstance(found, str) else None


def _status_json(site: str, name: str) -> dict[str, Any]:
    status = STATUSES[name]
    category_id, key, colour, category_name = status["category"]
    return {
        "self": f"{site}/rest/api/3/status/{status['id']}",
        "id": status["id"],
        "name": name,
        "statusCategory": {
            "self": f"{site}/rest/api/3/statuscategory/{category_id}",
            "id": category_id,
            "key": key,
            "colorName": colour,
            "name": category_name,
        },
    }


# ADF, as far as our descriptions go: a doc of paragraphs of text (non-empty, with optional
# link marks carrying attrs.href) and hard breaks. Anything else is refused, so the module
# cannot drift into shapes this fake has not checked.
def _is_adf(doc: Any) -> bool:
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return False
    content = doc.get("content")
    return isinstance(content, list) and all(_is_paragraph(node) for node in content)


def _is_paragraph(node: Any) -> bool:
    if not isinstance(node, dict) or node.get("type") != "paragraph":
        return False
    inline = node.get("content", [])
    return isinstance(inline, list) and all(_is_inline(child) for child in inline)


def _is_inline(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    if node.get("type") == "hardBreak":
        return True
    if node.get("type") != "text":
        return False
    text = node.get("text")
    if not isinstance(text, str) or not text:
        return False
    marks = node.get("marks", [])
    return isinstance(marks, list) and all(_is_link_mark(mark) for mark in marks)


def _is_link_mark(mark: Any) -> bool:
    if not isinstance(mark, dict) or mark.get("type") != "link":
        return False
    attrs = mark.get("attrs")
    return isinstance(attrs, dict) and isinstance(attrs.get("href"), str) and bool(attrs["href"])
