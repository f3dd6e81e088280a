"""Accounts: health and its reasons, trend, tickets, CSAT and NPS, owner and renewal; the
at-risk list; and the consented testimonials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.accounts.queries import account_names, list_accounts
from app.accounts.scoring import HealthPolicy, at_risk_accounts
from app.accounts.testimonials import consented, testimonial_data
from app.accounts.views import account_detail, account_reads
from app.charts import CURRENT, Chart, Series, svgs
from app.errors import DomainError
from app.reports.exports import CsvLines
from app.web.deps import Page
from app.web.templating import render

router = APIRouter(prefix="/web", include_in_schema=False)

LISTED = 200
ACCOUNT_COLUMNS = ("id", "name", "owner", "tier", "renewal_on", "health_score", "at_risk")
TESTIMONIAL_COLUMNS = ("account", "person", "anonymous", "quote", "source", "consented_at")


@router.get("/accounts")
async def accounts_page(
    request: Request, page: Page, at_risk: Annotated[bool, Query()] = False
) -> Response:
    policy = HealthPolicy.from_settings(page.settings)
    async with page.db.begin():
        if at_risk:
            listed = await at_risk_accounts(
                session=page.db, workspace_id=page.workspace_id, policy=policy, limit=LISTED
            )
        else:
            listed = await list_accounts(
                session=page.db, workspace_id=page.workspace_id, limit=LISTED
            )
        accounts = await account_reads(session=page.db, listed=listed, policy=policy)
    return render(request, "accounts.html", page, accounts=accounts, at_risk=at_risk, policy=policy)


@router.get("/accounts.csv")
async def accounts_csv(page: Page) -> Response:
    policy = HealthPolicy.from_settings(page.settings)
    lines = CsvLines(ACCOUNT_COLUMNS)

    async def body() -> AsyncIterator[str]:
        yield lines.header
        after: int | None = None
        while True:
            async with page.runtime.session_factory() as db, db.begin():
                listed = await list_accounts(
                    session=db, workspace_id=page.workspace_id, limit=LISTED, after_id=after
                )
                reads = await account_reads(session=db, listed=listed, policy=policy)
            yield lines.rows(
                (a.id, a.name, a.owner, a.tier, a.renewal_on, a.health_score, a.at_risk)
                for a in reads
            )
            if len(listed) < LISTED:
                return
            after = listed[-1].id

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )


@router.get("/accounts/{account_id}")
async def account_page(
    request: Request, page: Page, account_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    policy = HealthPolicy.from_settings(page.settings)
    async with page.db.begin():
        try:
            detail = await account_detail(
                session=page.db,
                workspace_id=page.workspace_id,
                account_id=account_id,
                policy=policy,
                now=page.clock.now(),
            )
        except DomainError as exc:
            return render(request, "missing.html", page, 404, message=exc.render(str))
    days = list(reversed(detail.health_history))  # oldest first
    chart = Chart(
        title="Health score",
        labels=[day.day.strftime("%m-%d") for day in days],
        series=[Series("Score", [day.score for day in days], "line", CURRENT)],
        y_label="score",
        y_range=(0, 100),
    )
    latest = detail.health_history[0] if detail.health_history else None
    return render(
        request,
        "account.html",
        page,
        account=detail,
        latest=latest,
        chart=chart,
        chart_svg=(await svgs([chart], height=2.6))[0] if days else None,
    )


@router.get("/testimonials")
async def testimonials_page(request: Request, page: Page) -> Response:
    async with page.db.begin():
        rows = await _testimonials(page)
    return render(request, "testimonials.html", page, testimonials=rows)


@router.get("/testimonials.csv")
async def testimonials_csv(page: Page) -> Response:
    async with page.db.begin():
        rows = await _testimonials(page)
    lines = CsvLines(TESTIMONIAL_COLUMNS)
    body = lines.header + lines.rows(
        [row[column] for column in TESTIMONIAL_COLUMNS] for row in rows
    )
    return StreamingResponse(
        iter([body]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="testimonials.csv"'},
    )


async def _testimonials(page: Page) -> list[dict[str, object]]:
    found = await consented(session=page.db, workspace_id=page.workspace_id)
    names = await account_names(
        session=page.db, account_ids=[t.account_id for t in found if t.account_id is not None]
    )
    return [{**testimonial_data(t), "account": names.get(t.account_id or 0)} for t in found]
