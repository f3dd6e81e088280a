"""`/api/accounts`: customer accounts, with their health and why, through the same services as
`/ticket account` in Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from app.accounts import service as accounts
from app.accounts.churn import churn_report
from app.accounts.enums import LinkKind
from app.accounts.models import Account
from app.accounts.queries import list_accounts
from app.accounts.schemas import (
    AccountCreate,
    AccountDetail,
    AccountPage,
    AccountRead,
    AccountUpdate,
    ChurnRead,
    ChurnWarning,
)
from app.accounts.scoring import (
    HealthPolicy,
    at_risk_accounts,
)
from app.accounts.views import account_detail, account_reads
from app.api.deps import ApiContext, require_scope, runtime_of
from app.api.errors import ApiError, error_responses
from app.apikeys.scopes import Scope

router = APIRouter(
    prefix="/api/accounts",
    tags=["accounts"],
    responses=error_responses(401, 403, 413, 422, 503),
)

Reader = Annotated[ApiContext, Depends(require_scope(Scope.ACCOUNTS_READ))]
Writer = Annotated[ApiContext, Depends(require_scope(Scope.ACCOUNTS_WRITE))]
AccountId = Annotated[int, Path(description="The account's id.", examples=[7], ge=1, le=2**31 - 1)]
PAGE_SIZE = 100
MAX_ID = 2**31 - 1
RECENT_TICKETS = 20


def _policy(request: Request) -> HealthPolicy:
    return HealthPolicy.from_settings(runtime_of(request).settings)


async def _reads(api: ApiContext, listed: list[Account], policy: HealthPolicy) -> list[AccountRead]:
    return await account_reads(session=api.session, listed=listed, policy=policy)


@router.get(
    "",
    summary="List accounts by name, or those at risk (least healthy first)",
    response_model=AccountPage,
    operation_id="listAccounts",
)
async def list_account_page(
    api: Reader,
    request: Request,
    at_risk: Annotated[
        bool, Query(description="Only accounts under the at-risk line or falling fast.")
    ] = False,
    owner: Annotated[str | None, Query(description="Slack user id of the owner.")] = None,
    include_churned: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE)] = PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.", max_length=20)
    ] = None,
) -> AccountPage:
    policy = _policy(request)
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_ID):
        raise ApiError(422, "cursor is not valid; pass the next_cursor of a previous page.")
    async with api.session.begin():
        if at_risk:  # the least healthy first; the cursor counts the accounts already shown
            skip = int(cursor) if cursor else 0
            risky = await at_risk_accounts(
                session=api.session,
                workspace_id=api.workspace_id,
                policy=policy,
                limit=limit + 1,
                offset=skip,
                owner_user_id=owner,
            )
            more = len(risky) > limit
            items = await _reads(api, risky[:limit], policy)
            return AccountPage(items=items, next_cursor=str(skip + limit) if more else None)
        listed = await list_accounts(
            session=api.session,
            workspace_id=api.workspace_id,
            include_churned=include_churned,
            owner_user_id=owner,
            limit=limit + 1,
            after_id=int(cursor) if cursor else None,
        )
        more = len(listed) > limit
        listed = listed[:limit]
        items = await _reads(api, listed, policy)
    return AccountPage(items=items, next_cursor=str(listed[-1].id) if more else None)


@router.get(
    "/churn",
    summary="Accounts lost in a period, and how well their health score warned of it",
    response_model=ChurnRead,
    operation_id="getChurn",
)
async def read_churn(
    api: Reader,
    request: Request,
    from_: Annotated[
        datetime | None, Query(alias="from", description="Start (ISO 8601); default 90 days ago.")
    ] = None,
    to: Annotated[datetime | None, Query(description="End, exclusive; default now.")] = None,
) -> ChurnRead:
    until = _utc(to) if to else api.clock.now()
    since = _utc(from_) if from_ else until - timedelta(days=90)
    if since >= until:
        raise ApiError(422, "`from` must be before `to`.")
    policy = _policy(request)
    async with api.session.begin():
        report = await churn_report(
            session=api.session,
            workspace_id=api.workspace_id,
            since=since,
            until=until,
            at_risk_below=policy.at_risk_below,
        )
    return ChurnRead(
        since=since,
        until=until,
        active_at_start=report.active_at_start,
        churned=len(report.churned),
        churn_rate=report.churn_rate,
        churned_accounts=sorted(account.name for account in report.churned),
        warnings=[
            ChurnWarning(
                days_before=w.days,
                churned_average_score=w.churned_average,
                churned_with_a_score=len(w.churned_scores),
                churned_at_risk=w.churned_at_risk,
                stayed_average_score=w.stayed_average,
                stayed_with_a_score=len(w.stayed_scores),
            )
            for w in report.warned
        ],
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get(
    "/{account_id}",
    summary="One account with its health history and reasons, tickets and CSAT",
    response_model=AccountDetail,
    responses=error_responses(404),
    operation_id="getAccount",
)
async def read_account(account_id: AccountId, api: Reader, request: Request) -> AccountDetail:
    async with api.session.begin():
        return await _detail(api, account_id, _policy(request))


async def _detail(api: ApiContext, account_id: int, policy: HealthPolicy) -> AccountDetail:
    return await account_detail(
        session=api.session,
        workspace_id=api.workspace_id,
        account_id=account_id,
        policy=policy,
        now=api.clock.now(),
    )


@router.post(
    "",
    summary="Add an account, with its channels and email domains",
    response_model=AccountDetail,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
    operation_id="createAccount",
)
async def create_account(body: AccountCreate, api: Writer, request: Request) -> AccountDetail:
    now = api.clock.now()
    async with api.session.begin():
        account = await accounts.create_account(
            session=api.session,
            workspace_id=api.workspace_id,
            name=body.name,
            now=now,
            created_by=api.actor.id,
        )
        await accounts.change_account(
            session=api.session,
            account=account,
            changes=accounts.AccountChanges(
                owner_user_id=body.owner,
                tier=body.tier,
                renewal_on=body.renewal_on,
                annual_revenue=body.annual_revenue,
                crm_ids=body.crm_ids,
            ),
            now=now,
        )
        for channel in body.channels:
            await accounts.link(
                session=api.session, account=account, kind=LinkKind.CHANNEL, key=channel, now=now
            )
        for domain in body.domains:
            await accounts.link(
                session=api.session, account=account, kind=LinkKind.DOMAIN, key=domain, now=now
            )
        return await _detail(api, account.id, _policy(request))


@router.patch(
    "/{account_id}",
    summary="Change an account: owner, tier, renewal, revenue, CRM ids, churn, mappings",
    response_model=AccountDetail,
    responses=error_responses(404, 409),
    operation_id="updateAccount",
)
async def update_account(
    account_id: AccountId, body: AccountUpdate, api: Writer, request: Request
) -> AccountDetail:
    now = api.clock.now()
    given = body.model_fields_set
    async with api.session.begin():
        account = await accounts.find_account(
            session=api.session, workspace_id=api.workspace_id, account_id=account_id
        )
        await accounts.change_account(
            session=api.session,
            account=account,
            changes=accounts.AccountChanges(
                name=body.name if "name" in given else ...,
                owner_user_id=body.owner if "owner" in given else ...,
                tier=body.tier if "tier" in given else ...,
                renewal_on=body.renewal_on if "renewal_on" in given else ...,
                annual_revenue=body.annual_revenue if "annual_revenue" in given else ...,
                crm_ids=body.crm_ids if body.crm_ids is not None else ...,
                churned=body.churned if body.churned is not None else ...,
            ),
            now=now,
        )
        for kind, added, removed in (
            (LinkKind.CHANNEL, body.add_channels, body.remove_channels),
            (LinkKind.DOMAIN, body.add_domains, body.remove_domains),
        ):
            for key in added:
                await accounts.link(
                    session=api.session, account=account, kind=kind, key=key, now=now
                )
            for key in removed:
                await accounts.unlink(session=api.session, account=account, kind=kind, key=key)
        return await _detail(api, account.id, _policy(request))
