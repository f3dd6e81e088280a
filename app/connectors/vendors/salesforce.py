"""Salesforce: our accounts become Accounts and our tickets become Cases, over the REST API.

Credentials: `base_url` is the org's instance URL (https://acme.my.salesforce.com), `token` an
OAuth access token (or session id) sent as `Authorization: Bearer`, and `extra["api_version"]`
the REST API version to call (default below).

Replays never duplicate, the Salesforce way: every write is an upsert keyed by an external ID
field that we stamp with `Push.ours`,
`PATCH /services/data/vXX.X/sobjects/<Object>/<ExternalIdField>/<value>`, which creates the
record when no record carries that value and updates the one that does. A create whose earlier
attempt may have landed (`look_first`) therefore needs no search first: the upsert finds it.
Each external ID field is a custom field the org's admin adds (Text, "External ID" and "Unique"
ticked); the mapping names it.

Salesforce answers errors as a JSON array, `[{"message": ..., "errorCode": ..., "fields": [...]}]`:
401 INVALID_SESSION_ID for an expired or revoked token, 403 REQUEST_LIMIT_EXCEEDED once the org
is over its API request allocation, 400 for a bad request (INVALID_FIELD,
REQUIRED_FIELD_MISSING, FIELD_CUSTOM_VALIDATION_EXCEPTION, ...), 503 when the instance is down
for maintenance or overloaded. `call()` sorts these, and this module re-sorts the two it cannot
tell apart by status alone (a request limit is a 403, as a missing permission is).

References:
- Upsert by external ID (PATCH; 201 created; update answers 200 with `"created": false` from
  API 46.0 on, 204 with no body before): https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
  (the 200-instead-of-204 change in 46.0: https://github.com/jesperfj/force-rest-api/issues/80)
- sObject Rows by External ID: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_upsert.htm
- Get a record by external ID: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/using_resources_retrieve_with_externalid.htm
- Status codes and error responses: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
- API request limits (REQUEST_LIMIT_EXCEEDED; rolling 24 hours; concurrent long requests):
  https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
- API versions (Summer '26 = 67.0): https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_versions.htm
- Resources by version: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm
- UserInfo endpoint: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm
- Case fields (Subject 255, Description 32,000, Status / Priority / Origin picklists, CaseNumber
  read-only): https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_case.htm
- Account fields (Name 255, Website 255): https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_account.htm
- Record page URLs (/lightning/r/<object>/<id>/view): https://developer.salesforce.com/docs/atlas.en-us.lightning.meta/lightning/components_navigation_page_definitions.htm
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from app.connectors.vendors.base import (
    AccountRecord,
    Action,
    Credentials,
    Failure,
    FarSideError,
    Push,
    Remote,
    TicketRecord,
)
from app.connectors.vendors.http import call

# Summer '26, a version every org offers (Winter '27, 68.0, rolled out from October 2026); an
# org answers each older version it still supports the same way, so pinning one keeps the
# answers stable across Salesforce's three releases a year.
DEFAULT_API_VERSION = "v67.0"
VERSION_FORMAT = re.compile(r"v\d{2,3}\.\d")

# Salesforce sends no Retry-After with REQUEST_LIMIT_EXCEEDED. The daily allocation is counted
# over a rolling 24 hours ("TotalRequests Limit exceeded."), so an hour is a fair first wait;
# the concurrent limit (too many requests of 20 s or longer at once) clears as they finish.
DAILY_LIMIT_RETRY_SECONDS = 3600.0
CONCURRENT_LIMIT_RETRY_SECONDS = 60.0

# Field lengths from the object reference; longer values are refused (STRING_TOO_LONG).
NAME_MAX = 255  # Account.Name
WEBSITE_MAX = 255  # Account.Website
SUBJECT_MAX = 255  # Case.Subject
DESCRIPTION_MAX = 32_000  # Case.Description

# An API name: Name, Website, Ticketbot_Id__c, ns__Field__c.
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class Salesforce:
    name: ClassVar[str] = "salesforce"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.SYNC_ACCOUNT, Action.SYNC_TICKET})
    default_mapping: ClassVar[dict[str, Any]] = {
        # External ID fields (Text, External ID, Unique) holding Push.ours.
        "account_id_field": "Ticketbot_Id__c",
        "case_id_field": "Ticketbot_Id__c",
        # Custom Account fields for our numbers; null or "" leaves one out.
        "health_field": "Ticketbot_Health__c",
        "nps_field": "Ticketbot_NPS__c",
        "csat_field": "Ticketbot_CSAT__c",
        # A custom Case URL field for the Slack thread; null or "" leaves it out.
        "permalink_field": "Ticketbot_Slack_Link__c",
        # Case.Origin on create. Not a default picklist value (Phone, Email, Web): add it, or
        # name one the org has. Origin is not a restricted picklist unless the admin made it so.
        "origin": "Slack",
        # Our ticket status -> Case.Status; the default values are New, Working, Escalated,
        # Closed. A status left out is not sent.
        "statuses": {
            "new": "New",
            "open": "Working",
            "waiting_on_customer": "Working",
            "resolved": "Closed",
            "closed": "Closed",
            "discarded": "Closed",
        },
        # Our priority -> Case.Priority; the default values are High, Medium, Low.
        "priorities": {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"},
    }

    async def push(self, http: httpx.AsyncClient, credentials: Credentials, push: Push) -> Remote:
        if push.action is Action.SYNC_ACCOUNT:
            return await self._sync_account(http, credentials, push)
        if push.action is Action.SYNC_TICKET:
            return await self._sync_ticket(http, credentials, push)
        raise FarSideError(Failure.REFUSED, f"the Salesforce connector does not {push.action}")

    async def check(self, http: httpx.AsyncClient, credentials: Credentials) -> str:
        """The version's resource list (token valid, version offered), then who the token is."""
        root = _api_root(credentials)
        version = root.rsplit("/", 1)[1]
        try:
            # Resources by Version: GET /services/data/vXX.X/ lists the resources, or 404.
            await _request(http, credentials, "GET", f"{root}/")
        except FarSideError as exc:
            if exc.failure is Failure.NOT_FOUND:
                raise FarSideError(
                    Failure.REFUSED,
                    f"this org does not offer REST API {version} (set api_version): {exc.message}",
                    status_code=exc.status_code,
                ) from None
            raise
        # UserInfo (OpenID Connect) on the org's own domain: the token's user and org. It
        # answers 403 for a bad token, where the REST API answers 401.
        userinfo = f"{_instance(credentials)}/services/oauth2/userinfo"
        me = await _request(http, credentials, "GET", userinfo)
        if not isinstance(me, dict):
            raise FarSideError(Failure.REFUSED, "the UserInfo endpoint answered no JSON object")
        name = me.get("name") or "?"
        username = me.get("preferred_username") or me.get("email") or "?"
        org = me.get("organization_id") or "?"
        return f"Salesforce user {name} ({username}) in org {org}, REST API {version}"

    # -- accounts ------------------------------------------------------------------------------

    async def _sync_account(
        self, http: httpx.AsyncClient, credentials: Credentials, push: Push
    ) -> Remote:
        if push.account is None:
            raise FarSideError(Failure.REFUSED, "sync_account needs the account")
        id_field = _api_name(push.mapping, "account_id_field")
        answer = await _upsert(
            http,
            credentials,
            sobject="Account",
            id_field=id_field,
            mapping_key="account_id_field",
            value=push.ours,
            fields=account_fields(push.account, push.mapping),
        )
        account_id = _answered_id(answer) or (push.remote.id if push.remote else None)
        if account_id is None:
            # Before API 46.0 an update answers 204 with no body: read the id by external ID.
            record = await _read_by_external_id(
                http, credentials, "Account", id_field, push.ours, ("Id",)
            )
            account_id = _record_id(record)
        return Remote(id=account_id, url=_record_url(credentials, "Account", account_id))

    # -- tickets -------------------------------------------------------------------------------

    async def _sync_ticket(
        self, http: httpx.AsyncClient, credentials: Credentials, push: Push
    ) -> Remote:
        if push.ticket is None:
            raise FarSideError(Failure.REFUSED, "sync_ticket needs the ticket")
        id_field = _api_name(push.mapping, "case_id_field")
        fields = case_fields(
            push.ticket,
            push.mapping,
            account_id=push.parent.id if push.parent else None,
            creating=push.remote is None,
        )
        answer = await _upsert(
            http,
            credentials,
            sobject="Case",
            id_field=id_field,
            mapping_key="case_id_field",
            value=push.ours,
            fields=fields,
        )
        case_id = _answered_id(answer)
        status = fields.get("Status") or (push.remote.status if push.remote else None)
        stored = push.remote
        if case_id is not None and stored is not None and stored.id == case_id and stored.key:
            key: str | None = stored.key  # CaseNumber never changes once assigned
        else:
            # A new Case (its CaseNumber is assigned on insert), or a pre-46.0 update (204, no
            # id in the answer): one read for what the upsert did not say.
            if case_id is not None:
                record = await _read_by_id(
                    http, credentials, "Case", case_id, ("Id", "CaseNumber", "Status")
                )
            else:
                record = await _read_by_external_id(
                    http, credentials, "Case", id_field, push.ours, ("Id", "CaseNumber", "Status")
                )
            case_id = _record_id(record)
            key = _text(record.get("CaseNumber"))
            status = _text(record.get("Status")) or status
        return Remote(
            id=case_id, key=key, url=_record_url(credentials, "Case", case_id), status=status
        )


# -- payloads (pure) ---------------------------------------------------------------------------


def account_fields(account: AccountRecord, mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The Account's field values: Name, Website (the first domain) and our numbers, each
    number under the custom field the mapping names (None clears the field)."""
    fields: dict[str, Any] = {"Name": _clip(account.name, NAME_MAX)}
    if account.domains:
        fields["Website"] = _clip(account.domains[0], WEBSITE_MAX)
    for key, value in (
        ("health_field", account.health_score),
        ("nps_field", account.nps),
        ("csat_field", account.csat),
    ):
        if mapping.get(key):
            fields[_api_name(mapping, key)] = value
    return fields


def case_fields(
    ticket: TicketRecord,
    mapping: Mapping[str, Any],
    *,
    account_id: str | None,
    creating: bool,
) -> dict[str, Any]:
    """The Case's field values. Origin is set on create only (an agent may change it later);
    AccountId only when the account's Salesforce id is known (it is never cleared)."""
    fields: dict[str, Any] = {
        "Subject": _clip(f"T-{ticket.number}: {ticket.subject}", SUBJECT_MAX),
        "Description": _clip(ticket.description, DESCRIPTION_MAX),
    }
    status = (mapping.get("statuses") or {}).get(ticket.status)
    if status:
        fields["Status"] = status
    priority = (mapping.get("priorities") or {}).get(ticket.priority)
    if priority:
        fields["Priority"] = priority
    if creating and mapping.get("origin"):
        fields["Origin"] = mapping["origin"]
    if mapping.get("permalink_field") and ticket.permalink:
        fields[_api_name(mapping, "permalink_field")] = ticket.permalink
    if account_id:
        fields["AccountId"] = account_id
    return fields


# -- HTTP --------------------------------------------------------------------------------------


async def _upsert(
    http: httpx.AsyncClient,
    credentials: Credentials,
    *,
    sobject: str,
    id_field: str,
    mapping_key: str,
    value: str,
    fields: dict[str, Any],
) -> Any:
    """PATCH .../sobjects/<sobject>/<id_field>/<value>: 201 {"id", "created": true} for a new
    record, 200 {"id", "created": false} for an update (204 and no body before API 46.0)."""
    url = f"{_api_root(credentials)}/sobjects/{sobject}/{id_field}/{quote(value, safe='')}"
    try:
        return await _request(http, credentials, "PATCH", url, json=fields, creates=True)
    except FarSideError as exc:
        if exc.failure is Failure.NOT_FOUND:
            # "The requested resource does not exist": the object has no such external ID
            # field (or this user cannot see it), or the org lacks this API version. Nothing
            # stored is gone, so this is a setup problem, not NOT_FOUND.
            raise FarSideError(
                Failure.REFUSED,
                f"{sobject}.{id_field} is not an external ID field this user can write "
                f"(mapping {mapping_key!r}), or the API version is not offered: {exc.message}",
                status_code=exc.status_code,
            ) from None
        if exc.status_code == 300:
            # More than one record carries the value: the field is not marked Unique.
            raise FarSideError(
                Failure.REFUSED,
                f"several {sobject} records have {id_field} = {value!r}; mark the field "
                f"Unique and merge them: {exc.message}",
                status_code=300,
            ) from None
        raise


async def _read_by_external_id(
    http: httpx.AsyncClient,
    credentials: Credentials,
    sobject: str,
    id_field: str,
    value: str,
    fields: tuple[str, ...],
) -> dict[str, Any]:
    url = f"{_api_root(credentials)}/sobjects/{sobject}/{id_field}/{quote(value, safe='')}"
    answer = await _request(http, credentials, "GET", url, params={"fields": ",".join(fields)})
    return _record(answer)


async def _read_by_id(
    http: httpx.AsyncClient,
    credentials: Credentials,
    sobject: str,
    record_id: str,
    fields: tuple[str, ...],
) -> dict[str, Any]:
    url = f"{_api_root(credentials)}/sobjects/{sobject}/{quote(record_id, safe='')}"
    answer = await _request(http, credentials, "GET", url, params={"fields": ",".join(fields)})
    return _record(answer)


async def _request(
    http: httpx.AsyncClient,
    credentials: Credentials,
    method: str,
    url: str,
    *,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    creates: bool = False,
) -> Any:
    headers = {"Authorization": f"Bearer {credentials.token}", "Accept": "application/json"}
    try:
        return await call(
            http, method, url, headers=headers, json=json, params=params, creates=creates
        )
    except FarSideError as exc:
        raise _reclassified(exc) from None


def _reclassified(exc: FarSideError) -> FarSideError:
    """`call()` calls every 403 AUTH; Salesforce's request limits are 403s too."""
    if exc.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in exc.message:
        # "TotalRequests Limit exceeded." for the daily allocation; the concurrent limit
        # names itself ("ConcurrentRequests (Concurrent API Requests) Limit exceeded.").
        concurrent = "Concurrent" in exc.message
        wait = CONCURRENT_LIMIT_RETRY_SECONDS if concurrent else DAILY_LIMIT_RETRY_SECONDS
        which = "concurrent API request limit" if concurrent else "daily API request allocation"
        return FarSideError(
            Failure.RATE_LIMITED,
            f"the org is over its {which} (no Retry-After; trying again in {wait:.0f} s): "
            f"{exc.message}",
            status_code=403,
            retry_after=wait,
        )
    if exc.status_code == 401:
        return FarSideError(
            Failure.AUTH,
            f"Salesforce refused the access token (expired or revoked; reconnect): {exc.message}",
            status_code=401,
        )
    if exc.status_code == 403 and "Bad_OAuth_Token" in exc.message:
        return FarSideError(
            Failure.AUTH,
            f"Salesforce refused the access token (expired or revoked; reconnect): {exc.message}",
            status_code=403,
        )
    return exc


# -- helpers -----------------------------------------------------------------------------------


def _instance(credentials: Credentials) -> str:
    return credentials.base_url.rstrip("/")


def _api_root(credentials: Credentials) -> str:
    version = (credentials.extra.get("api_version") or DEFAULT_API_VERSION).strip()
    if not version.startswith("v"):
        version = f"v{version}"
    if not VERSION_FORMAT.fullmatch(version):
        raise FarSideError(
            Failure.REFUSED, f"api_version {version!r} is not a version like {DEFAULT_API_VERSION}"
        )
    return f"{_instance(credentials)}/services/data/{version}"


def _api_name(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not API_NAME.fullmatch(value):
        raise FarSideError(
            Failure.REFUSED, f"mapping {key!r} must be a Salesforce field API name, not {value!r}"
        )
    return value


def _record_url(credentials: Credentials, sobject: str, record_id: str) -> str:
    return f"{_instance(credentials)}/lightning/r/{sobject}/{record_id}/view"


def _answered_id(answer: Any) -> str | None:
    if isinstance(answer, dict) and isinstance(answer.get("id"), str) and answer["id"]:
        return str(answer["id"])
    return None


def _record(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise FarSideError(Failure.REFUSED, "Salesforce answered a read with no record")
    return answer


def _record_id(record: dict[str, Any]) -> str:
    record_id = record.get("Id")
    if not isinstance(record_id, str) or not record_id:
        raise FarSideError(Failure.REFUSED, "Salesforce answered a record without an Id")
    return record_id


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
