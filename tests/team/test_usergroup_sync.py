"""The support agents user group, synced into the team through the emulated Slack Web API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.scheduler import build_scheduler, sync_usergroup
from app.slack_emulator import SlackSender
from app.team.enums import Role
from app.team.models import TeamMember
from app.team.usergroup_sync import sync_usergroup_members
from app.workspaces.models import Workspace
from tests.conftest import SIGNING_SECRET, TEAM_ID, make_settings
from tests.support.server import RunningApp

GROUP = "S123"
SYNCED = f"usergroup:{GROUP}"


@pytest.fixture
async def synced_app(database_url, emulator, clock) -> AsyncIterator[RunningApp]:
    settings = make_settings(database_url, emulator, support_agents_usergroup_id=GROUP)
    app = await RunningApp(settings, clock).start()
    yield app
    await app.stop()


@pytest.fixture
async def lead(synced_app) -> AsyncIterator[SlackSender]:
    async with SlackSender(synced_app.url, SIGNING_SECRET, team_id=TEAM_ID) as sender:
        yield sender


async def team_rows(app: RunningApp) -> dict[str, tuple[Role, str | None]]:
    async with app.runtime.session_factory() as session:
        members = await session.scalars(select(TeamMember))
        return {m.slack_user_id: (m.role, m.added_by) for m in members}


async def command(sender: SlackSender, text: str) -> str:
    response = await sender.send_command(text, user_id="ULEAD1", channel_id="CSUPPORT")
    assert response.status_code == 200
    return response.json()["text"]


async def test_group_members_become_agents(synced_app, emulator):
    emulator.add_usergroup(GROUP, ["U1", "U2"])

    await sync_usergroup(synced_app.runtime)

    assert await team_rows(synced_app) == {
        "ULEAD1": (Role.LEAD, "SUPPORT_LEADS"),
        "U1": (Role.AGENT, SYNCED),
        "U2": (Role.AGENT, SYNCED),
    }
    [call] = emulator.delivered("usergroups.users.list")
    assert call.args["usergroup"] == GROUP


async def test_members_who_leave_the_group_are_removed_but_manual_members_stay(
    synced_app, emulator, lead
):
    emulator.add_usergroup(GROUP, ["U1", "U2", "UMANUAL", "ULEAD1"])
    await command(lead, "team add <@UMANUAL|manny> agent")
    await command(lead, "team add <@UOUTSIDE|olly> agent")
    await sync_usergroup(synced_app.runtime)
    assert (await team_rows(synced_app))["U2"] == (Role.AGENT, SYNCED)

    emulator.add_usergroup(GROUP, ["U1"])
    await sync_usergroup(synced_app.runtime)

    assert await team_rows(synced_app) == {
        "ULEAD1": (Role.LEAD, "SUPPORT_LEADS"),
        "U1": (Role.AGENT, SYNCED),
        "UMANUAL": (Role.AGENT, "ULEAD1"),
        "UOUTSIDE": (Role.AGENT, "ULEAD1"),
    }


async def test_a_synced_member_a_lead_adds_is_the_leads_from_then_on(synced_app, emulator, lead):
    emulator.add_usergroup(GROUP, ["U1", "U2"])
    await sync_usergroup(synced_app.runtime)

    assert await command(lead, "team add <@U1> lead") == "<@U1> is now a lead (was an agent)."
    kept = await command(lead, "team add <@U2> agent")
    assert kept == "<@U2> stays an agent, now even if they leave the user group."
    emulator.add_usergroup(GROUP, [])
    await sync_usergroup(synced_app.runtime)

    assert await team_rows(synced_app) == {
        "ULEAD1": (Role.LEAD, "SUPPORT_LEADS"),
        "U1": (Role.LEAD, "ULEAD1"),
        "U2": (Role.AGENT, "ULEAD1"),
    }


async def test_removing_a_synced_member_warns_that_the_sync_adds_them_back(
    synced_app, emulator, lead
):
    emulator.add_usergroup(GROUP, ["U1"])
    await sync_usergroup(synced_app.runtime)

    reply = await command(lead, "team remove <@U1>")
    assert reply.startswith("Removed <@U1> from the support team.")
    assert f"support user group (`{GROUP}`)" in reply and "adds them back" in reply
    listing = await command(lead, "team")
    assert "<@U1>" not in listing

    await sync_usergroup(synced_app.runtime)
    assert (await team_rows(synced_app))["U1"] == (Role.AGENT, SYNCED)
    assert "• <@U1>: agent, from the user group" in await command(lead, "team")


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "error": "no_such_subteam"},
        {"status": 200, "error": "missing_scope"},
        # The app's client retries a 5xx once.
        {"status": 500, "times": 2},
        {"status": 429, "retry_after": 0, "times": 2},
    ],
)
async def test_a_failed_read_logs_a_warning_and_changes_nothing(
    synced_app, emulator, caplog, fault
):
    emulator.add_usergroup(GROUP, ["U1", "U2"])
    await sync_usergroup(synced_app.runtime)
    before = await team_rows(synced_app)
    emulator.add_usergroup(GROUP, [])
    emulator.fail_next("usergroups.users.list", **fault)

    with caplog.at_level(logging.WARNING, logger="app.slack.usergroups"):
        await sync_usergroup(synced_app.runtime)

    assert await team_rows(synced_app) == before
    assert any(
        record.levelno == logging.WARNING and GROUP in record.getMessage()
        for record in caplog.records
    )


async def test_slack_unreachable_changes_nothing(synced_app, emulator, caplog):
    emulator.add_usergroup(GROUP, ["U1"])
    await sync_usergroup(synced_app.runtime)
    emulator.add_usergroup(GROUP, [])
    await emulator.go_down()
    try:
        with caplog.at_level(logging.WARNING, logger="app.slack.usergroups"):
            await sync_usergroup(synced_app.runtime)
    finally:
        await emulator.come_up()

    assert (await team_rows(synced_app))["U1"] == (Role.AGENT, SYNCED)
    assert "could not reach Slack" in caplog.text


async def test_syncs_running_at_once_agree(synced_app, emulator):
    """Replicas run the job at the same moment: no duplicate rows, no errors."""
    emulator.add_usergroup(GROUP, [f"U{n}" for n in range(20)])

    await asyncio.gather(*(sync_usergroup(synced_app.runtime) for _ in range(4)))

    rows = await team_rows(synced_app)
    assert len(rows) == 21
    assert all(rows[f"U{n}"] == (Role.AGENT, SYNCED) for n in range(20))


async def test_members_of_a_former_group_are_taken_over_or_removed(synced_app):
    """The setting changed from S_OLD to S123: the old group's members are the sync's too."""
    async with synced_app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(
            select(Workspace.id).where(Workspace.slack_team_id == TEAM_ID)
        )
        await sync_usergroup_members(
            session=session,
            workspace_id=workspace_id,
            usergroup_id="S_OLD",
            member_ids=["UA", "UB"],
        )
    async with synced_app.runtime.session_factory() as session, session.begin():
        result = await sync_usergroup_members(
            session=session, workspace_id=workspace_id, usergroup_id=GROUP, member_ids=["UB", "UC"]
        )

    assert (result.added, result.removed) == (["UC"], ["UA"])
    assert await team_rows(synced_app) == {
        "ULEAD1": (Role.LEAD, "SUPPORT_LEADS"),
        "UB": (Role.AGENT, SYNCED),
        "UC": (Role.AGENT, SYNCED),
    }


async def test_the_job_runs_every_ten_minutes_and_soon_after_start(synced_app):
    scheduler = build_scheduler(synced_app.runtime)

    job = scheduler.get_job("team.sync_usergroup")

    assert job is not None
    assert job.trigger.interval == timedelta(minutes=10)
    assert job.next_run_time - datetime.now(UTC) < timedelta(minutes=1)


async def test_no_job_without_a_user_group(running_app):
    assert build_scheduler(running_app.runtime).get_job("team.sync_usergroup") is None
