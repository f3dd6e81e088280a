"""A fake Linear workspace: the GraphQL operations our Linear connector sends, and Linear's
webhooks.

It answers as Linear does, and no more kindly: one endpoint, `POST /graphql`, that takes a
JSON body `{"query", "variables"}` and knows exactly the named operations the connector sends
(anything else is a GraphQL validation error); a personal API key as the whole `Authorization`
header; teams by key with the workflow states Todo (unstarted), In Progress (started), Done
(completed) and Canceled (canceled); issues with UUID ids and identifiers ENG-1, ENG-2, ...;
errors in the GraphQL `errors` array with Linear's `extensions`; running out of the rate limit
as Linear documents it (HTTP 400, `RATELIMITED`, `X-RateLimit-Requests-*` with the reset in
epoch milliseconds); 5xx and going down. Every request is recorded.

References:
- Endpoint, personal API keys, errors: https://linear.app/developers/graphql
- Schema (Team, Issue, WorkflowState.type, IssueCreateInput, IssueFilter, priorities):
  https://github.com/linear/linear/blob/master/packages/sdk/src/schema.graphql
- Filtering (`filter: { key: { eq } }`, `{ description: { contains } }`):
  https://linear.app/developers/filtering
- Rate limiting (400 + RATELIMITED, X-RateLimit-Requests-Limit/-Remaining/-Reset in epoch ms):
  https://linear.app/developers/rate-limiting
- Webhooks (payload: action, type, data, updatedFrom, url, createdAt, organizationId,
  webhookTimestamp, webhookId; headers Linear-Delivery, Linear-Event, Linear-Signature =
  hex HMAC-SHA256 of the raw body): https://linear.app/developers/webhooks
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app.slack_emulator.server import ServerRunner
from tests.fakes.base import LocalService

# (name, WorkflowState.type, colour) of every team's workflow, in order; new issues start in
# the first. WorkflowState.type is one of triage, backlog, unstarted, started, completed,
# canceled, duplicate.
STATES: tuple[tuple[str, str, str], ...] = (
    ("Todo", "unstarted", "#e2e2e2"),
    ("In Progress", "started", "#f2c94c"),
    ("Done", "completed", "#5e6ad2"),
    ("Canceled", "canceled", "#95a2b3"),
)

# A personal API key's request budget per hour (https://linear.app/developers/rate-limiting).
REQUEST_LIMIT = 2500

# The body Linear answers a missing or rejected API key with.
AUTH_ERROR = {
    "message": "Authentication required, not authenticated",
    "extensions": {
        "type": "authentication error",
        "code": "AUTHENTICATION_ERROR",
        "statusCode": 401,
        "userError": True,
        "userPresentableMessage": "You need to authenticate to access this operation.",
    },
}
RATE_LIMITED = {
    "message": "Rate limit exceeded",
    "extensions": {
        "type": "ratelimited",
        "code": "RATELIMITED",
        "statusCode": 429,
        "userError": True,
        "userPresentableMessage": "You have exceeded the API rate limit. Try again later.",
    },
}

_OPERATION = re.compile(r"^\s*(query|mutation)\s+([A-Za-z_]\w*)")
# The operations the fake knows: name -> (kind, root field, a shape the document must have).
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "Viewer": ("query", "viewer", r"\bviewer\s*\{"),
    "TeamByKey": ("query", "teams", r"\bteams\s*\(\s*filter\s*:\s*\{\s*key\s*:\s*\{\s*eq\s*:"),
    "IssueById": ("query", "issue", r"\bissue\s*\(\s*id\s*:"),
    "IssuesByMarker": (
        "query",
        "issues",
        r"\bissues\s*\(\s*filter\s*:\s*\{\s*description\s*:\s*\{\s*contains\s*:",
    ),
    "IssueCreate": ("mutation", "issueCreate", r"\bissueCreate\s*\(\s*input\s*:"),
}


class GraphQLError(Exception):
    """An answer with Linear's `errors` array instead of data."""

    def __init__(
        self,
        status: int,
        error: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.headers = headers or {}


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it (the API key is checked, not kept)."""

    method: str
    path: str
    json: Any
    operation: str | None  # the GraphQL operation's name, e.g. "IssueCreate"


@dataclass(frozen=True)
class FakeState:
    id: str
    name: str
    type: str
    color: str


@dataclass
class FakeTeam:
    id: str
    key: str
    name: str
    states: dict[str, FakeState]
    next_number: int = 1


@dataclass
class FakeIssue:
    id: str
    identifier: str
    number: int
    team: FakeTeam
    title: str
    description: str | None
    priority: int
    state: FakeState
    url: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # What the last change replaced, for a webhook's `updatedFrom`.
    previous_state: FakeState | None = None
    previous_updated_at: datetime | None = None


class FakeLinear(LocalService):
    """A Linear workspace with a few teams and one API user, served on 127.0.0.1."""

    def __init__(
        self,
        *,
        teams: tuple[str, ...] = ("ENG",),
        token: str = "lin_api_f4keL1nearKey0f0neUser7c2d9e4b1a6f3c8",
        user_name: str = "Dana Engineer",
        user_email: str = "dana@example.com",
        workspace: str = "acme",
    ) -> None:
        self.token = token
        self.user_name = user_name
        self.user_email = user_email
        self.workspace = workspace
        self.organization_id = str(uuid.uuid4())
        self.webhook_id = str(uuid.uuid4())
        self.user_id = str(uuid.uuid4())
        self.teams: dict[str, FakeTeam] = {key: _team(key) for key in teams}
        self.issues: dict[str, FakeIssue] = {}  # by id
        self.requests: list[Recorded] = []
        # Linear answers a rejected key with 401; 400 lets a test check a client reads the body.
        self.auth_error_status = 401
        self._rate_limited = 0
        self._rate_limit_retry_after = 0.0
        self._rate_limit_status = 400
        self._failing = 0
        self._failure_status = 503
        self._runner = ServerRunner(self._app())

    # -- helpers for tests -------------------------------------------------------------------

    def rate_limit_next(self, n: int, *, retry_after: float = 30.0, status: int = 400) -> None:
        """Answer the next `n` requests as rate limited, the bucket refilling in `retry_after`
        seconds. Linear documents HTTP 400 with `RATELIMITED`; `status=429` answers with 429."""
        self._rate_limited = n
        self._rate_limit_retry_after = retry_after
        self._rate_limit_status = status

    def fail_next(self, n: int, *, status: int = 503) -> None:
        """Answer the next `n` requests with a server error."""
        self._failing = n
        self._failure_status = status

    def issue(self, identifier: str) -> FakeIssue:
        for issue in self.issues.values():
            if issue.identifier == identifier:
                return issue
        raise KeyError(identifier)

    def move(self, identifier: str, state: str) -> FakeIssue:
        """Move an issue to another state of its team's workflow, as an engineer would."""
        issue = self.issue(identifier)
        issue.previous_state, issue.previous_updated_at = issue.state, issue.updated_at
        issue.state = issue.team.states[state]
        # Every change gets its own `updatedAt`, even two in one millisecond.
        issue.updated_at = max(datetime.now(UTC), issue.updated_at + timedelta(milliseconds=1))
        return issue

    def complete(self, identifier: str) -> FakeIssue:
        return self.move(identifier, "Done")

    def cancel(self, identifier: str) -> FakeIssue:
        return self.move(identifier, "Canceled")

    def delete(self, identifier: str) -> None:
        del self.issues[self.issue(identifier).id]

    def operations(self, name: str) -> list[Recorded]:
        """The recorded requests of one operation, e.g. "IssueCreate"."""
        return [request for request in self.requests if request.operation == name]

    def webhook_delivery(
        self, identifier: str, secret: str, now: datetime
    ) -> tuple[dict[str, str], bytes]:
        """An `Issue` `update` delivery for the issue as it stands, signed with `secret` and
        stamped `now`, as Linear POSTs it: (lower-case headers, raw body)."""
        issue = self.issue(identifier)
        payload: dict[str, Any] = {
            "action": "update",
            "actor": {"id": self.user_id, "name": self.user_name, "type": "user"},
            "createdAt": _iso(now),
            "data": self._issue_webhook_data(issue),
            "updatedFrom": {
                "stateId": (issue.previous_state or issue.state).id,
                "updatedAt": _iso(issue.previous_updated_at or issue.created_at),
            },
            "url": issue.url,
            "type": "Issue",
            "organizationId": self.organization_id,
            "webhookTimestamp": int(now.timestamp() * 1000),
            "webhookId": self.webhook_id,
        }
        body = json.dumps(payload).encode()
        headers = {
            "content-type": "application/json; charset=utf-8",
            "linear-delivery": str(uuid.uuid4()),
            "linear-event": "Issue",
            "linear-signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "user-agent": "Linear-Webhook",
        }
        return headers, body

    # -- the API -----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/graphql")
        async def graphql(request: Request) -> Response:
            raw = await request.body()
            try:
                document: Any = json.loads(raw) if raw else None
            except ValueError:
                document = None
            query = document.get("query") if isinstance(document, dict) else None
            match = _OPERATION.match(query) if isinstance(query, str) else None
            self.requests.append(
                Recorded("POST", "/graphql", document, match.group(2) if match else None)
            )
            try:
                data = self._answer(request, document)
            except GraphQLError as refusal:
                return JSONResponse(
                    {"errors": [refusal.error], "data": None},
                    status_code=refusal.status,
                    headers={**self._rate_limit_headers(), **refusal.headers},
                )
            return JSONResponse({"data": data}, headers=self._rate_limit_headers())

        return app

    def _answer(self, request: Request, document: Any) -> dict[str, Any]:
        if self._failing > 0:
            self._failing -= 1
            raise GraphQLError(
                self._failure_status,
                {
                    "message": "Internal server error",
                    "extensions": {"type": "internal error", "code": "INTERNAL_ERROR"},
                },
            )
        if self._rate_limited > 0:
            self._rate_limited -= 1
            reset = int((time.time() + self._rate_limit_retry_after) * 1000)
            raise GraphQLError(
                self._rate_limit_status,
                RATE_LIMITED,
                {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(reset)},
            )
        # https://linear.app/developers/graphql#personal-api-keys: `Authorization: <API_KEY>`.
        if request.headers.get("authorization") != self.token:
            raise GraphQLError(self.auth_error_status, AUTH_ERROR)
        if not (request.headers.get("content-type") or "").startswith("application/json"):
            raise _bad_request("Content-Type must be application/json")
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            raise _bad_request("GraphQL operations must contain a non-empty `query`.")
        variables = document.get("variables") or {}
        if not isinstance(variables, dict):
            raise _bad_request("`variables` must be an object.")
        query = document["query"]
        match = _OPERATION.match(query)
        known = OPERATIONS.get(match.group(2)) if match else None
        if match is None or known is None or known[0] != match.group(1):
            raise _invalid("This fake knows only the operations the connector sends.")
        if re.search(known[2], query) is None:
            raise _invalid(f"Unexpected selection for {match.group(2)}.")
        handlers = {
            "Viewer": self._viewer,
            "TeamByKey": self._team_by_key,
            "IssueById": self._issue_by_id,
            "IssuesByMarker": self._issues_by_marker,
            "IssueCreate": self._issue_create,
        }
        return handlers[match.group(2)](variables)

    def _viewer(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {"viewer": {"id": self.user_id, "name": self.user_name, "email": self.user_email}}

    def _team_by_key(self, variables: dict[str, Any]) -> dict[str, Any]:
        key = _required(variables, "key", str, "String!")
        team = self.teams.get(key)
        nodes = [{"id": team.id, "key": team.key, "name": team.name}] if team else []
        return {"teams": {"nodes": nodes}}

    def _issue_by_id(self, variables: dict[str, Any]) -> dict[str, Any]:
        wanted = _required(variables, "id", str, "String!")
        # `issue(id:)` takes the UUID or the identifier (ENG-42).
        for issue in self.issues.values():
            if wanted in (issue.id, issue.identifier):
                return {"issue": self._issue_node(issue)}
        raise _not_found("Issue", ["issue"])

    def _issues_by_marker(self, variables: dict[str, Any]) -> dict[str, Any]:
        marker = _required(variables, "marker", str, "String!")
        first = variables.get("first", 50)
        if not isinstance(first, int) or isinstance(first, bool) or not 0 < first <= 250:
            raise _invalid('Variable "$first" must be an Int between 1 and 250.')
        # `contains` is case-sensitive (`containsIgnoreCase` is the other comparator).
        found = [i for i in self.issues.values() if i.description and marker in i.description]
        found.sort(key=lambda issue: issue.created_at, reverse=True)
        nodes = [{**self._issue_node(i), "description": i.description} for i in found[:first]]
        return {"issues": {"nodes": nodes}}

    def _issue_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        fields = _required(variables, "input", dict, "IssueCreateInput!")
        team_id = _required(fields, "teamId", str, "String!", within="input")
        title = fields.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _input_error("Argument Validation Error: title must be a non-empty string")
        description = fields.get("description")
        if description is not None and not isinstance(description, str):
            raise _invalid('Field "description" of type "String" got a non-string value.')
        priority = fields.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 4:
            raise _input_error("Argument Validation Error: priority must be between 0 and 4")
        team = next((t for t in self.teams.values() if t.id == team_id), None)
        if team is None:
            raise _not_found("Team", ["issueCreate"])
        number = team.next_number
        team.next_number += 1
        identifier = f"{team.key}-{number}"
        issue = FakeIssue(
            id=str(uuid.uuid4()),
            identifier=identifier,
            number=number,
            team=team,
            title=title,
            description=description,
            priority=priority,
            state=team.states[STATES[0][0]],
            url=f"https://linear.app/{self.workspace}/issue/{identifier}/{_slug(title)}",
        )
        self.issues[issue.id] = issue
        return {"issueCreate": {"success": True, "issue": self._issue_node(issue)}}

    # -- shapes ------------------------------------------------------------------------------

    def _issue_node(self, issue: FakeIssue) -> dict[str, Any]:
        return {
            "id": issue.id,
            "identifier": issue.identifier,
            "url": issue.url,
            "state": {"name": issue.state.name, "type": issue.state.type},
        }

    def _issue_webhook_data(self, issue: FakeIssue) -> dict[str, Any]:
        state = issue.state
        return {
            "id": issue.id,
            "createdAt": _iso(issue.created_at),
            "updatedAt": _iso(issue.updated_at),
            "number": issue.number,
            "title": issue.title,
            "description": issue.description,
            "priority": issue.priority,
            "identifier": issue.identifier,
            "url": issue.url,
            "stateId": state.id,
            "state": {"id": state.id, "name": state.name, "color": state.color, "type": state.type},
            "teamId": issue.team.id,
            "team": {"id": issue.team.id, "key": issue.team.key, "name": issue.team.name},
            "labelIds": [],
            "subscriberIds": [self.user_id],
            "creatorId": self.user_id,
        }

    def _rate_limit_headers(self) -> dict[str, str]:
        reset = int((time.time() + 3600) * 1000)
        return {
            "X-RateLimit-Requests-Limit": str(REQUEST_LIMIT),
            "X-RateLimit-Requests-Remaining": str(max(REQUEST_LIMIT - len(self.requests), 0)),
            "X-RateLimit-Requests-Reset": str(reset),
        }


def _team(key: str) -> FakeTeam:
    states = {name: FakeState(str(uuid.uuid4()), name, kind, color) for name, kind, color in STATES}
    return FakeTeam(id=str(uuid.uuid4()), key=key, name=f"{key.title()} team", states=states)


def _required(
    values: dict[str, Any], name: str, kind: type, graphql_type: str, within: str | None = None
) -> Any:
    value = values.get(name)
    if isinstance(value, kind) and value != "":
        return value
    where = (
        f'Variable "${within}" got invalid value; field "{name}"'
        if within
        else (f'Variable "${name}"')
    )
    raise _invalid(f'{where} of required type "{graphql_type}" was not provided.')


def _bad_request(message: str) -> GraphQLError:
    return GraphQLError(400, {"message": message, "extensions": {"code": "BAD_REQUEST"}})


def _invalid(message: str) -> GraphQLError:
    return GraphQLError(
        400,
        {
            "message": message,
            "extensions": {
                "type": "graphql error",
                "code": "GRAPHQL_VALIDATION_FAILED",
                "userError": True,
            },
        },
    )


def _input_error(message: str) -> GraphQLError:
    return GraphQLError(
        400,
        {
            "message": message,
            "extensions": {
                "type": "invalid input",
                "code": "INPUT_ERROR",
                "statusCode": 400,
                "userError": True,
                "userPresentableMessage": message,
            },
        },
    )


def _not_found(entity: str, path: list[str]) -> GraphQLError:
    error = _input_error(f"Entity not found: {entity}").error
    error["path"] = path
    error["extensions"]["userPresentableMessage"] = f"Could not find referenced {entity}."
    return GraphQLError(400, error)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
