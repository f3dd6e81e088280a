"""`/api/testimonials`: the customer quotes that may be used, as JSON or CSV. Only quotes with
consent given and not withdrawn are ever read here; anonymous ones without the person."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.accounts.queries import account_names
from app.accounts.testimonials import consented, testimonial_data
from app.api.deps import ApiContext, require_scope
from app.api.errors import error_responses
from app.apikeys.scopes import Scope
from app.reports.exports import spreadsheet_safe

router = APIRouter(
    prefix="/api/testimonials",
    tags=["testimonials"],
    responses=error_responses(401, 403, 413, 422, 503),
)

Reader = Annotated[ApiContext, Depends(require_scope(Scope.ACCOUNTS_READ))]
AccountFilter = Annotated[
    int | None, Query(description="Only this account's quotes.", ge=1, le=2**31 - 1)
]
COLUMNS = (
    "id",
    "account",
    "person",
    "anonymous",
    "quote",
    "source",
    "consent_wording",
    "consented_at",
)


class TestimonialRead(BaseModel):
    id: int
    account_id: int | None
    account: str | None = Field(description="The account's name.")
    person: str | None = Field(description="Slack user id; null when quoted anonymously.")
    anonymous: bool
    quote: str
    source: str = Field(description="`csat` (a 5/5 comment) or `nps` (a 9-10 reason).")
    consent_wording: str = Field(description="What the person agreed to, word for word.")
    consented_at: str | None


class TestimonialList(BaseModel):
    items: list[TestimonialRead]


async def _rows(api: ApiContext, account_id: int | None) -> list[dict[str, Any]]:
    async with api.session.begin():
        found = await consented(
            session=api.session, workspace_id=api.workspace_id, account_id=account_id
        )
        names = await account_names(
            session=api.session,
            account_ids=[t.account_id for t in found if t.account_id is not None],
        )
    return [{**testimonial_data(t), "account": names.get(t.account_id or 0)} for t in found]


@router.get(
    "",
    summary="Quotes customers agreed to",
    response_model=TestimonialList,
    operation_id="listTestimonials",
)
async def list_testimonials(api: Reader, account: AccountFilter = None) -> TestimonialList:
    return TestimonialList(items=[TestimonialRead(**row) for row in await _rows(api, account)])


@router.get(
    ".csv",
    summary="The same quotes as a CSV file",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One quote a row."}},
    operation_id="exportTestimonials",
)
async def export_testimonials(api: Reader, account: AccountFilter = None) -> StreamingResponse:
    rows = await _rows(api, account)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([spreadsheet_safe(row[column]) for column in COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="testimonials.csv"'},
    )
