"""GET /api/metrics through the running app, on SQLite and PostgreSQL: exact numbers for a
hand-counted dataset (tests/reports/dataset.py), each grouping, the default period, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.apikeys.scopes import Scope
from app.workspaces.models import Workspace
from tests.api.helpers import api_client, api_key
from tests.reports import dataset

PERIOD = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-07T00:00:00Z"}


async def seed(app) -> None:
    async with app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        await dataset.seed(session, workspace_id)


async def metrics_client(app):
    return api_client(app, await api_key(app, Scope.METRICS_READ, name="metrics"))


@pytest.mark.parametrize(
    "group_by,expected",
    [
        ("day", dataset.BY_DAY),
        ("channel", dataset.BY_CHANNEL),
        ("agent", dataset.BY_AGENT),
        ("account", dataset.BY_ACCOUNT),
    ],
)
async def test_metrics_by_each_grouping(running_app, group_by, expected):
    await seed(running_app)
    async with await metrics_client(running_app) as client:
        answer = await client.get("/api/metrics", params={**PERIOD, "group_by": group_by})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"], body["group_by"], body["time_zone"]) == (
        "2026-01-05T00:00:00Z",
        "2026-01-07T00:00:00Z",
        group_by,
        "UTC",
    )
    assert body["totals"] == dataset.TOTALS
    assert body["groups"] == expected


async def test_by_day_is_the_default_and_the_period_the_last_30_days(running_app, clock):
    await seed(running_app)
    clock.set(dataset.at(7, 0) + timedelta(days=29))
    async with await metrics_client(running_app) as client:
        answer = await client.get("/api/metrics")

    body = answer.json()
    assert answer.status_code == 200, answer.text
    assert body["group_by"] == "day"
    assert (body["from"], body["to"]) == ("2026-01-06T00:00:00Z", "2026-02-05T00:00:00Z")
    assert len(body["groups"]) == 30
    assert body["groups"][0] == dataset.BY_DAY[1]  # 2026-01-06
    assert body["totals"]["opened"] == 3


async def test_only_from_counts_up_to_now_and_a_zone_is_honoured(running_app, clock):
    await seed(running_app)
    clock.set(dataset.at(6, 0))
    async with await metrics_client(running_app) as client:
        answer = await client.get(
            "/api/metrics", params={"from": "2026-01-05T01:00:00+01:00", "group_by": "channel"}
        )

    body = answer.json()
    assert answer.status_code == 200, answer.text
    assert (body["from"], body["to"]) == ("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z")
    assert body["totals"]["opened"] == 3


@pytest.mark.parametrize(
    "params,field,words",
    [
        ({"group_by": "week"}, "group_by", "Input should be 'day', 'channel', 'agent' or"),
        ({"from": "yesterday"}, "from", "valid datetime"),
        ({"to": "2026-13-01"}, "to", "valid datetime"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(running_app, params, field, words):
    async with await metrics_client(running_app) as client:
        answer = await client.get("/api/metrics", params=params)

    assert answer.status_code == 422
    body = answer.json()
    assert body["details"][0]["field"] == field
    assert words in body["error"]


@pytest.mark.parametrize(
    "params,words",
    [
        ({"from": "2026-01-07T00:00:00Z", "to": "2026-01-05T00:00:00Z"}, "earlier than to"),
        ({"from": "2026-01-05T00:00:00Z", "to": "2026-01-05T00:00:00Z"}, "earlier than to"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-01-05T00:00:00Z"}, "at most 366 days"),
    ],
)
async def test_unusable_periods_are_422(running_app, params, words):
    async with await metrics_client(running_app) as client:
        answer = await client.get("/api/metrics", params=params)

    assert answer.status_code == 422
    assert words in answer.json()["error"]


async def test_a_year_and_a_day_is_allowed(running_app):
    async with await metrics_client(running_app) as client:
        answer = await client.get(
            "/api/metrics",
            params={"from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
        )

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["groups"]) == 366


async def test_metrics_need_the_metrics_read_scope(running_app):
    reader_key = await api_key(running_app, Scope.TICKETS_READ, Scope.TICKETS_WRITE)
    admin_key = await api_key(running_app, Scope.ADMIN)
    async with api_client(running_app) as anonymous:
        missing = await anonymous.get("/api/metrics")
    async with api_client(running_app, reader_key) as reader:
        forbidden = await reader.get("/api/metrics")
    async with api_client(running_app, admin_key) as admin:
        allowed = await admin.get("/api/metrics", params=PERIOD)

    assert missing.status_code == 401
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": "This API key lacks the metrics:read scope needed here.",
        "code": "not_allowed",
    }
    assert allowed.status_code == 200


async def test_openapi_documents_the_metrics(running_app):
    async with api_client(running_app) as client:
        spec = (await client.get("/openapi.json")).json()

    operation = spec["paths"]["/api/metrics"]["get"]
    assert operation["operationId"] == "getMetrics"
    assert {"401", "403", "422"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "group_by"}
