"""`ticketbot dev send` against a real `ticketbot dev` stack (served in the test's event loop).

The stack is the one `ticketbot dev` runs (`DevStack`: the seeded emulator, migrations on a
fresh SQLite file, ticketbot served by uvicorn, the lead's signed set-up commands), on free
ports. Each `dev send` goes through `app.cli.main`, in a thread, as a person would run it.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.cli import _dev, _dev_send_message, _parser, main
from app.dev import (
    DEV_AGENT,
    DEV_CUSTOMER,
    DEV_CUSTOMER_TEAM_ID,
    DEV_LEAD,
    DEV_SUPPORT_CHANNEL,
    DEV_TEAM_ID,
    DEV_TRIAGE_CHANNEL,
    DevStack,
    banner,
)
from app.team.enums import Role
from app.team.models import TeamMember
from app.tickets.enums import TicketStatus
from app.tickets.models import Ticket
from app.workspaces.models import WatchedChannel, Workspace
from tests.support.server import wait_until

QUESTION = "Hi Acme, our nightly export fails with AccessDenied since Tuesday."
TS_LINE = re.compile(r"^ts (\d{10}\.\d{6})\b", re.MULTILINE)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DevStack]:
    stack = DevStack(
        host="127.0.0.1",
        port=0,
        emulator_port=0,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}",
    )
    await stack.start()
    yield stack
    await stack.stop()


async def dev_send(
    capsys: pytest.CaptureFixture[str], stack: DevStack | None, *args: str
) -> tuple[int, str, str]:
    """`ticketbot dev send ARGS...` pointed at `stack`: (exit code, stdout, stderr)."""
    where = ["--url", stack.url, "--emulator-url", stack.emulator_url] if stack else []
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["dev", "send", *args, *where])
    out, err = capsys.readouterr()
    return code, out, err


async def ticket(stack: DevStack, number: int = 1) -> Ticket | None:
    async with stack.runtime.session_factory() as session:
        return await session.scalar(select(Ticket).where(Ticket.number == number))


async def customer_asks(capsys: pytest.CaptureFixture[str], stack: DevStack) -> str:
    code, out, err = await dev_send(capsys, stack, "message", QUESTION)
    assert code == 0, err
    match = TS_LINE.search(out)
    assert match, out
    return match.group(1)


def triage_card(stack: DevStack) -> dict[str, Any] | None:
    return next((m for m in stack.emulator.messages(DEV_TRIAGE_CHANNEL) if m.get("bot_id")), None)


async def test_dev_sets_the_team_up_through_signed_commands(stack: DevStack) -> None:
    async with stack.runtime.session_factory() as session:
        roles = dict(
            (await session.execute(select(TeamMember.slack_user_id, TeamMember.role))).all()
        )
        watched = (await session.scalars(select(WatchedChannel))).all()

    assert roles == {DEV_LEAD: Role.LEAD, DEV_AGENT: Role.AGENT}
    assert [(w.slack_channel_id, w.triage_channel_id) for w in watched] == [
        (DEV_SUPPORT_CHANNEL, DEV_TRIAGE_CHANNEL)
    ]
    shown = banner(stack)
    for label, value in [
        ("lead:", DEV_LEAD),
        ("agent:", DEV_AGENT),
        ("customer:", DEV_CUSTOMER),
        ("support channel:", DEV_SUPPORT_CHANNEL),
        ("triage channel:", DEV_TRIAGE_CHANNEL),
    ]:
        assert re.search(rf"^\s+{label}\s+{value}\b", shown, re.MULTILINE), label
    assert DEV_TEAM_ID in shown and DEV_CUSTOMER_TEAM_ID in shown
    assert "/ticket team add @alex agent" in shown
    assert f'ticketbot dev send click "Assign to me" --as agent --url {stack.url}' in shown


async def test_customer_message_opens_a_ticket_for_their_account(
    capsys: pytest.CaptureFixture[str], stack: DevStack
) -> None:
    ts = await customer_asks(capsys, stack)

    opened = await ticket(stack)
    assert opened is not None
    assert (opened.requester_user_id, opened.root_ts) == (DEV_CUSTOMER, ts)
    assert opened.requester_team_id == DEV_CUSTOMER_TEAM_ID
    assert opened.is_external
    async with stack.runtime.session_factory() as session:
        teams = (await session.scalars(select(Workspace.slack_team_id))).all()
    assert teams == [DEV_TEAM_ID]  # Globex is an account, never a workspace of ours
    [seeded] = [m for m in stack.emulator.messages(DEV_SUPPORT_CHANNEL) if m["ts"] == ts]
    assert (seeded["user"], seeded["team"]) == (DEV_CUSTOMER, DEV_CUSTOMER_TEAM_ID)
    await wait_until(lambda: triage_card(stack), message="the triage card")


async def test_command_prints_the_immediate_answer(
    capsys: pytest.CaptureFixture[str], stack: DevStack
) -> None:
    await customer_asks(capsys, stack)

    code, out, err = await dev_send(capsys, stack, "command", "/ticket list")

    assert code == 0, err
    assert "only Lee Lead sees this" in out
    assert "Open tickets · 1 to 1 of 1" in out
    assert f"T-1 · {QUESTION}" in out
    assert "<@" not in out and "*" not in out  # mrkdwn is shown as a person reads it


async def test_agent_replies_then_clicks_assign_to_me(
    capsys: pytest.CaptureFixture[str], stack: DevStack
) -> None:
    question_ts = await customer_asks(capsys, stack)
    card = await wait_until(lambda: triage_card(stack), message="the triage card")

    reply = await dev_send(
        capsys, stack, "message", "Looking into it now.", "--as", "agent", "--thread", question_ts
    )
    code, out, err = await dev_send(capsys, stack, "click", "assign to me", "--as", "agent")

    assert reply[0] == 0, reply[2]
    assert code == 0, err
    clicked = f"Alex Agent clicked 'Assign to me' (ticket_assign_to_me) on the message {card['ts']}"
    assert clicked in out
    assert out.rstrip().endswith("-> HTTP 200")
    assigned = await ticket(stack)
    assert assigned is not None
    assert assigned.assignee_user_id == DEV_AGENT
    assert assigned.first_response_at is not None  # the agent's reply in the thread


async def test_a_refused_click_shows_what_ticketbot_told_the_clicker(
    capsys: pytest.CaptureFixture[str], stack: DevStack
) -> None:
    await customer_asks(capsys, stack)
    # Settled: the card's redraw with the account's name (team.info) is not taken for the answer.
    await wait_until(
        lambda: "Globex" in str((triage_card(stack) or {}).get("blocks")),
        message="the triage card with the customer's account",
    )

    code, out, err = await dev_send(
        capsys, stack, "click", "Assign to me", "--as", "customer", "--wait", "15"
    )

    assert code == 0, err
    told = out.splitlines()[-1]
    assert told.startswith("ticketbot told Gina from Globex (only they see it): "), out
    unassigned = await ticket(stack)
    assert unassigned is not None and unassigned.assignee_user_id is None


async def test_agent_resolves_with_a_reaction_and_a_menu_sets_priority(
    capsys: pytest.CaptureFixture[str], stack: DevStack
) -> None:
    question_ts = await customer_asks(capsys, stack)
    await wait_until(lambda: triage_card(stack), message="the triage card")

    picked = await dev_send(capsys, stack, "click", "Urgent", "--as", "agent")
    reacted = await dev_send(
        capsys, stack, "react", "white_check_mark", "--ts", question_ts, "--as", "agent"
    )

    assert picked[0] == 0 and "'Urgent' (ticket_set_priority)" in picked[1], picked
    assert reacted[0] == 0, reacted[2]
    resolved = await ticket(stack)
    assert resolved is not None
    assert (resolved.priority.value, resolved.status) == ("urgent", TicketStatus.RESOLVED)


async def test_mistakes_are_one_line(capsys: pytest.CaptureFixture[str], stack: DevStack) -> None:
    bad_as = await dev_send(capsys, stack, "message", "hi", "--as", "bob")
    no_card = await dev_send(capsys, stack, "click", "Assign to me")
    await customer_asks(capsys, stack)
    await wait_until(lambda: triage_card(stack), message="the triage card")
    no_button = await dev_send(capsys, stack, "click", "Escalate")
    no_message = await dev_send(capsys, stack, "react", "ticket", "--ts", "1700000000.000001")
    forged = await dev_send(capsys, stack, "command", "list", "--signing-secret", "guessed")

    assert bad_as[:2] == (2, "")
    assert bad_as[2] == (
        "ticketbot: --as must be customer, agent, lead or a Slack user id (U...), not 'bob'\n"
    )
    assert no_card[0] == 1
    assert no_card[2] == "ticketbot: no message from ticketbot in #support-triage to click on\n"
    assert no_button[0] == 1
    assert no_button[2].startswith("ticketbot: no button or menu option 'Escalate'")
    assert "the newest has: Assign to me, Low/Normal/High/Urgent" in no_button[2]
    assert no_message[0] == 1 and "no message with ts 1700000000.000001" in no_message[2]
    assert forged[0] == 1 and "(HTTP 401)" in forged[2]
    for _, out, err in (bad_as, no_card, no_button, no_message, forged):
        assert out == ""
        assert len(err.splitlines()) == 1, err
    assert (await ticket(stack, 2)) is None


async def test_no_dev_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = f"http://127.0.0.1:{port}"

    code, out, err = await dev_send(
        capsys, None, "command", "/ticket list", "--url", nowhere, "--emulator-url", nowhere
    )

    assert (code, out) == (1, "")
    assert err.startswith(f"ticketbot: cannot reach the Slack emulator at {nowhere}")
    assert "is `ticketbot dev` running?" in err and len(err.splitlines()) == 1


def test_dev_alone_still_runs_the_server() -> None:
    parser = _parser()

    assert parser.parse_args(["dev", "--port", "4000"]).handler is _dev
    sent = parser.parse_args(["dev", "send", "message", "hi", "--thread", "1700000000.000100"])
    assert sent.handler is _dev_send_message
    assert (sent.who, sent.channel, sent.url) == ("customer", "CSUPPORT", "http://127.0.0.1:3000")


async def test_the_dev_dashboard_signs_in_as_the_lead(stack: DevStack) -> None:
    """`ticketbot dev` serves the web dashboard too, signed in with the emulator's Slack."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as browser:
        page = await browser.get("/web/signin/slack?next=%2Fweb%2Fqueue", follow_redirects=True)

    assert page.status_code == 200 and str(page.url).endswith("/web/queue")
    assert "(lead)" in page.text
