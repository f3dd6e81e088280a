"""A fake HubSpot portal: the CRM v3 calls our HubSpot connector makes, answered as documented.

It is no kinder than HubSpot: a private app's bearer token, companies and tickets with numeric
string ids and every property value echoed back as a string, a property that the portal has
not defined refused with 400 VALIDATION_ERROR (the custom properties it knows are given when
it is made), tickets checked against the default Support Pipeline's stages and the priority
options, associations checked and stored, the search endpoint with filterGroups and the EQ,
NEQ, IN, NOT_IN, HAS_PROPERTY and NOT_HAS_PROPERTY operators, 429s shaped like HubSpot's,
5xx, and going down. Every request is recorded.

References:
- Private app tokens: https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview
- Companies: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/companies/guide
- Tickets: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/tickets/guide
- Search: https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm
- Association type ids: https://developers.hubspot.com/docs/api-reference/legacy/crm/associations/associate-records/guide
- Pipelines: https://developers.hubspot.com/docs/api-reference/legacy/crm/pipelines/guide
- Account details: https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/guide
- Errors: https://developers.hubspot.com/docs/api-reference/error-handling
- Rate limits: https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.slack_emulator.server import ServerRunner
from tests.fakes.base import LocalService

COMPANIES = "companies"
TICKETS = "tickets"

# Properties every portal has (a few of HubSpot's defaults), and the read-only ones among them.
BUILT_IN_PROPERTIES: dict[str, frozenset[str]] = {
    COMPANIES: frozenset(
        {
            "name",
            "domain",
            "hs_additional_domains",
            "website",
            "phone",
            "city",
            "state",
            "industry",
            "description",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
        }
    ),
    TICKETS: frozenset(
        {
            "subject",
            "content",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_priority",
            "hs_ticket_category",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_ticket_id",
        }
    ),
}
READ_ONLY_PROPERTIES = frozenset(
    {"createdate", "hs_lastmodifieddate", "hs_object_id", "hs_ticket_id"}
)
# Enumeration properties: their filters compare case-sensitively (search guide).
ENUMERATIONS = frozenset({"hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority"})

# The custom properties the connector's default mapping names; a fake portal has them unless
# it is made with others.
DEFAULT_CUSTOM_PROPERTIES: dict[str, frozenset[str]] = {
    COMPANIES: frozenset(
        {"ticketbot_account_id", "ticketbot_health_score", "ticketbot_nps", "ticketbot_csat"}
    ),
    TICKETS: frozenset({"ticketbot_ticket_id"}),
}

# A new portal's ticket pipeline: "0", "Support Pipeline", with these stages (internal id ->
# label) as GET /crm/v3/pipelines/tickets lists them.
SUPPORT_PIPELINE = "0"
DEFAULT_PIPELINES: dict[str, dict[str, str]] = {
    SUPPORT_PIPELINE: {"1": "New", "2": "Waiting on contact", "3": "Waiting on us", "4": "Closed"}
}
# hs_ticket_priority's options (internal values).
DEFAULT_PRIORITIES = ("LOW", "MEDIUM", "HIGH")

# HUBSPOT_DEFINED association types a ticket may be created with, and what they point at:
# 26 "Ticket to primary company", 339 "Ticket to company", 16 "Ticket to contact".
TICKET_ASSOCIATION_TYPES: dict[int, str] = {26: COMPANIES, 339: COMPANIES, 16: "contacts"}

# What a search answers when the request names no properties (search guide, "Searchable CRM
# objects"), and what it always adds to the ones named.
SEARCH_DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    COMPANIES: ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    TICKETS: (
        "content",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_category",
        "hs_ticket_priority",
        "subject",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
}
SEARCH_ALWAYS = ("createdate", "hs_lastmodifieddate", "hs_object_id")
SEARCH_OPERATORS = frozenset({"EQ", "NEQ", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"})
# Search limits: five filterGroups, six filters in each, 18 in all; pages of 10 by default,
# 200 at most; a request body of at most 3,000 characters.
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
SEARCH_PAGE = 10
SEARCH_MAX_PAGE = 200
SEARCH_MAX_BODY = 3000

# Record ids are numeric strings, e.g. "2810868468" for a company, "1145814089" for a ticket.
FIRST_IDS = {COMPANIES: 2810868468, TICKETS: 1145814089}

# The 401 body HubSpot sends for missing or unusable credentials.
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)

# Rate-limit headers on each answer (usage guidelines): a Free/Starter private app's 100
# requests per 10 seconds and 250,000 a day. The -Secondly pair is deprecated but still sent.
RATE_WINDOW_MS = 10_000
RATE_MAX = 100
DAILY_MAX = 250_000


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    authorization: str | None


@dataclass
class CrmRecord:
    id: str
    object_type: str
    properties: dict[str, str]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    # {"toObjectType", "toObjectId", "associationCategory", "associationTypeId"}
    associations: list[dict[str, Any]] = field(default_factory=list)


class Refusal(Exception):
    """A 4xx answer, in HubSpot's error shape."""

    def __init__(
        self, status: int, message: str, *, category: str, errors: list[dict[str, Any]] | None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors


class FakeHubSpot(LocalService):
    """One HubSpot portal with one private app, served on 127.0.0.1."""

    def __init__(
        self,
        *,
        token: str = "pat-na1-5e1f0c2a-7d3b-4c61-9a0e-2b8f4d6c1a90",
        portal_id: int = 62515,
        account_type: str = "STANDARD",
        custom_properties: Mapping[str, Iterable[str]] | None = None,
        pipelines: Mapping[str, Mapping[str, str]] | None = None,
        priorities: Iterable[str] = DEFAULT_PRIORITIES,
    ) -> None:
        """`custom_properties`: object type ("companies", "tickets") -> the custom property
        names the portal has defined (default: the ones the connector's mapping names)."""
        self.token = token
        self.portal_id = portal_id
        self.account_type = account_type
        custom = DEFAULT_CUSTOM_PROPERTIES if custom_properties is None else custom_properties
        self.properties: dict[str, frozenset[str]] = {
            kind: BUILT_IN_PROPERTIES[kind] | frozenset(custom.get(kind, ()))
            for kind in (COMPANIES, TICKETS)
        }
        self.pipelines = {k: dict(v) for k, v in (pipelines or DEFAULT_PIPELINES).items()}
        self.priorities = tuple(priorities)
        self.records: dict[str, dict[str, CrmRecord]] = {COMPANIES: {}, TICKETS: {}}
        self.requests: list[Recorded] = []
        self._next_id = dict(FIRST_IDS)
        self._rate_limited = 0
        self._rate_limit_retry_after: float | None = None
        self._rate_limit_policy = "TEN_SECONDLY_ROLLING"
        self._failing = 0
        self._failure_status = 503
        self._runner = ServerRunner(self._app())

    # -- helpers for tests -------------------------------------------------------------------

    def rate_limit_next(
        self, n: int, *, retry_after: float | None = None, policy: str = "TEN_SECONDLY_ROLLING"
    ) -> None:
        """Answer the next `n` authenticated requests with HubSpot's 429. HubSpot documents no
        Retry-After for these; pass `retry_after` to send one anyway. `policy`: the limit hit,
        TEN_SECONDLY_ROLLING or DAILY."""
        self._rate_limited = n
        self._rate_limit_retry_after = retry_after
        self._rate_limit_policy = policy

    def fail_next(self, n: int, *, status: int = 503) -> None:
        """Answer the next `n` requests with a 5xx (error-handling page: 502/504, 503, 521...)."""
        self._failing = n
        self._failure_status = status

    def add_company(self, **properties: str) -> str:
        """A company someone made in HubSpot itself (no request recorded); its id."""
        return self._store(COMPANIES, {k: str(v) for k, v in properties.items()}).id

    def company(self, company_id: str) -> dict[str, str]:
        """A company's properties, including the ones HubSpot sets."""
        return self._answer_properties(self.records[COMPANIES][company_id])

    def ticket(self, ticket_id: str) -> dict[str, str]:
        return self._answer_properties(self.records[TICKETS][ticket_id])

    def associations(self, ticket_id: str) -> list[dict[str, Any]]:
        return list(self.records[TICKETS][ticket_id].associations)

    def stage_label(self, stage_id: str, pipeline: str = SUPPORT_PIPELINE) -> str:
        return self.pipelines[pipeline][stage_id]

    def creates(self, object_type: str) -> list[Recorded]:
        path = f"/crm/v3/objects/{object_type}"
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    def updates(self, object_type: str) -> list[Recorded]:
        prefix = f"/crm/v3/objects/{object_type}/"
        return [r for r in self.requests if r.method == "PATCH" and r.path.startswith(prefix)]

    def searches(self, object_type: str) -> list[Recorded]:
        path = f"/crm/v3/objects/{object_type}/search"
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    # -- the app -----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
        async def any_request(path: str, request: Request) -> Response:
            return await self._answer(request)

        return app

    async def _answer(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
            readable = True
        except ValueError:
            body, readable = raw.decode(errors="replace"), False
        path = request.url.path.rstrip("/")
        self.requests.append(
            Recorded(
                method=request.method,
                path=path,
                query=dict(request.query_params),
                json=body,
                authorization=request.headers.get("authorization"),
            )
        )
        if self._failing > 0:
            self._failing -= 1
            return PlainTextResponse("Service Unavailable", status_code=self._failure_status)
        # error-handling page: 401 "when the authentication provided is invalid".
        if not self._authenticated(request.headers.get("authorization")):
            return _error(401, AUTH_MESSAGE, category="INVALID_AUTHENTICATION")
        is_search = path.endswith("/search")
        if self._rate_limited > 0:
            self._rate_limited -= 1
            return self._too_many(is_search)
        headers = {} if is_search else self._rate_headers(remaining=RATE_MAX - 1)
        try:
            if not readable:
                raise Refusal(
                    400, "Invalid input JSON on line 1", category="VALIDATION_ERROR", errors=None
                )
            status, answer = self._route(request.method, path, body)
        except Refusal as refusal:
            return _error(
                refusal.status, refusal.message, category=refusal.category, errors=refusal.errors
            )
        return JSONResponse(answer, status_code=status, headers=headers)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/account-info/v3/details":
            return 200, self._account_details()
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
            kind = parts[3]
            if kind not in self.records:
                raise Refusal(
                    400,
                    f"Unable to infer object type from: {kind}",
                    category="VALIDATION_ERROR",
                    errors=None,
                )
            rest = parts[4:]
            if method == "POST" and not rest:
                return 201, self._create(kind, body)
            if method == "POST" and rest == ["search"]:
                return 200, self._search(kind, body)
            if method == "PATCH" and len(rest) == 1:
                return 200, self._update(kind, rest[0], body)
            if method == "GET" and len(rest) == 1:
                return 200, self._record_json(self._find(kind, rest[0]), None)
        raise Refusal(
            404, f"No route for {method} {path}", category="OBJECT_NOT_FOUND", errors=None
        )

    def _authenticated(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), self.token)

    def _rate_headers(
        self, *, remaining: int, daily_remaining: int = DAILY_MAX - 1
    ) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(DAILY_MAX),
            "X-HubSpot-RateLimit-Daily-Remaining": str(daily_remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(RATE_WINDOW_MS),
            "X-HubSpot-RateLimit-Max": str(RATE_MAX),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Secondly": str(RATE_MAX // 10),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(min(remaining, RATE_MAX // 10)),
        }

    def _too_many(self, is_search: bool) -> Response:
        # Usage guidelines, "Error responses": {"status": "error", "message": "You have reached
        # your daily limit.", "errorType": "RATE_LIMIT", "correlationId", "policyName": "DAILY",
        # "requestId"}; search answers carry none of the X-HubSpot-RateLimit-* headers.
        policy = self._rate_limit_policy
        daily = policy == "DAILY"
        body = {
            "status": "error",
            "message": f"You have reached your {'daily' if daily else policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        }
        headers: dict[str, str] = {}
        if not is_search:
            headers = self._rate_headers(
                remaining=RATE_MAX - 1 if daily else 0,
                daily_remaining=0 if daily else DAILY_MAX // 2,
            )
        if self._rate_limit_retry_after is not None:
            headers["Retry-After"] = f"{self._rate_limit_retry_after:g}"
        return JSONResponse(body, status_code=429, headers=headers)

    # -- GET /account-info/v3/details ----------------------------------------------------------

    def _account_details(self) -> dict[str, Any]:
        return {
            "portalId": self.portal_id,
            "accountType": self.account_type,
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }

    # -- POST /crm/v3/objects/{objectType} -----------------------------------------------------

    def _create(self, kind: str, body: Any) -> dict[str, Any]:
        values = self._input_properties(kind, body)
        if kind == COMPANIES and not (values.get("name") or values.get("domain")):
            # Companies guide: include at least one of `name` or `domain`.
            raise _invalid("A company needs at least one of name or domain", "REQUIRED", "name")
        if kind == TICKETS:
            # Tickets guide: include `subject` and `hs_pipeline_stage`; without `hs_pipeline`
            # the default pipeline is used.
            for required in ("subject", "hs_pipeline_stage"):
                if not values.get(required):
                    raise _invalid(f"{required} is required", "REQUIRED", required)
            values.setdefault("hs_pipeline", SUPPORT_PIPELINE)
            self._check_ticket(values)
        associations = self._associations(kind, body.get("associations"))
        record = self._store(kind, values)
        record.associations = associations
        return self._record_json(record, None)

    def _store(self, kind: str, values: dict[str, str]) -> CrmRecord:
        record_id = str(self._next_id[kind])
        self._next_id[kind] += 1
        record = CrmRecord(
            id=record_id, object_type=kind, properties={k: v for k, v in values.items() if v}
        )
        self.records[kind][record_id] = record
        return record

    def _associations(self, kind: str, given: Any) -> list[dict[str, Any]]:
        # Each entry: {"to": {"id": ...}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
        # "associationTypeId": n}]}, with n from the association type table.
        if given is None:
            return []
        if not isinstance(given, list):
            raise _invalid("associations must be a list", "INVALID_ASSOCIATIONS", "associations")
        stored: list[dict[str, Any]] = []
        for entry in given:
            to = entry.get("to") if isinstance(entry, dict) else None
            types = entry.get("types") if isinstance(entry, dict) else None
            if (
                not isinstance(to, dict)
                or to.get("id") in (None, "")
                or not isinstance(types, list)
            ):
                raise _invalid(
                    "each association needs to.id and types", "INVALID_ASSOCIATIONS", "associations"
                )
            for kind_of_link in types:
                category = (
                    kind_of_link.get("associationCategory")
                    if isinstance(kind_of_link, dict)
                    else None
                )
                type_id = (
                    kind_of_link.get("associationTypeId")
                    if isinstance(kind_of_link, dict)
                    else None
                )
                target = TICKET_ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
                if kind != TICKETS or category != "HUBSPOT_DEFINED" or target is None:
                    raise _invalid(
                        f"association type {category}/{type_id} is not valid from {kind}",
                        "INVALID_ASSOCIATION_TYPE",
                        "associations",
                    )
                if target not in self.records or str(to["id"]) not in self.records[target]:
                    raise _invalid(
                        f"{target} record {to['id']} does not exist",
                        "INVALID_ASSOCIATION_TARGET",
                        "associations",
                    )
                stored.append(
                    {
                        "toObjectType": target,
                        "toObjectId": str(to["id"]),
                        "associationCategory": category,
                        "associationTypeId": type_id,
                    }
                )
        return stored

    # -- PATCH /crm/v3/objects/{objectType}/{id} -----------------------------------------------

    def _update(self, kind: str, record_id: str, body: Any) -> dict[str, Any]:
        record = self._find(kind, record_id)
        values = self._input_properties(kind, body)
        merged = {**record.properties, **values}
        if kind == TICKETS:
            merged.setdefault("hs_pipeline", SUPPORT_PIPELINE)
            self._check_ticket(merged)
        # An empty string clears a value.
        record.properties = {k: v for k, v in merged.items() if v}
        record.updated = datetime.now(UTC)
        return self._record_json(record, None)

    def _find(self, kind: str, record_id: str) -> CrmRecord:
        record = self.records[kind].get(record_id)
        if record is None:
            raise Refusal(404, "resource not found", category="OBJECT_NOT_FOUND", errors=None)
        return record

    # -- property checks -----------------------------------------------------------------------

    def _input_properties(self, kind: str, body: Any) -> dict[str, str]:
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise _invalid("properties is required", "REQUIRED", "properties")
        problems = []
        values: dict[str, str] = {}
        for name, value in properties.items():
            if name not in self.properties[kind]:
                problems.append(
                    (name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
            elif name in READ_ONLY_PROPERTIES:
                problems.append((name, "READ_ONLY_VALUE", f'Property "{name}" is read-only'))
            elif isinstance(value, (dict, list)):
                problems.append((name, "INVALID_VALUE", f'Property "{name}" takes a single value'))
            else:
                values[name] = _as_property_string(value)
        if problems:
            raise _property_problems(problems)
        return values

    def _check_ticket(self, values: dict[str, str]) -> None:
        pipeline = values.get("hs_pipeline", SUPPORT_PIPELINE)
        stages = self.pipelines.get(pipeline)
        if stages is None:
            raise _property_problems(
                [("hs_pipeline", "INVALID_OPTION", f"{pipeline} is not a valid pipeline")]
            )
        stage = values.get("hs_pipeline_stage")
        if stage is not None and stage not in stages:
            raise _property_problems(
                [
                    (
                        "hs_pipeline_stage",
                        "INVALID_OPTION",
                        f"{stage} is not a valid pipeline stage of pipeline {pipeline}",
                    )
                ]
            )
        priority = values.get("hs_ticket_priority")
        if priority and priority not in self.priorities:
            raise _property_problems(
                [
                    (
                        "hs_ticket_priority",
                        "INVALID_OPTION",
                        f"{priority} was not one of the allowed options: {list(self.priorities)}",
                    )
                ]
            )

    # -- POST /crm/v3/objects/{objectType}/search ----------------------------------------------

    def _search(self, kind: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _invalid("a search needs a JSON object", "INVALID_REQUEST", "body")
        if len(json.dumps(body)) > SEARCH_MAX_BODY:
            raise _invalid("The request body is too long", "TOO_LONG", "body")
        groups = body.get("filterGroups", [])
        if not isinstance(groups, list) or len(groups) > MAX_FILTER_GROUPS:
            raise _invalid(
                f"at most {MAX_FILTER_GROUPS} filterGroups",
                "TOO_MANY_FILTER_GROUPS",
                "filterGroups",
            )
        filter_lists = []
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
                raise _invalid(
                    f"each filterGroup takes a filters list of at most {MAX_FILTERS_PER_GROUP}",
                    "TOO_MANY_FILTERS",
                    "filterGroups",
                )
            for one in filters:
                self._check_filter(kind, one)
            filter_lists.append(filters)
        if sum(len(f) for f in filter_lists) > MAX_FILTERS:
            raise _invalid(f"at most {MAX_FILTERS} filters", "TOO_MANY_FILTERS", "filterGroups")
        limit = body.get("limit", SEARCH_PAGE)
        if not isinstance(limit, int) or not 0 < limit <= SEARCH_MAX_PAGE:
            raise _invalid(f"limit must be 1 to {SEARCH_MAX_PAGE}", "INVALID_LIMIT", "limit")
        try:
            after = int(body.get("after", 0))
        except (TypeError, ValueError):
            raise _invalid("after must be an integer", "INVALID_AFTER", "after") from None
        wanted = body.get("properties")
        if wanted is not None and not (
            isinstance(wanted, list) and all(isinstance(p, str) for p in wanted)
        ):
            raise _invalid("properties must be a list of names", "INVALID_PROPERTIES", "properties")
        matches = [
            record
            for record in self.records[kind].values()
            if not filter_lists or any(self._matches(record, f) for f in filter_lists)
        ]
        page = matches[after : after + limit]
        answer: dict[str, Any] = {
            "total": len(matches),
            "results": [
                self._record_json(record, self._search_properties(kind, wanted)) for record in page
            ],
        }
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer

    def _check_filter(self, kind: str, one: Any) -> None:
        if not isinstance(one, dict):
            raise _invalid("a filter must be an object", "INVALID_FILTER", "filters")
        name, operator = one.get("propertyName"), one.get("operator")
        if not isinstance(name, str) or name not in self.properties[kind]:
            raise _property_problems(
                [(str(name), "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')]
            )
        if operator not in SEARCH_OPERATORS:
            raise _invalid(f"operator {operator} is not supported here", "INVALID_OPERATOR", name)
        if operator in ("IN", "NOT_IN"):
            values = one.get("values")
            if not isinstance(values, list) or not values:
                raise _invalid(f"{operator} takes a values list", "INVALID_FILTER", name)
        elif operator in ("EQ", "NEQ") and "value" not in one:
            raise _invalid(f"{operator} takes a value", "INVALID_FILTER", name)

    def _matches(self, record: CrmRecord, filters: list[dict[str, Any]]) -> bool:
        return all(_passes(self._answer_properties(record), one) for one in filters)

    def _search_properties(self, kind: str, wanted: list[str] | None) -> list[str]:
        if wanted is None:
            return list(SEARCH_DEFAULT_PROPERTIES[kind])
        named = [p for p in wanted if p in self.properties[kind]]
        return sorted(set(named) | set(SEARCH_ALWAYS))

    # -- answers -------------------------------------------------------------------------------

    def _answer_properties(self, record: CrmRecord) -> dict[str, str]:
        stamped = {
            **record.properties,
            "createdate": _iso(record.created),
            "hs_lastmodifieddate": _iso(record.updated),
            "hs_object_id": record.id,
        }
        if record.object_type == TICKETS:
            stamped["hs_ticket_id"] = record.id
        return stamped

    def _record_json(self, record: CrmRecord, properties: list[str] | None) -> dict[str, Any]:
        """{"id", "properties": {name: string or null}, "createdAt", "updatedAt", "archived"}."""
        stamped = self._answer_properties(record)
        shown: dict[str, str | None] = (
            dict(stamped) if properties is None else {p: stamped.get(p) for p in properties}
        )
        return {
            "id": record.id,
            "properties": shown,
            "createdAt": _iso(record.created),
            "updatedAt": _iso(record.updated),
            "archived": False,
        }


def _passes(properties: Mapping[str, str], one: Mapping[str, Any]) -> bool:
    name, operator = one["propertyName"], one["operator"]
    have = properties.get(name)
    if operator == "HAS_PROPERTY":
        return have is not None
    if operator == "NOT_HAS_PROPERTY":
        return have is None
    if operator in ("EQ", "NEQ"):
        want = _as_property_string(one.get("value"))
        # Filter values compare case-insensitively, except for enumeration properties.
        same = have is not None and (
            have == want if name in ENUMERATIONS else have.casefold() == want.casefold()
        )
        return same if operator == "EQ" else not same
    # IN / NOT_IN: exact matches; for a string property the searched values must be lower
    # case, so an upper-case value never matches.
    values = [_as_property_string(v) for v in one["values"]]
    exact = name in ENUMERATIONS
    found = have is not None and (have if exact else have.lower()) in values
    return found if operator == "IN" else not found


def _as_property_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _invalid(message: str, code: str, name: str) -> Refusal:
    return Refusal(
        400,
        message,
        category="VALIDATION_ERROR",
        errors=[{"message": message, "code": code, "context": {"propertyName": [name]}}],
    )


def _property_problems(problems: list[tuple[str, str, str]]) -> Refusal:
    # Error-handling page: "Property values were not valid: [{\"isValid\":false,\"message\":
    # \"Property \\\"missing\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":
    # \"missing\"}]", category VALIDATION_ERROR.
    details = [
        {"isValid": False, "message": message, "error": code, "name": name}
        for name, code, message in problems
    ]
    return Refusal(
        400,
        "Property values were not valid: " + json.dumps(details, separators=(",", ":")),
        category="VALIDATION_ERROR",
        errors=None,
    )


def _error(
    status: int, message: str, *, category: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    # {"status": "error", "message", "errors"?, "category", "correlationId"}; HubSpot notes any
    # of these fields may be missing.
    body: dict[str, Any] = {"status": "error", "message": message}
    if errors:
        body["errors"] = errors
    body["correlationId"] = str(uuid.uuid4())
    body["category"] = category
    return JSONResponse(body, status_code=status)
