"""The `ticketbot` command as a user runs it: a real process, real environment variables."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db import create_engine, create_session_factory
from app.inbox.models import SlackEvent
from app.slack_emulator import SlackEmulator, SlackSender, message_event
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.support.server import wait_until

SETTING_NAMES = (
    "DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "SUPPORT_LEADS",
    "TRIAGE_CHANNEL_ID",
    "SCHEDULER_INTERVAL_SECONDS",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


def ticketbot_command() -> list[str]:
    script = Path(sys.executable).with_name("ticketbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def clean_environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SETTING_NAMES}
    env.update(settings)
    return env


async def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *ticketbot_command(),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, stdout.decode(), stderr.decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_missing_settings_stop_serve_with_one_line(tmp_path):
    code, _, stderr = await run(["serve"], tmp_path, clean_environment())

    assert code == 2
    assert stderr.strip().splitlines() == [
        "ticketbot: configuration error: SLACK_BOT_TOKEN is not set; "
        "SLACK_SIGNING_SECRET is not set"
    ]


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("SCHEDULER_INTERVAL_SECONDS", "soon", "SCHEDULER_INTERVAL_SECONDS is invalid"),
        ("SUPPORT_LEADS", "alice,U123", "SUPPORT_LEADS is invalid: 'alice' is not a Slack user id"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL is invalid: must start with sqlite+aiosqlite"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT is invalid"),
    ],
)
async def test_malformed_setting_is_named(tmp_path, name, value, expected):
    env = clean_environment(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", **{name: value})

    code, _, stderr = await run(["serve"], tmp_path, env)

    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], stderr


async def test_refused_token_stops_serve_with_one_line(tmp_path, emulator):
    env = clean_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tb.db'}",
        SLACK_BOT_TOKEN="xoxb-wrong",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=emulator.api_url,
        LOG_LEVEL="ERROR",
    )

    code, _, stderr = await run(["serve"], tmp_path, env)

    assert code == 1
    assert stderr.strip().splitlines()[-1] == (
        "ticketbot: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"
    )


async def test_refused_app_token_stops_serve_with_one_line(tmp_path, emulator):
    env = clean_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tb.db'}",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="s",
        SLACK_APP_TOKEN="xapp-1-A0001-wrong",
        SLACK_API_URL=emulator.api_url,
        LOG_LEVEL="ERROR",
    )

    code, _, stderr = await run(["serve", "--port", str(free_port())], tmp_path, env)

    assert code == 1
    assert stderr.strip().splitlines()[-1] == (
        "ticketbot: SLACK_APP_TOKEN was refused by Slack (invalid_auth); it must be an"
        " app-level token (xapp-...) with the connections:write scope"
    )


@pytest.mark.parametrize(
    "extra,arguments,expected",
    [
        (
            {},
            ["--socket-mode"],
            "ticketbot: configuration error: SLACK_SOCKET_MODE needs SLACK_APP_TOKEN (an"
            " app-level token, xapp-..., with the connections:write scope)",
        ),
        (
            {"SLACK_APP_TOKEN": "xoxb-a-bot-token"},
            [],
            "ticketbot: configuration error: SLACK_APP_TOKEN is invalid: must be an app-level"
            " token (xapp-...), made under Basic Information > App-Level Tokens with the"
            " connections:write scope",
        ),
    ],
)
async def test_socket_mode_settings_are_checked_in_one_line(tmp_path, extra, arguments, expected):
    env = clean_environment(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", **extra)

    code, _, stderr = await run(["serve", *arguments], tmp_path, env)

    assert code == 2
    assert stderr.strip().splitlines() == [expected]


async def test_migrate_needs_only_the_database(tmp_path):
    database = tmp_path / "fresh.db"
    env = clean_environment(DATABASE_URL=f"sqlite+aiosqlite:///{database}")

    code, _, stderr = await run(["migrate"], tmp_path, env)

    assert code == 0, stderr
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with create_session_factory(engine)() as session:
            assert (await session.scalars(select(SlackEvent))).all() == []
    finally:
        await engine.dispose()


async def serve_with_dotenv(tmp_path: Path, settings: dict[str, str]) -> tuple[Any, str]:
    """`ticketbot serve` on a free local port, its settings in a .env file in its directory as
    the README sets it up (the environment itself clean). (process, base URL)"""
    port = free_port()
    (tmp_path / ".env").write_text(
        "".join(f"{name}={value}\n" for name, value in {**settings, "LOG_FORMAT": "json"}.items())
    )
    process = await asyncio.create_subprocess_exec(
        *ticketbot_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=tmp_path,
        env=clean_environment(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return process, f"http://127.0.0.1:{port}"


async def event_ids(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.scalars(select(SlackEvent.event_id))).all())
    finally:
        await engine.dispose()


async def test_serve_answers_health_and_signed_slack_events(tmp_path, database_url):
    """The README's run command, end to end: a process on a port, a .env file, real requests."""
    emulator = SlackEmulator(bot_token=BOT_TOKEN, team_id="T0001")
    await emulator.start()
    process, base_url = await serve_with_dotenv(
        tmp_path,
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": emulator.api_url,
        },
    )
    try:
        async with httpx.AsyncClient(base_url=base_url) as client:

            async def healthy() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(healthy, within=30, message="ticketbot serve to answer /healthz")
            assert (await client.get("/readyz")).status_code == 200
        async with SlackSender(base_url, SIGNING_SECRET) as sender:
            signed = await sender.send_event(message_event("C1", "U1", "help!"), event_id="EvCLI")
            unsigned = await sender.send_event(message_event("C1", "U1", "x"), unsigned=True)
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        await emulator.stop()

    assert (signed.status_code, unsigned.status_code) == (200, 401)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it (exit by signal 15).
    assert process.returncode in (0, -15), stderr.decode()[-2000:]
    assert "Application shutdown complete" in stderr.decode()
    assert BOT_TOKEN not in stderr.decode() and SIGNING_SECRET not in stderr.decode()
    assert await event_ids(database_url) == ["EvCLI"]


async def test_serve_over_socket_mode_as_the_readme_sets_it_up(tmp_path, database_url):
    """README, "Connect to Slack with Socket Mode": three values in .env, `ticketbot serve`,
    and Slack's events arrive over the connection it opens; no request reaches /slack/events.
    Its tokens never reach the log."""
    emulator = SlackEmulator(bot_token=BOT_TOKEN, team_id="T0001")
    await emulator.start()
    app_token = emulator.socket_mode.app_token
    process, base_url = await serve_with_dotenv(
        tmp_path,
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": app_token,
            "SLACK_API_URL": emulator.api_url,
        },
    )
    try:
        async with httpx.AsyncClient(base_url=base_url) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, within=30, message="serve to connect over Socket Mode")
        async with SlackSender(
            "http://127.0.0.1:1", SIGNING_SECRET, socket_mode=emulator.socket_mode
        ) as sender:
            answer = await sender.send_event(message_event("C1", "U1", "help!"), event_id="EvWS")
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        await emulator.stop()

    assert answer.status_code == 200
    assert process.returncode in (0, -15), stderr.decode()[-2000:]
    assert app_token not in stderr.decode() and BOT_TOKEN not in stderr.decode()
    assert await event_ids(database_url) == ["EvWS"]


async def test_dev_mode_serves_against_the_bundled_emulator(tmp_path):
    port, emulator_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        *ticketbot_command(),
        "dev",
        "--port",
        str(port),
        "--emulator-port",
        str(emulator_port),
        cwd=tmp_path,
        env=clean_environment(LOG_LEVEL="WARNING"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as client:

            async def ready() -> bool:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/readyz")
                except httpx.TransportError:
                    return False
                return answer.status_code == 200

            await wait_until(ready, within=30, message="ticketbot dev to be ready")
            calls = (await client.get(f"http://127.0.0.1:{emulator_port}/_emulator/calls")).json()
        async with SlackSender(f"http://127.0.0.1:{port}", "dev-signing-secret") as sender:
            answer = await sender.send_event(message_event("CSUPPORT", "U1", "hello"))
    finally:
        process.terminate()
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=20)

    assert [call["method"] for call in calls["calls"]] == ["auth.test"]
    assert answer.status_code == 200
    assert "signing secret:  dev-signing-secret" in stdout.decode()
    assert (tmp_path / "ticketbot-dev.db").exists()
