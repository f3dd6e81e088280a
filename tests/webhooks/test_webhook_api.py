"""`/api/webhooks`: subscriptions managed with a `webhooks:manage` key, validated, listed without
their secret, changed, deleted; and `ticketbot webhook add | list | remove | deliveries`."""

from __future__ import annotations

import asyncio

import pytest

from app.apikeys.scopes import Scope
from app.cli import main
from tests.api.helpers import api_client, api_key
from tests.support.server import wait_until
from tests.webhooks.helpers import delivery_log, manager, open_tickets, subscribe

URL = "https://hooks.example.com/ticketbot"


async def test_create_returns_the_secret_once(running_app):
    async with await manager(running_app) as client:
        created = await client.post(
            "/api/webhooks",
            json={
                "url": URL,
                "events": ["ticket.resolved", "ticket.created", "ticket.created"],
                "description": "CRM sync",
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
        assert body["events"] == ["ticket.created", "ticket.resolved"]
        assert body["active"] is True and body["description"] == "CRM sync"

        one = await client.get(f"/api/webhooks/{body['id']}")
        listed = await client.get("/api/webhooks")

    assert one.status_code == 200 and "secret" not in one.json()
    assert one.json()["url"] == URL
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    assert body["secret"] not in listed.text + one.text


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["ticket.created"]}, "URL"),
        ({"url": "not a url", "events": ["ticket.created"]}, "URL"),
        ({"url": "https://exa mple.com/", "events": ["ticket.created"]}, "URL"),
        ({"url": "https://example.com/\u0000", "events": ["ticket.created"]}, "NUL"),
        ({"url": "https://example.com/\u0007", "events": ["ticket.created"]}, "URL"),
        ({"url": URL, "events": ["ticket.created"], "description": "\u0000"}, "description"),
        ({"url": "https://user:pw@example.com/", "events": ["ticket.created"]}, "credentials"),
        ({"url": URL, "events": ["ticket.exploded"]}, "events[0]"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL}, "events"),
        ({"events": ["ticket.created"]}, "url"),
    ],
)
async def test_bad_subscriptions_are_422(running_app, payload, field):
    async with await manager(running_app) as client:
        answer = await client.post("/api/webhooks", json=payload)

    assert answer.status_code == 422
    assert field in answer.json()["error"]


async def test_the_scope_is_needed(running_app):
    reader = await api_key(running_app, Scope.TICKETS_READ, Scope.TICKETS_WRITE)
    admin = await api_key(running_app, Scope.ADMIN)
    async with api_client(running_app, reader) as client:
        refused = await client.post("/api/webhooks", json={"url": URL, "events": ["sla.warning"]})
        listing = await client.get("/api/webhooks")
    async with api_client(running_app) as client:
        anonymous = await client.get("/api/webhooks")
    async with api_client(running_app, admin) as client:
        allowed = await client.post("/api/webhooks", json={"url": URL, "events": ["sla.warning"]})

    assert refused.status_code == 403 and "webhooks:manage" in refused.json()["error"]
    assert listing.status_code == 403
    assert anonymous.status_code == 401
    assert allowed.status_code == 201


async def test_patch_changes_what_is_given(running_app, clock):
    webhook_id, _ = await subscribe(running_app, URL, "ticket.created")
    clock.advance(minutes=5)
    async with await manager(running_app) as client:
        disabled = await client.patch(
            f"/api/webhooks/{webhook_id}",
            json={"active": False, "events": ["csat.received", "sla.breached"]},
        )
        moved = await client.patch(
            f"/api/webhooks/{webhook_id}", json={"url": "http://10.0.0.5:8080/in", "active": True}
        )
        bad = await client.patch(f"/api/webhooks/{webhook_id}", json={"events": ["nope"]})
        unknown_field = await client.patch(f"/api/webhooks/{webhook_id}", json={"secret": "x"})
        missing = await client.patch("/api/webhooks/999", json={"active": False})

    assert disabled.status_code == 200
    assert disabled.json()["active"] is False
    assert disabled.json()["disabled_at"] == "2026-01-05T09:05:00Z"
    assert disabled.json()["events"] == ["sla.breached", "csat.received"]
    assert moved.json()["url"] == "http://10.0.0.5:8080/in"
    assert moved.json()["active"] is True and moved.json()["disabled_at"] is None
    assert bad.status_code == 422 and unknown_field.status_code == 422
    assert missing.status_code == 404


async def test_delete(running_app):
    webhook_id, _ = await subscribe(running_app, URL)
    async with await manager(running_app) as client:
        deleted = await client.delete(f"/api/webhooks/{webhook_id}")
        again = await client.delete(f"/api/webhooks/{webhook_id}")
        gone = await client.get(f"/api/webhooks/{webhook_id}")
        log = await client.get(f"/api/webhooks/{webhook_id}/deliveries")

    assert deleted.status_code == 204
    assert again.status_code == 404 and gone.status_code == 404 and log.status_code == 404


async def test_ids_out_of_range_are_422_not_500(running_app):
    webhook_id, _ = await subscribe(running_app, URL)
    async with await manager(running_app) as client:
        huge_webhook = await client.get("/api/webhooks/72224044663")
        huge_delivery = await client.post(
            f"/api/webhooks/{webhook_id}/deliveries/99999999999999999999/redeliver"
        )
        huge_cursor = await client.get(
            f"/api/webhooks/{webhook_id}/deliveries?cursor=99999999999999999999"
        )
        zero = await client.delete("/api/webhooks/0")

    assert huge_webhook.status_code == 422 and huge_delivery.status_code == 422
    assert huge_cursor.status_code == 422 and "cursor" in huge_cursor.json()["error"]
    assert zero.status_code == 422


async def test_the_deliveries_of_another_webhook_are_not_found(running_app, receiver):
    first, _ = await subscribe(running_app, receiver.url)
    second, _ = await subscribe(running_app, receiver.url)
    async with await manager(running_app) as client:
        empty = await client.get(f"/api/webhooks/{second}/deliveries")
        redeliver = await client.post(f"/api/webhooks/{first}/deliveries/12345/redeliver")

    assert empty.status_code == 200 and empty.json() == {"items": [], "next_cursor": None}
    assert redeliver.status_code == 404
    assert await delivery_log(running_app) == []


async def test_openapi_documents_the_webhook_endpoints(running_app):
    async with api_client(running_app) as client:
        spec = (await client.get("/openapi.json")).json()

    assert {
        "/api/webhooks",
        "/api/webhooks/{webhook_id}",
        "/api/webhooks/{webhook_id}/deliveries",
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "/webhooks/inbound/{source}",
    } <= set(spec["paths"])
    inbound = spec["paths"]["/webhooks/inbound/{source}"]["post"]
    assert {"200", "201", "401", "404", "413", "422"} <= set(inbound["responses"])
    body = inbound["requestBody"]["content"]["application/json"]["schema"]
    assert {"external_id", "subject", "requester"} <= set(body["properties"])
    assert "$ref" not in str(body)


# -- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, tmp_path, database_url, capsys):
    """`ticketbot ...` in-process (in a thread: it runs its own event loop), DATABASE_URL only."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def ticketbot(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return ticketbot


async def test_cli_add_list_remove(running_app, cli):
    code, out, err = await cli(
        "webhook", "add", URL, "--event", "ticket.created,ticket.resolved", "--event",
        "sla.breached", "--description", "pager",
    )  # fmt: skip

    assert code == 0, err
    *info, secret = out.strip().splitlines()
    assert secret.startswith("whsec_") and " " not in secret
    assert all(secret not in line for line in info)
    assert any(URL in line for line in info)

    code, listed, _ = await cli("webhook", "list")
    assert code == 0
    header, row = listed.strip().splitlines()
    assert header.split()[:4] == ["ID", "URL", "EVENTS", "STATE"]
    assert URL in row and "ticket.created,ticket.resolved,sla.breached" in row
    assert "active" in row and "pager" in row and secret not in listed
    webhook_id = row.split()[0]

    async with await manager(running_app) as client:
        seen = await client.get(f"/api/webhooks/{webhook_id}")
    assert seen.json()["description"] == "pager"

    code, out, _ = await cli("webhook", "deliveries", webhook_id)
    assert code == 0 and "Nothing sent" in out

    code, out, _ = await cli("webhook", "remove", webhook_id)
    assert code == 0 and f"Removed webhook {webhook_id}" in out
    code, out, err = await cli("webhook", "remove", webhook_id)
    assert code == 1 and "does not exist" in err
    code, out, err = await cli("webhook", "remove", "72224044663")
    assert code == 1 and "does not exist" in err
    code, out, _ = await cli("webhook", "list")
    assert "No webhooks yet" in out


async def test_cli_shows_the_delivery_log(running_app, cli, receiver):
    webhook_id, _ = await subscribe(running_app, receiver.url, "ticket.created")
    receiver.answer_next(404, body="no such hook")
    await open_tickets(running_app, 1)
    await wait_until(
        lambda: _if(delivery_log(running_app), lambda log: log[0].attempts), message="attempt"
    )

    code, out, _ = await cli("webhook", "deliveries", str(webhook_id))

    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split()[:6] == ["ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS", "CODE"]
    assert row.split()[2:6] == ["ticket.created", "failed", "1", "404"]
    assert "receiver answered 404: no such hook" in row


async def _if(rows_awaitable, predicate):
    rows = await rows_awaitable
    return rows if rows and predicate(rows) else None


async def test_cli_refuses_unknown_events(running_app, cli):
    code, out, err = await cli("webhook", "add", URL, "--event", "ticket.exploded")

    assert code == 1
    assert "Unknown event type 'ticket.exploded'" in err and out == ""
