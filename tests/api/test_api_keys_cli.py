"""`ticketbot apikey create | list | revoke`, against the same database the running app uses."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from app.apikeys.models import ApiKey
from app.cli import main
from tests.api.helpers import api_client
from tests.test_cli import clean_environment, run


@pytest.fixture
def cli(monkeypatch, tmp_path, database_url, capsys):
    """Runs `ticketbot ...` in-process (in a thread: it runs its own event loop) with only
    DATABASE_URL set, as an operator would; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def ticketbot(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return ticketbot


async def test_create_prints_the_key_once_alone_on_the_last_line(running_app, cli):
    code, out, err = await cli("apikey", "create", "status page", "--scope", "tickets:read")

    assert code == 0, err
    *info, key = out.strip().splitlines()
    assert key.startswith("tb_") and " " not in key
    prefix = "_".join(key.split("_")[:2])
    assert any(prefix in line and "status page" in line for line in info)
    assert all(key not in line for line in info)
    async with api_client(running_app, key) as client:
        assert (await client.get("/api/tickets")).status_code == 200
        assert (await client.patch("/api/tickets/1", json={"status": "open"})).status_code == 403


async def test_scopes_repeat_or_comma_separate_and_default_to_read(running_app, cli):
    await cli(
        "apikey", "create", "sync", "--scope", "tickets:read,tickets:write", "--scope", "admin"
    )
    await cli("apikey", "create", "dashboard")

    async with running_app.runtime.session_factory() as session:
        keys = list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))
    assert [k.scopes for k in keys] == [
        ["tickets:read", "tickets:write", "admin"],
        ["tickets:read"],
    ]


async def test_list_shows_keys_without_secrets(running_app, cli):
    _, created, _ = await cli("apikey", "create", "ops", "--scope", "metrics:read")
    key = created.strip().splitlines()[-1]
    async with api_client(running_app, key) as client:
        await client.get("/api/tickets")  # 403, but the key was used

    code, out, _ = await cli("apikey", "list")

    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split() == ["PREFIX", "NAME", "SCOPES", "CREATED", "LAST", "USED", "REVOKED"]
    assert row.startswith("_".join(key.split("_")[:2]))
    assert "ops" in row and "metrics:read" in row and row.endswith("-")
    assert key.split("_", 2)[2] not in out


async def test_revoke_by_prefix_shuts_the_key_out(running_app, cli):
    _, created, _ = await cli("apikey", "create", "old", "--scope", "admin")
    key = created.strip().splitlines()[-1]
    prefix = "_".join(key.split("_")[:2])

    code, out, _ = await cli("apikey", "revoke", prefix)

    assert code == 0 and f"Revoked API key {prefix} (old)" in out
    async with api_client(running_app, key) as client:
        answer = await client.get("/api/tickets")
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]
    _, listed, _ = await cli("apikey", "list")
    assert not listed.strip().splitlines()[1].endswith("-")  # shows when it was revoked


async def test_revoke_by_id_and_unknown_key(running_app, cli):
    await cli("apikey", "create", "first")

    assert (await cli("apikey", "revoke", "1"))[0] == 0
    code, out, err = await cli("apikey", "revoke", "tb_zzzzzzzz")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == ["ticketbot: No API key 'tb_zzzzzzzz'."]


async def test_unknown_scope_is_one_line_and_exit_2(running_app, cli):
    code, out, err = await cli("apikey", "create", "x", "--scope", "tickets:read,tickets:delete")

    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("ticketbot: unknown scope 'tickets:delete'; choose from tickets:read")
    async with running_app.runtime.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 0


async def test_the_installed_command_needs_only_the_database(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    env = clean_environment(DATABASE_URL=database)
    assert (await run(["migrate"], tmp_path, env))[0] == 0

    code, out, err = await run(["apikey", "create", "ci", "--scope", "admin"], tmp_path, env)
    listed = await run(["apikey", "list"], tmp_path, env)
    unmigrated = await run(
        ["apikey", "list"],
        tmp_path,
        clean_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"),
    )

    assert code == 0, err
    assert out.splitlines()[-1].startswith("tb_")
    assert listed[0] == 0 and "ci" in listed[1]
    assert unmigrated[0] == 1
    [line] = unmigrated[2].strip().splitlines()
    assert "no such table: api_keys" in line and "ticketbot migrate" in line
