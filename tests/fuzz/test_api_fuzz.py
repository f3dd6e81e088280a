"""The REST API fuzzed from its own OpenAPI document with schemathesis: generated requests
(valid and invalid) against the running app, on both databases; no answer may be a 5xx, and
every answer must match the documented responses' status codes."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from app.apikeys.scopes import Scope
from tests.api.helpers import api_key
from tests.support.server import RunningApp
from tests.tickets.helpers import watch

EXAMPLES = os.environ.get("TICKETBOT_FUZZ_EXAMPLES", "10")


def schemathesis_command() -> list[str] | None:
    beside_python = Path(sys.executable).with_name("schemathesis")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("schemathesis")
    return [found] if found else None


async def seed(app: RunningApp) -> None:
    """A few tickets, so ticket numbers 1-3 exist and fuzzed updates reach the services."""
    from app.slack_emulator import SlackSender, message_event, next_ts
    from tests.conftest import SIGNING_SECRET, TEAM_ID

    await watch(app)
    async with SlackSender(app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        for n in range(3):
            await sender.send_event(message_event("CSUPPORT", f"UCUST{n}", f"Q{n}", ts=next_ts()))


async def test_no_input_makes_the_api_answer_5xx(running_app, tmp_path):
    command = schemathesis_command()
    if command is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'")
    await seed(running_app)
    key = await api_key(running_app, Scope.ADMIN, name="fuzz")
    process = await asyncio.create_subprocess_exec(
        *command,
        "run",
        f"{running_app.url}/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261125",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
