"""HubSpot CRM: our accounts as HubSpot companies, our tickets as HubSpot tickets.

Authenticates with a private app's access token (`Authorization: Bearer <token>`,
https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview) and speaks the
CRM v3 objects API:

- companies: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/companies/guide
- tickets: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/tickets/guide
- search: https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm

An account always looks before it creates: the search finds the company that carries our id
in `id_property` (an earlier push) or, failing that, an unclaimed company whose `domain` is
one of the account's domains (a company the CRM already had). A found company gets our id
and the support numbers; only a company we create also gets our name and domains, so the
CRM stays the owner of its companies' names.

A ticket is created in the mapped pipeline and stage, stamped with our id in
`ticket_id_property`, and associated with the account's company (`Push.parent`) in the same
request; later pushes move its stage and priority.

The private app needs the scopes `crm.objects.companies.read`,
`crm.objects.companies.write` and `tickets`; the custom properties named by the mapping must
exist in the portal (Settings > Properties), or HubSpot refuses the write with a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

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
from app.connectors.vendors.http import call, retry_after_header

# The API's host; a connector for a fake or a proxy stores another base URL.
API_BASE_URL = "https://api.hubapi.com"

# https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/guide
ACCOUNT_DETAILS_PATH = "/account-info/v3/details"
COMPANIES_PATH = "/crm/v3/objects/companies"
TICKETS_PATH = "/crm/v3/objects/tickets"

# The search answers pages of 10 by default and at most 200 per page (search-the-crm,
# "Limits"); a lookup by our own id needs far fewer.
SEARCH_LIMIT = 20

# "associationCategory": "HUBSPOT_DEFINED" with the type ids of the associations table:
# 26 "Ticket to primary company", 339 "Ticket to company" (unlabeled). The tickets guide's
# create example associates the company with 26; a ticket belongs to one account, so its
# company is the primary one.
# https://developers.hubspot.com/docs/api-reference/legacy/crm/associations/associate-records/guide
TICKET_TO_PRIMARY_COMPANY = 26

# Rate limits: https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
# A 429's body names the limit hit in `policyName` (DAILY, TEN_SECONDLY_ROLLING, ...);
# answers carry X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds, except the
# search endpoints, which carry none of them. No Retry-After is documented for a 429.
DAILY_POLICY = "DAILY"
# The daily limit resets at midnight in the portal's time zone, which we do not know: look
# again in an hour rather than every few seconds.
DAILY_LIMIT_RETRY_SECONDS = 3600.0
# The burst limit is a rolling ten-second window.
DEFAULT_RETRY_SECONDS = 10.0

DEFAULT_MAPPING: dict[str, Any] = {
    # Company properties (custom, created by the portal's admin) holding our account's id
    # and its support numbers.
    "id_property": "ticketbot_account_id",
    "health_property": "ticketbot_health_score",
    "nps_property": "ticketbot_nps",
    "csat_property": "ticketbot_csat",
    # The ticket property (custom) holding our ticket's id.
    "ticket_id_property": "ticketbot_ticket_id",
    # The default ticket pipeline is "0" (the tickets guide's create example). Its stages in
    # a new portal: "1" New, "2" Waiting on contact, "3" Waiting on us, "4" Closed (internal
    # ids; a portal's own are listed by GET /crm/v3/pipelines/tickets,
    # https://developers.hubspot.com/docs/api-reference/legacy/crm/pipelines/guide).
    "ticket_pipeline": "0",
    "stages": {
        "new": "1",
        "open": "3",  # our move: Waiting on us
        "waiting_on_customer": "2",  # Waiting on contact
        "resolved": "4",
        "closed": "4",
        "discarded": "4",
    },
    # hs_ticket_priority's internal values: LOW, MEDIUM, HIGH (the tickets guide sends
    # "HIGH"). Portals that added an "URGENT" option can map urgent to it.
    "priorities": {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "HIGH"},
    # associationTypeId of a created ticket's link to its company (see above).
    "company_association_type_id": TICKET_TO_PRIMARY_COMPANY,
}


class HubSpot:
    name: ClassVar[str] = "hubspot"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.SYNC_ACCOUNT, Action.SYNC_TICKET})
    default_mapping: ClassVar[dict[str, Any]] = DEFAULT_MAPPING

    async def push(self, http: httpx.AsyncClient, credentials: Credentials, push: Push) -> Remote:
        if push.action is Action.SYNC_ACCOUNT:
            if push.account is None:
                raise FarSideError(Failure.REFUSED, "sync_account needs the account")
            return await _sync_company(http, credentials, push, push.account)
        if push.action is Action.SYNC_TICKET:
            if push.ticket is None:
                raise FarSideError(Failure.REFUSED, "sync_ticket needs the ticket")
            return await _sync_ticket(http, credentials, push, push.ticket)
        raise FarSideError(Failure.REFUSED, f"HubSpot does not do {push.action.value}")

    async def check(self, http: httpx.AsyncClient, credentials: Credentials) -> str:
        # GET /account-info/v3/details answers {"portalId": 123456, "accountType": "STANDARD",
        # "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1", ...}.
        details = await _request(http, credentials, "GET", ACCOUNT_DETAILS_PATH)
        line = f"HubSpot portal {_field(details, 'portalId')}"
        account_type = details.get("accountType")
        if isinstance(account_type, str) and account_type != "STANDARD":
            line += f" ({account_type.lower().replace('_', ' ')})"
        return line


# -- companies ---------------------------------------------------------------------------------


async def _sync_company(
    http: httpx.AsyncClient, credentials: Credentials, push: Push, account: AccountRecord
) -> Remote:
    numbers = _company_numbers(push, account)
    if push.remote is not None:
        # PATCH /crm/v3/objects/companies/{companyId} {"properties": {...}}: 200 with the
        # company, 404 when it was deleted (companies guide, "Update companies").
        company = await _request(
            http,
            credentials,
            "PATCH",
            f"{COMPANIES_PATH}/{push.remote.id}",
            json={"properties": numbers},
        )
        return Remote(id=_record_id(company))
    found = await _find_company(http, credentials, push, account)
    if found is not None:
        company = await _request(
            http, credentials, "PATCH", f"{COMPANIES_PATH}/{found}", json={"properties": numbers}
        )
        return Remote(id=_record_id(company))
    # POST /crm/v3/objects/companies {"properties": {...}}: 201 with the company. A company
    # needs at least one of `name` or `domain`; extra domains go in `hs_additional_domains`,
    # separated by semicolons (companies guide, "Create companies").
    created: dict[str, str] = {"name": account.name, **numbers}
    domains = _domains(account)
    if domains:
        created["domain"] = domains[0]
    if len(domains) > 1:
        created["hs_additional_domains"] = "; ".join(domains[1:])
    company = await _request(
        http, credentials, "POST", COMPANIES_PATH, json={"properties": created}, creates=True
    )
    return Remote(id=_record_id(company))


def _company_numbers(push: Push, account: AccountRecord) -> dict[str, str]:
    """What every push writes: our id and the support numbers. Property values travel as
    strings; an empty string clears a number we no longer have."""
    return {
        _setting(push, "id_property"): push.ours,
        _setting(push, "health_property"): _number(account.health_score),
        _setting(push, "nps_property"): _number(account.nps),
        _setting(push, "csat_property"): _number(account.csat),
    }


async def _find_company(
    http: httpx.AsyncClient, credentials: Credentials, push: Push, account: AccountRecord
) -> str | None:
    """The company carrying our id, else one with no id of ours whose domain is the account's."""
    id_property = _setting(push, "id_property")
    # Filter groups are ORed, filters within a group ANDed; EQ compares case-insensitively,
    # IN takes a `values` list that must be lower case for a string property (search guide,
    # "Filter search results").
    groups: list[dict[str, Any]] = [
        {"filters": [{"propertyName": id_property, "operator": "EQ", "value": push.ours}]}
    ]
    domains = _domains(account)
    if domains:
        groups.append(
            {"filters": [{"propertyName": "domain", "operator": "IN", "values": domains}]}
        )
    results = await _search(
        http, credentials, COMPANIES_PATH, groups, properties=[id_property, "domain", "name"]
    )
    ours = [r for r in results if _property(r, id_property) == push.ours]
    if ours:
        return _record_id(ours[0])
    unclaimed = [
        r
        for r in results
        if not _property(r, id_property) and (_property(r, "domain") or "").lower() in domains
    ]
    return _record_id(unclaimed[0]) if unclaimed else None


def _domains(account: AccountRecord) -> list[str]:
    seen: list[str] = []
    for domain in account.domains:
        cleaned = domain.strip().lower()
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return seen


# -- tickets -----------------------------------------------------------------------------------


async def _sync_ticket(
    http: httpx.AsyncClient, credentials: Credentials, push: Push, ticket: TicketRecord
) -> Remote:
    moves = {
        "hs_pipeline": str(_setting(push, "ticket_pipeline")),
        "hs_pipeline_stage": _mapped(push, "stages", ticket.status),
        "hs_ticket_priority": _mapped(push, "priorities", ticket.priority),
    }
    existing = push.remote.id if push.remote is not None else None
    if existing is None and push.look_first:
        existing = await _find_ticket(http, credentials, push)
    if existing is not None:
        # PATCH /crm/v3/objects/tickets/{ticketId} (tickets guide, "Update tickets").
        answer = await _request(
            http, credentials, "PATCH", f"{TICKETS_PATH}/{existing}", json={"properties": moves}
        )
        return _ticket_remote(answer)
    # POST /crm/v3/objects/tickets with `subject` and `hs_pipeline_stage` (and `hs_pipeline`
    # when the portal has several), and an `associations` list of {"to": {"id"}, "types":
    # [{"associationCategory", "associationTypeId"}]} (tickets guide, "Create tickets").
    body: dict[str, Any] = {
        "properties": {
            "subject": f"T-{ticket.number}: {ticket.subject}",
            "content": _content(ticket),
            **moves,
            _setting(push, "ticket_id_property"): push.ours,
        }
    }
    if push.parent is not None:
        body["associations"] = [
            {
                "to": {"id": push.parent.id},
                "types": [
                    {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": int(_setting(push, "company_association_type_id")),
                    }
                ],
            }
        ]
    answer = await _request(http, credentials, "POST", TICKETS_PATH, json=body, creates=True)
    return _ticket_remote(answer)


async def _find_ticket(http: httpx.AsyncClient, credentials: Credentials, push: Push) -> str | None:
    id_property = _setting(push, "ticket_id_property")
    groups = [{"filters": [{"propertyName": id_property, "operator": "EQ", "value": push.ours}]}]
    results = await _search(http, credentials, TICKETS_PATH, groups, properties=[id_property])
    ours = [r for r in results if _property(r, id_property) == push.ours]
    return _record_id(ours[0]) if ours else None


def _content(ticket: TicketRecord) -> str:
    if ticket.permalink:
        return f"{ticket.description}\n\nSlack thread: {ticket.permalink}"
    return ticket.description


def _ticket_remote(answer: Any) -> Remote:
    return Remote(id=_record_id(answer), status=_property(answer, "hs_pipeline_stage"))


# -- the wire ----------------------------------------------------------------------------------


async def _search(
    http: httpx.AsyncClient,
    credentials: Credentials,
    objects_path: str,
    filter_groups: list[dict[str, Any]],
    *,
    properties: list[str],
) -> list[Any]:
    # POST /crm/v3/objects/{object}/search answers {"total": n, "results": [{"id",
    # "properties": {...}, ...}], "paging": {...}} (search guide, "Make a search request").
    answer = await _request(
        http,
        credentials,
        "POST",
        f"{objects_path}/search",
        json={"filterGroups": filter_groups, "properties": properties, "limit": SEARCH_LIMIT},
    )
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise FarSideError(Failure.REFUSED, "HubSpot's search answer has no results list")
    return results


async def _request(
    http: httpx.AsyncClient,
    credentials: Credentials,
    method: str,
    path: str,
    *,
    json: Any = None,
    creates: bool = False,
) -> Any:
    url = (credentials.base_url or API_BASE_URL).rstrip("/") + path
    headers = {"Authorization": f"Bearer {credentials.token}", "Accept": "application/json"}
    try:
        return await call(
            http,
            method,
            url,
            headers=headers,
            json=json,
            retry_after=hubspot_retry_after,
            creates=creates,
        )
    except FarSideError as exc:
        if exc.failure is not Failure.AUTH:
            raise
        # 401: "the authentication provided is invalid"; 403: it lacks the scope the URL needs
        # (https://developers.hubspot.com/docs/api-reference/error-handling).
        reason = (
            "HubSpot refused the private app token"
            if exc.status_code == 401
            else "the private app token lacks a scope this needs"
        )
        raise FarSideError(
            Failure.AUTH, f"{reason} ({exc.message})", status_code=exc.status_code
        ) from None


def hubspot_retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait after a 429: Retry-After if HubSpot sent one; an hour for the daily
    limit; the rest of the rolling window when X-HubSpot-RateLimit-Remaining is 0; else ten
    seconds (search answers carry no rate-limit headers). Other answers: Retry-After only."""
    said = retry_after_header(response)
    if said is not None or response.status_code != 429:
        return said
    if _policy_name(response) == DAILY_POLICY:
        return DAILY_LIMIT_RETRY_SECONDS
    remaining = response.headers.get("x-hubspot-ratelimit-remaining")
    interval = response.headers.get("x-hubspot-ratelimit-interval-milliseconds")
    if remaining is not None and remaining.strip() == "0" and interval:
        try:
            return max(float(interval) / 1000.0, 0.0)
        except ValueError:
            pass
    return DEFAULT_RETRY_SECONDS


def _policy_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    policy = body.get("policyName") if isinstance(body, dict) else None
    return policy if isinstance(policy, str) else None


# -- small readers -----------------------------------------------------------------------------


def _setting(push: Push, key: str) -> Any:
    return push.mapping.get(key, DEFAULT_MAPPING[key])


def _mapped(push: Push, table: str, ours: str) -> str:
    values: Mapping[str, Any] = _setting(push, table)
    value = values.get(ours)
    if value is None:
        raise FarSideError(
            Failure.REFUSED, f"the mapping's {table} has no HubSpot value for {ours!r}"
        )
    return str(value)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return str(round(float(value), 2))


def _field(answer: Any, key: str) -> Any:
    if not isinstance(answer, dict) or answer.get(key) is None:
        raise FarSideError(Failure.REFUSED, f"HubSpot's answer has no {key}")
    return answer[key]


def _record_id(record: Any) -> str:
    return str(_field(record, "id"))


def _property(record: Any, name: str) -> str | None:
    properties = record.get("properties") if isinstance(record, dict) else None
    value = properties.get(name) if isinstance(properties, dict) else None
    return None if value is None else str(value)
