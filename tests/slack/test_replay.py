"""Replays of Slack's own payload shapes (tests/support/slack_payloads.py) through the signed
endpoint, on both databases: each must do the right thing, answer 200 within Slack's 3 s and
log no error. The tickets always land in the installation; a Slack Connect customer's team is
their account, never a workspace of ours."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.csat.models import CsatSurvey
from app.slack.ids import ActionId, BlockId, CallbackId
from app.slack_emulator import SlackEmulator, next_ts, slack_signature
from app.tickets.models import TicketMessage
from app.workspaces.models import Workspace
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, make_settings
from tests.csat.test_csat_flow import prompt_in, surveys, sweep
from tests.support import slack_payloads as slack
from tests.support.server import RunningApp, wait_until
from tests.tickets.helpers import add_member, count_tickets, ticket_messages, tickets, watch
from tests.tickets.test_intake import card_in_triage, triage_thread
from tests.tickets.test_triage_card import click

AGENT, LEAD = "UAGENT", "ULEAD1"
SLACK_ANSWER_BUDGET = 3.0  # Slack retries a request not answered within 3 s


@pytest.fixture
async def world(running_app: RunningApp, emulator) -> RunningApp:
    emulator.add_channel("CSUPPORT", name="support", is_ext_shared=True)
    emulator.add_team(slack.CUSTOMER_TEAM, name="Globex", domain="globex")
    await watch(running_app, "CSUPPORT", is_ext_shared=True)
    await add_member(running_app, AGENT)
    return running_app


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def replay(
    app: RunningApp, emulator: SlackEmulator, encoded: slack.Encoded, *, opens_a_view: bool = False
) -> httpx.Response:
    """POST exactly these bytes, signed as Slack signs them; it must be answered 200 without
    waiting for any Slack answer (Slack retries a request not answered within 3 s, so the
    acknowledgement may depend on nothing Slack does). Every Web API answer is held until the
    response is in: an acknowledgement that awaited one would time out here. The one exception
    is `opens_a_view`: `views.open` is called with the trigger id before the acknowledgement.
    The budget is checked in the CPU time of the event loop's thread, which serves the request
    (a busy machine does not inflate it; work the app does on its worker threads meanwhile, such
    as counting a day for the reports, is not on the acknowledgement's path)."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": encoded.content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(SIGNING_SECRET, timestamp, encoded.body),
    }
    cpu_started = time.thread_time()
    held = contextlib.nullcontext() if opens_a_view else emulator.answers_held()
    async with held, httpx.AsyncClient(timeout=2 * SLACK_ANSWER_BUDGET) as client:
        response = await client.post(
            f"{app.url}/slack/events", content=encoded.body, headers=headers
        )
    assert response.status_code == 200, response.text
    assert time.thread_time() - cpu_started < SLACK_ANSWER_BUDGET
    return response


async def workspace_teams(app: RunningApp) -> set[str]:
    async with app.runtime.session_factory() as session:
        return set(await session.scalars(select(Workspace.slack_team_id)))


async def ticket_after(app: RunningApp, condition: Callable[[Any], bool], message: str):
    async def found():
        return next((t for t in await tickets(app) if condition(t)), None)

    return await wait_until(found, message=message)


# -- messages ---------------------------------------------------------------------------------


async def test_slack_connect_customer_message_opens_a_ticket_in_the_installation(
    world, emulator, no_errors_logged
):
    body = slack.slack_connect_message(
        channel="CSUPPORT", text="Exports fail for R&amp;D &lt;prod&gt;", ts=next_ts()
    )

    await replay(world, emulator, slack.as_event(body))

    [ticket] = await tickets(world)
    assert ticket.subject == "Exports fail for R&D <prod>"  # plain text, as people read it
    assert ticket.is_external and ticket.requester_team_id == slack.CUSTOMER_TEAM
    assert ticket.requester_user_id == slack.CUSTOMER
    assert await workspace_teams(world) == {slack.INSTALLATION}
    named = await ticket_after(world, lambda t: t.account_name, "account name from team.info")
    assert named.account_name == "Globex"
    [team_info] = emulator.delivered("team.info")
    assert team_info.args["team"] == slack.CUSTOMER_TEAM
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    assert "R&amp;D &lt;prod&gt;" in json.dumps(card["blocks"])  # escaped exactly once
    assert "&amp;amp;" not in json.dumps(card)


async def test_grid_and_file_share_and_me_messages_open_tickets(world, emulator, no_errors_logged):
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.grid_message(
                channel="CSUPPORT", user="W0GRID0001", text="SSO broken", ts=next_ts()
            )
        ),
    )
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.file_share(
                channel="CSUPPORT", user="UCUST0002", text="See screenshot", ts=next_ts()
            )
        ),
    )
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.me_message(channel="CSUPPORT", user="UCUST0003", text="is stuck", ts=next_ts())
        ),
    )

    assert [t.subject for t in await tickets(world)] == ["SSO broken", "See screenshot", "is stuck"]
    assert all(not t.is_external for t in await tickets(world))
    assert await workspace_teams(world) == {slack.INSTALLATION}


async def test_bot_posts_and_joins_open_nothing(world, emulator, no_errors_logged):
    for body in (
        slack.bot_message_new_style(channel="CSUPPORT", ts=next_ts()),
        slack.bot_message_classic(channel="CSUPPORT", ts=next_ts()),
        slack.channel_join(channel="CSUPPORT", user="UNEW00001", ts=next_ts()),
        slack.org_team_access_granted(),
    ):
        await replay(world, emulator, slack.as_event(body))

    assert await count_tickets(world) == 0


async def test_another_installation_is_never_filed_as_a_workspace(
    world, emulator, no_errors_logged
):
    """An org-wide installation's event reaches a ticketbot whose token is T0001's: ignored."""
    body = slack.org_wide_message(channel="CSUPPORT", user="W0GRID0001", text="Hi", ts=next_ts())

    await replay(world, emulator, slack.as_event(body))

    assert await count_tickets(world) == 0
    assert await workspace_teams(world) == {slack.INSTALLATION}


async def test_thread_broadcast_edits_and_deletions_are_followed(world, emulator, no_errors_logged):
    root = next_ts()
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.envelope(
                slack.user_message(channel="CSUPPORT", user="UCUST0002", text="Login loop", ts=root)
            )
        ),
    )
    reply = next_ts()
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.thread_broadcast(
                channel="CSUPPORT",
                user=AGENT,
                text="Looking into it",
                ts=reply,
                thread_ts=root,
                root_user="UCUST0002",
            )
        ),
    )
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.message_changed(
                channel="CSUPPORT",
                user="UCUST0002",
                ts=root,
                text="Login loop on <!here> mobile",
                previous_text="Login loop",
                edited_at=next_ts(),
            )
        ),
    )
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.message_deleted(channel="CSUPPORT", user=AGENT, ts=reply, deleted_at=next_ts())
        ),
    )

    [ticket] = await tickets(world)
    assert ticket.first_response_at is not None  # the agent's broadcast reply counted
    assert ticket.subject == "Login loop on @here mobile"
    messages = {m.ts: m for m in await ticket_messages(world, ticket.id)}
    assert messages[root].text == "Login loop on <!here> mobile"  # stored as Slack sent it
    assert messages[reply].deleted_at is not None
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    thread = await wait_until(
        lambda: (
            len(triage_thread(emulator, card["ts"])) >= 3 and triage_thread(emulator, card["ts"])
        ),
        message="mirrors in the triage thread",
    )
    mirrored = "\n".join(thread)
    assert "edited a message" in mirrored and "<!here>" not in mirrored
    assert "@\u2060here" in mirrored  # shown as words, notifying nobody


# -- reactions --------------------------------------------------------------------------------


async def test_shared_channel_reaction_opens_the_ticket_in_the_installation(
    world, emulator, no_errors_logged
):
    message = emulator.add_message(
        "CSUPPORT", user=slack.CUSTOMER, text="Our invoices are wrong", team=slack.CUSTOMER_TEAM
    )
    body = slack.shared_channel_reaction(
        channel="CSUPPORT", user="W0OTHER001", ts=message["ts"], reaction="ticket"
    )

    await replay(world, emulator, slack.as_event(body))

    assert await workspace_teams(world) == {slack.INSTALLATION}
    ticket = await ticket_after(
        world, lambda t: t.account_name == "Globex", "the message and its account from Slack"
    )
    assert ticket.subject == "Our invoices are wrong"
    assert ticket.requester_user_id == slack.CUSTOMER and ticket.is_external
    # conversations.history is form-only at Slack: it went as form/query arguments.
    [history] = emulator.delivered("conversations.history")
    assert history.args["channel"] == "CSUPPORT"


async def test_reactions_without_item_user_and_on_files(world, emulator, no_errors_logged):
    message = emulator.add_message("CSUPPORT", user="UCUST0002", text="Reset my password")
    await replay(world, emulator, slack.as_event(slack.reaction_on_file(user=AGENT)))
    assert await count_tickets(world) == 0

    await replay(
        world,
        emulator,
        slack.as_event(
            slack.reaction_without_item_user(channel="CSUPPORT", user=AGENT, ts=message["ts"])
        ),
    )

    ticket = await ticket_after(
        world, lambda t: t.requester_user_id == "UCUST0002", "requester from the fetched message"
    )
    assert ticket.subject == "Reset my password"


# -- Home, commands, shortcuts ------------------------------------------------------------------


async def test_home_tab_and_messages_tab(world, emulator, no_errors_logged):
    await replay(world, emulator, slack.as_event(slack.home_opened(user=AGENT, tab="messages")))
    await replay(world, emulator, slack.as_event(slack.home_opened(user=AGENT)))

    [published] = await emulator.wait_for_calls("views.publish")
    assert published.args["user_id"] == AGENT


async def test_grid_command_and_shortcut(world, emulator, no_errors_logged):
    form = slack.grid_slash_command(
        user=LEAD, channel="CSUPPORT", text="channels", response_url=emulator.new_response_url()
    )
    answer = await replay(world, emulator, slack.as_command(form))
    assert "<#CSUPPORT>" in answer.json()["text"]

    await replay(
        world,
        emulator,
        slack.as_interaction(
            slack.grid_global_shortcut(user=LEAD, callback_id=CallbackId.CREATE_TICKET_SHORTCUT)
        ),
        opens_a_view=True,
    )
    [opened] = await emulator.wait_for_calls("views.open")
    assert opened.args["view"]["callback_id"] == CallbackId.CREATE_TICKET_MODAL


# -- CSAT from a Slack Connect customer ---------------------------------------------------------


async def test_slack_connect_customer_rates_and_comments(
    world, sender, emulator, clock, no_errors_logged
):
    root = next_ts()
    await replay(
        world,
        emulator,
        slack.as_event(slack.slack_connect_message(channel="CSUPPORT", text="Broken", ts=root)),
    )
    card = await wait_until(lambda: card_in_triage(emulator), message="triage card")
    assert (await click(sender, card, ActionId.RESOLVE, AGENT)).status_code == 200
    clock.advance(minutes=10)
    await sweep(world)
    prompt = await wait_until(lambda: prompt_in(emulator, root), message="CSAT prompt")
    ratings = next(b for b in prompt["blocks"] if b.get("block_id") == BlockId.CSAT_RATINGS)
    five = next(e for e in ratings["elements"] if e["action_id"] == "csat_rate_5")

    await replay(
        world,
        emulator,
        slack.as_interaction(
            slack.connect_block_actions(
                action={"action_id": five["action_id"], "value": five["value"]},
                channel="CSUPPORT",
                message=prompt,
            )
        ),
    )
    [survey] = await surveys(world)
    assert survey.rating == 5

    comment = "Great & fast, thanks <!channel>"
    await replay(
        world,
        emulator,
        slack.as_interaction(
            slack.connect_view_submission(
                callback_id=CallbackId.CSAT_COMMENT,
                private_metadata=json.dumps({"survey_id": survey.id}),
                values={
                    BlockId.CSAT_COMMENT: {
                        ActionId.CSAT_COMMENT_INPUT: {"type": "plain_text_input", "value": comment}
                    }
                },
            )
        ),
    )
    async with world.runtime.session_factory() as session:
        stored = await session.scalar(select(CsatSurvey.comment))
    assert stored == comment
    thread = await wait_until(
        lambda: [t for t in triage_thread(emulator, card["ts"]) if "commented" in t],
        message="comment shared with the team",
    )
    assert "Great &amp; fast, thanks &lt;!channel&gt;" in thread[0]
    assert await workspace_teams(world) == {slack.INSTALLATION}


async def test_stored_messages_are_slack_text(world, emulator, no_errors_logged):
    await replay(
        world,
        emulator,
        slack.as_event(
            slack.envelope(
                slack.user_message(
                    channel="CSUPPORT", user="UCUST0002", text="a &lt;b&gt; &amp; c", ts=next_ts()
                )
            )
        ),
    )
    async with world.runtime.session_factory() as session:
        [text] = list(await session.scalars(select(TicketMessage.text)))
    assert text == "a &lt;b&gt; &amp; c"


async def test_an_org_wide_installation_files_tickets_under_its_org(
    database_url, clock, no_errors_logged
):
    """Installed for a whole Enterprise Grid org: auth.test and `authorizations` name the org,
    events name no team of ours, and people of the org's other workspaces are our side."""
    emulator = SlackEmulator(
        bot_token=BOT_TOKEN,
        team_id=slack.INSTALLATION,
        enterprise_id=slack.ENTERPRISE,
        is_enterprise_install=True,
    )
    await emulator.start()
    app = await RunningApp(make_settings(database_url, emulator), clock).start()
    try:
        await watch(app, "CSUPPORT")
        await replay(
            app,
            emulator,
            slack.as_event(
                slack.org_wide_message(
                    channel="CSUPPORT", user="W0GRID0001", text="SSO", ts=next_ts()
                )
            ),
        )
        other_workspace = slack.org_wide_message(
            channel="CSUPPORT", user="W0GRID0002", text="VPN", ts=next_ts()
        )
        other_workspace["team_id"] = other_workspace["event"]["team"] = "T0002"
        await replay(app, emulator, slack.as_event(other_workspace))

        assert [(t.subject, t.is_external) for t in await tickets(app)] == [
            ("SSO", False),
            ("VPN", False),
        ]
        async with app.runtime.session_factory() as session:
            [workspace] = list(await session.scalars(select(Workspace)))
        assert (workspace.slack_team_id, workspace.is_enterprise_install) == (
            slack.ENTERPRISE,
            True,
        )
    finally:
        await app.stop()
        await emulator.stop()
