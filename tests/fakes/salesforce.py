"""A fake Salesforce org: the REST API calls our Salesforce connector makes, and no more kindly.

It holds Accounts and Cases in memory, knows which fields each object has (the standard ones we
write plus the custom fields it was made with) and which of those are external ID fields, and
answers as the REST API documents: upserts by external ID (201 on create; 200 with
`"created": false` on update from API 46.0 on, 204 with no body before), reads by external ID
and by record id, the version's resource list, and the OAuth UserInfo endpoint. Ids are
18-character Salesforce ids (prefix 001 for Account, 500 for Case, with the case-safe suffix);
CaseNumbers count up from 00001000. Errors are Salesforce's JSON arrays of
`{"message", "errorCode", "fields"}`: 401 INVALID_SESSION_ID for a missing or wrong bearer
token, 403 REQUEST_LIMIT_EXCEEDED (no Retry-After) when told to, 400 for an unknown field
(INVALID_FIELD), a read-only one, a value too long, a missing required field, a value outside a
restricted picklist, 404 for an unknown object, external ID field or API version, and 503 or
going down when told to. Every request is recorded.

Stricter than a fresh org in one place: Case.Status and Case.Priority are restricted picklists
here (an admin can make them so; by default they accept other values), so a mapping naming a
value the org lacks fails loudly.

References:
- Upsert by external ID: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
  (200 instead of 204 from 46.0: https://github.com/jesperfj/force-rest-api/issues/80)
- sObject Rows by External ID: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_upsert.htm
- Get a record by external ID: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/using_resources_retrieve_with_externalid.htm
- sObject Rows (GET ?fields=): https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_retrieve.htm
- Resources by Version: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_discoveryresource.htm
- Status codes and error responses: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
- Limit Info header: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
- API request limits: https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
- UserInfo endpoint (403 for a bad token): https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm
- ID field type (15 case-sensitive characters, 18 with the case-safe suffix): https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm
- Case fields: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_case.htm
- Case numbers start at 1000: https://help.salesforce.com/s/articleView?id=service.cases_fields.htm
- Account fields: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_account.htm
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.slack_emulator.server import ServerRunner
from tests.fakes.base import LocalService

# The API versions this org offers (Winter '15 = 32.0 ... Summer '26 = 67.0, Winter '27 = 68.0).
OLDEST_VERSION = 31
NEWEST_VERSION = 68
# From 46.0 on an upsert that updates answers 200 with a body; before, 204 with none.
UPSERT_BODY_ON_UPDATE_FROM = 46
VERSION = re.compile(r"v(\d+)\.0")

KEY_PREFIXES = {"Account": "001", "Case": "500"}
FIRST_CASE_NUMBER = 1000  # "Numbers start at 1000"; the default format is eight digits

# Fields per object the fake knows: API name -> (max length or None, writable).
STANDARD_FIELDS: dict[str, dict[str, tuple[int | None, bool]]] = {
    "Account": {
        "Id": (18, False),
        "Name": (255, True),
        "Website": (255, True),
        "Description": (32_000, True),
        "CreatedDate": (None, False),
        "LastModifiedDate": (None, False),
    },
    "Case": {
        "Id": (18, False),
        "CaseNumber": (30, False),
        "Subject": (255, True),
        "Description": (32_000, True),
        "Status": (255, True),
        "Priority": (255, True),
        "Origin": (255, True),
        "AccountId": (18, True),
        "IsClosed": (None, False),
        "CreatedDate": (None, False),
        "LastModifiedDate": (None, False),
    },
}
CUSTOM_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Ticketbot_Id__c", "Ticketbot_Health__c", "Ticketbot_NPS__c", "Ticketbot_CSAT__c"),
    "Case": ("Ticketbot_Id__c", "Ticketbot_Slack_Link__c"),
}
EXTERNAL_ID_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Ticketbot_Id__c",),
    "Case": ("Ticketbot_Id__c",),
}
# Custom number fields (Number(18, 0) / Number(16, 2) in a real org): JSON numbers or null.
NUMBER_FIELDS = frozenset({"Ticketbot_Health__c", "Ticketbot_NPS__c", "Ticketbot_CSAT__c"})
CUSTOM_TEXT_MAX = 255  # Text and URL custom fields

# The default picklist values of a new org.
CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
CLOSED_STATUSES = frozenset({"Closed"})
CASE_PRIORITIES = ("High", "Medium", "Low")
DEFAULT_STATUS = "New"
DEFAULT_PRIORITY = "Medium"

DEFAULT_TOKEN = "00DFAKE000000001!AQ4AQFakeAccessToken.ticketbot.tests"
ORG_ID = "00DFA000000TkB0MAK"
USER_ID = "005FA000001TkB0QAK"

# Error texts as the REST API words them.
SESSION_INVALID = "Session expired or invalid"
NOT_FOUND = "The requested resource does not exist"
TOTAL_REQUESTS = "TotalRequests Limit exceeded."
CONCURRENT_REQUESTS = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
UNAVAILABLE = "Server is unavailable"

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(prefix: str, serial: int) -> str:
    """An 18-character id: key prefix, pod "Fa", a reserved "0", nine base-62 digits, and the
    case-safe suffix (one character per five, encoding which of them are upper case)."""
    digits = ""
    for _ in range(9):
        serial, digit = divmod(serial, 62)
        digits = _BASE62[digit] + digits
    short = f"{prefix}Fa0{digits}"
    return short + case_safe_suffix(short)


def case_safe_suffix(short_id: str) -> str:
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(short_id[start : start + 5]) if ch.isupper())
        suffix += _SUFFIX_CHARS[bits]
    return suffix


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    authorization: str | None


def _errors(status: int, code: str, message: str, fields: Iterable[str] = ()) -> JSONResponse:
    return JSONResponse(
        [{"message": message, "errorCode": code, "fields": list(fields)}], status_code=status
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class FakeSalesforce(LocalService):
    """One Salesforce org with one API user, served on 127.0.0.1."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        custom_fields: Mapping[str, Iterable[str]] | None = None,
        external_id_fields: Mapping[str, Iterable[str]] | None = None,
        case_statuses: Iterable[str] = CASE_STATUSES,
        case_priorities: Iterable[str] = CASE_PRIORITIES,
        user_name: str = "Integration User",
        username: str = "integration@acme.example",
        api_allocation: int = 100_000,
    ) -> None:
        self.token = token
        self.user_name = user_name
        self.username = username
        self.api_allocation = api_allocation
        self.api_usage = 0
        customs = custom_fields if custom_fields is not None else CUSTOM_FIELDS
        externals = external_id_fields if external_id_fields is not None else EXTERNAL_ID_FIELDS
        self.fields: dict[str, dict[str, tuple[int | None, bool]]] = {
            sobject: {
                **standard,
                **{name: (CUSTOM_TEXT_MAX, True) for name in customs.get(sobject, ())},
            }
            for sobject, standard in STANDARD_FIELDS.items()
        }
        self.external_id_fields = {
            sobject: set(externals.get(sobject, ())) for sobject in KEY_PREFIXES
        }
        self.case_statuses = frozenset(case_statuses)
        self.case_priorities = frozenset(case_priorities)
        self.records: dict[str, dict[str, dict[str, Any]]] = {
            sobject: {} for sobject in KEY_PREFIXES
        }
        self.requests: list[Recorded] = []
        self._serial = 1
        self._next_case_number = FIRST_CASE_NUMBER
        self._limited = 0
        self._limit_message = TOTAL_REQUESTS
        self._failing = 0
        self._failure_status = 503
        self._runner = ServerRunner(self._app())

    # -- what tests tell it ------------------------------------------------------------------

    def rate_limit_next(self, n: int = 1, *, concurrent: bool = False) -> None:
        """The next `n` authenticated REST requests answer 403 REQUEST_LIMIT_EXCEEDED, as
        Salesforce does once the org is over its allocation: no 429 and no Retry-After."""
        self._limited = n
        self._limit_message = CONCURRENT_REQUESTS if concurrent else TOTAL_REQUESTS

    def fail_next(self, n: int = 1, *, status: int = 503) -> None:
        """The next `n` requests answer `status` (503: down for maintenance or overloaded)."""
        self._failing = n
        self._failure_status = status

    # -- what tests read ---------------------------------------------------------------------

    def find(self, sobject: str, field: str, value: str) -> dict[str, Any] | None:
        """The record of `sobject` whose `field` is `value`."""
        for record in self.records[sobject].values():
            if record.get(field) == value:
                return record
        return None

    def calls(self, method: str, path_part: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # -- the app -----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/services/data/{version}/")
        @app.get("/services/data/{version}")
        async def resources(request: Request, version: str) -> Response:
            refused, number, _ = await self._admit(request, version)
            if refused is not None:
                return refused
            root = f"/services/data/v{number}.0"
            names = ("sobjects", "query", "search", "composite", "limits", "chatter")
            listing: dict[str, str] = {name: f"{root}/{name}" for name in names}
            listing["identity"] = f"{self.base_url}/id/{ORG_ID}/{USER_ID}"
            return self._ok(listing)

        @app.get("/services/data/{version}/sobjects/{sobject}/{record_id}")
        async def read_by_id(
            request: Request, version: str, sobject: str, record_id: str
        ) -> Response:
            refused, number, _ = await self._admit(request, version)
            if refused is not None:
                return refused
            if sobject not in self.records:
                return self._errors(404, "NOT_FOUND", NOT_FOUND)
            record = self.records[sobject].get(record_id)
            if record is None:
                return self._errors(404, "NOT_FOUND", NOT_FOUND)
            return self._read(sobject, record, request, number)

        @app.get("/services/data/{version}/sobjects/{sobject}/{field}/{value}")
        async def read_by_external_id(
            request: Request, version: str, sobject: str, field: str, value: str
        ) -> Response:
            refused, number, _ = await self._admit(request, version)
            if refused is not None:
                return refused
            if sobject not in self.records or field not in self.external_id_fields[sobject]:
                message = f"Provided external ID field does not exist or is not accessible: {field}"
                return self._errors(404, "NOT_FOUND", message)
            record = self.find(sobject, field, value)
            if record is None:
                return self._errors(404, "NOT_FOUND", NOT_FOUND)
            return self._read(sobject, record, request, number)

        @app.patch("/services/data/{version}/sobjects/{sobject}/{field}/{value}")
        async def upsert(
            request: Request, version: str, sobject: str, field: str, value: str
        ) -> Response:
            refused, number, body = await self._admit(request, version)
            if refused is not None:
                return refused
            return self._upsert(request, body, sobject, field, value, number)

        @app.get("/services/oauth2/userinfo")
        async def userinfo(request: Request) -> Response:
            await self._record_request(request)
            if self._failing:
                self._failing -= 1
                return PlainTextResponse(UNAVAILABLE, status_code=self._failure_status)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                # Unlike the REST API, UserInfo answers a bad token with 403.
                return PlainTextResponse("Bad_OAuth_Token", status_code=403)
            return JSONResponse(
                {
                    "sub": f"{self.base_url}/id/{ORG_ID}/{USER_ID}",
                    "user_id": USER_ID,
                    "organization_id": ORG_ID,
                    "preferred_username": self.username,
                    "name": self.user_name,
                    "email": self.username,
                    "email_verified": True,
                    "zoneinfo": "America/Los_Angeles",
                }
            )

        @app.api_route("/{rest:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
        async def anything_else(request: Request, rest: str) -> Response:
            await self._record_request(request)
            return _errors(404, "NOT_FOUND", NOT_FOUND)

        return app

    # -- gatekeeping -------------------------------------------------------------------------

    async def _record_request(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                json=body,
                authorization=request.headers.get("authorization"),
            )
        )
        return body

    async def _admit(self, request: Request, version: str) -> tuple[Response | None, int, Any]:
        """Record the request; refuse it as Salesforce would before looking at what it asks.
        Otherwise: the API version's number and the JSON body (text if it is not JSON)."""
        body = await self._record_request(request)
        if self._failing:
            self._failing -= 1
            return _errors(self._failure_status, "SERVER_UNAVAILABLE", UNAVAILABLE), 0, body
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _errors(401, "INVALID_SESSION_ID", SESSION_INVALID), 0, body
        if self._limited:
            self._limited -= 1
            return self._errors(403, "REQUEST_LIMIT_EXCEEDED", self._limit_message), 0, body
        match = VERSION.fullmatch(version)
        if match is None or not OLDEST_VERSION <= int(match.group(1)) <= NEWEST_VERSION:
            return self._errors(404, "NOT_FOUND", NOT_FOUND), 0, body
        self.api_usage += 1
        return None, int(match.group(1)), body

    def _limit_info(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.api_allocation}"}

    def _ok(self, body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=self._limit_info())

    def _errors(
        self, status: int, code: str, message: str, fields: Iterable[str] = ()
    ) -> JSONResponse:
        response = _errors(status, code, message, fields)
        response.headers.update(self._limit_info())
        return response

    # -- records -----------------------------------------------------------------------------

    def _read(
        self, sobject: str, record: dict[str, Any], request: Request, version: int
    ) -> Response:
        wanted = request.query_params.get("fields")
        names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else None
        known = self.fields[sobject]
        if names is not None:
            unknown = [n for n in names if n not in known]
            if unknown:
                message = f"No such column '{unknown[0]}' on entity '{sobject}'."
                return self._errors(400, "INVALID_FIELD", message)
        chosen = names if names is not None else list(known)
        url = f"/services/data/v{version}.0/sobjects/{sobject}/{record['Id']}"
        body: dict[str, Any] = {"attributes": {"type": sobject, "url": url}}
        body.update({name: record.get(name) for name in chosen})
        return self._ok(body)

    def _upsert(
        self, request: Request, body: Any, sobject: str, field: str, value: str, version: int
    ) -> Response:
        if sobject not in self.records or field not in self.external_id_fields[sobject]:
            # "Incorrect external ID field" answers NOT_FOUND.
            return self._errors(404, "NOT_FOUND", NOT_FOUND)
        if not (request.headers.get("content-type") or "").startswith("application/json"):
            return self._errors(
                415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"
            )
        if not isinstance(body, dict):
            return self._errors(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        refused = self._invalid_fields(sobject, body)
        if refused is not None:
            return refused
        existing = self.find(sobject, field, value)
        if existing is None:
            missing = [n for n in self._required(sobject) if not body.get(n)]
            if missing:
                message = f"Required fields are missing: [{', '.join(missing)}]"
                return self._errors(400, "REQUIRED_FIELD_MISSING", message, missing)
            record = self._insert(sobject, {**body, field: value})
            created: dict[str, Any] = {"id": record["Id"], "success": True, "errors": []}
            if version >= UPSERT_BODY_ON_UPDATE_FROM:
                created["created"] = True  # the flag exists from 46.0 on
            return self._ok(created, 201)
        blanked = [n for n in self._required(sobject) if n in body and not body[n]]
        if blanked:
            message = f"Required fields are missing: [{', '.join(blanked)}]"
            return self._errors(400, "REQUIRED_FIELD_MISSING", message, blanked)
        existing.update(body)
        self._derive(sobject, existing)
        existing["LastModifiedDate"] = _now()
        if version < UPSERT_BODY_ON_UPDATE_FROM:
            return Response(status_code=204, headers=self._limit_info())
        return self._ok({"id": existing["Id"], "success": True, "errors": [], "created": False})

    def _invalid_fields(self, sobject: str, body: dict[str, Any]) -> Response | None:
        known = self.fields[sobject]
        for name, value in body.items():
            if name not in known:
                message = f"No such column '{name}' on sobject of type {sobject}"
                return self._errors(400, "INVALID_FIELD", message)
            limit, writable = known[name]
            if not writable:
                message = (
                    f"Unable to create/update fields: {name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set."
                )
                return self._errors(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, [name])
            if name in NUMBER_FIELDS:
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    message = f"Cannot deserialize instance of double from {value!r} ({name})"
                    return self._errors(400, "JSON_PARSER_ERROR", message)
                continue
            if value is not None and not isinstance(value, str):
                message = f"Cannot deserialize instance of string from {value!r} ({name})"
                return self._errors(400, "JSON_PARSER_ERROR", message)
            if isinstance(value, str) and limit is not None and len(value) > limit:
                message = f"{name}: data value too large: {value[:40]}... (max length={limit})"
                return self._errors(400, "STRING_TOO_LONG", message, [name])
        if sobject == "Case":
            for name, allowed in (
                ("Status", self.case_statuses),
                ("Priority", self.case_priorities),
            ):
                if name in body and body[name] not in allowed:
                    message = f"{name}: bad value for restricted picklist field: {body[name]}"
                    return self._errors(
                        400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [name]
                    )
            account_id = body.get("AccountId")
            if account_id is not None and account_id not in self.records["Account"]:
                message = f"Account ID: id value of incorrect type: {account_id}"
                return self._errors(400, "FIELD_INTEGRITY_EXCEPTION", message, ["AccountId"])
        return None

    @staticmethod
    def _required(sobject: str) -> tuple[str, ...]:
        return ("Name",) if sobject == "Account" else ()

    def _insert(self, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
        record_id = salesforce_id(KEY_PREFIXES[sobject], self._serial)
        self._serial += 1
        now = _now()
        record: dict[str, Any] = {"Id": record_id, "CreatedDate": now, "LastModifiedDate": now}
        if sobject == "Case":
            record["CaseNumber"] = f"{self._next_case_number:08d}"
            self._next_case_number += 1
            record["Status"] = DEFAULT_STATUS
            record["Priority"] = DEFAULT_PRIORITY
        record.update(values)
        self._derive(sobject, record)
        self.records[sobject][record_id] = record
        return record

    @staticmethod
    def _derive(sobject: str, record: dict[str, Any]) -> None:
        if sobject == "Case":
            record["IsClosed"] = record.get("Status") in CLOSED_STATUSES
