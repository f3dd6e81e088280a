"""Every /api/* request carries an API key with the scope it needs (real HTTP, both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from app.apikeys.models import ApiKey
from app.apikeys.scopes import Scope
from app.apikeys.service import revoke_api_key
from app.workspaces.models import Workspace
from tests.api.helpers import api_client, api_key


def assert_unauthenticated(answer, words: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    assert words in answer.json()["error"]
    assert answer.json()["code"] == "not_authenticated"
    assert set(answer.json()) == {"error", "code"}


async def test_a_request_without_a_key_is_refused(running_app):
    async with api_client(running_app) as client:
        answer = await client.get("/api/tickets")

    assert_unauthenticated(answer, "Missing API key")


@pytest.mark.parametrize(
    "header,words",
    [
        ("Basic dXNlcjpwYXNz", "Malformed Authorization header"),
        ("Bearer", "Malformed Authorization header"),
        ("Bearer not-a-key", "malformed"),
        ("Bearer tb_short_secret", "malformed"),
        ("Bearer tb_abcd1234_wrongsecret", "not valid"),
    ],
)
async def test_a_malformed_or_unknown_key_is_refused(running_app, header, words):
    await api_key(running_app, Scope.ADMIN)
    async with api_client(running_app) as client:
        answer = await client.get("/api/tickets", headers={"Authorization": header})

    assert_unauthenticated(answer, words)


async def test_a_known_prefix_with_a_wrong_secret_is_refused(running_app):
    key = await api_key(running_app, Scope.ADMIN)
    forged = key[: key.rindex("_") + 1] + "A" * 43

    async with api_client(running_app, forged) as client:
        answer = await client.get("/api/tickets")

    assert_unauthenticated(answer, "not valid")


async def test_a_revoked_key_is_refused(running_app):
    key = await api_key(running_app, Scope.TICKETS_READ)
    async with api_client(running_app, key) as client:
        assert (await client.get("/api/tickets")).status_code == 200
        async with running_app.runtime.session_factory() as session, session.begin():
            await revoke_api_key(session=session, ref=key, now=running_app.clock.now())

        answer = await client.get("/api/tickets")

    assert_unauthenticated(answer, "was revoked")


async def test_a_key_without_the_scope_is_forbidden_and_told_which(running_app):
    key = await api_key(running_app, Scope.METRICS_READ, Scope.WEBHOOKS_MANAGE)
    async with api_client(running_app, key) as client:
        read = await client.get("/api/tickets")
        reader_key = await api_key(running_app, Scope.TICKETS_READ)
        client.headers["Authorization"] = f"Bearer {reader_key}"
        write = await client.post("/api/tickets/1/notes", json={"text": "hi"})

    assert read.status_code == 403
    assert read.json() == {
        "error": "This API key lacks the tickets:read scope needed here.",
        "code": "not_allowed",
    }
    assert write.status_code == 403
    assert "tickets:write" in write.json()["error"]


async def test_admin_implies_every_scope(running_app):
    key = await api_key(running_app, Scope.ADMIN)
    async with api_client(running_app, key) as client:
        listed = await client.get("/api/tickets")
        missing = await client.post("/api/tickets/7/notes", json={"text": "hi"})

    assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}
    assert missing.status_code == 404  # past the scope check, to the ticket lookup


async def test_use_is_recorded_on_the_key(running_app, clock):
    key = await api_key(running_app, Scope.TICKETS_READ)
    clock.advance(minutes=5)
    async with api_client(running_app, key) as client:
        assert (await client.get("/api/tickets")).status_code == 200

    async with running_app.runtime.session_factory() as session:
        stored = await session.scalar(select(ApiKey))
    assert stored.last_used_at == clock.now()
    assert key not in (stored.key_hash, stored.prefix)  # the key itself is never stored


async def test_no_workspace_yet_is_503(running_app):
    key = await api_key(running_app, Scope.TICKETS_READ)
    async with running_app.runtime.session_factory() as session, session.begin():
        await session.execute(delete(Workspace))

    async with api_client(running_app, key) as client:
        answer = await client.get("/api/tickets")

    assert answer.status_code == 503
    assert "Slack workspace" in answer.json()["error"]


async def test_openapi_documents_the_api(running_app):
    async with api_client(running_app) as client:
        spec = (await client.get("/openapi.json")).json()

    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert set(spec["paths"]) >= {
        "/api/tickets",
        "/api/tickets/{number}",
        "/api/tickets/{number}/notes",
    }
    patch = spec["paths"]["/api/tickets/{number}"]["patch"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(patch["responses"])
    assert spec["components"]["schemas"]["TicketUpdate"]["examples"]
