"""Requests into the running app, signed as Slack signs them (and not)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from app.inbox.models import SlackEvent
from app.slack_emulator import SlackSender, message_event
from app.team.enums import Role
from app.team.models import TeamMember
from app.workspaces.models import Workspace
from tests.conftest import SIGNING_SECRET, TEAM_ID

SIX_MINUTES = 6 * 60


async def count_events(running_app) -> int:
    async with running_app.runtime.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(SlackEvent))


async def test_signed_event_is_stored_before_the_answer(running_app, sender: SlackSender):
    response = await sender.send_event(
        message_event("CSUPPORT", "UCUSTOMER", "Our exports are failing"), event_id="Ev0001"
    )

    assert response.status_code == 200
    # No waiting: the row was committed before Slack got its 200.
    async with running_app.runtime.session_factory() as session:
        stored = await session.get(SlackEvent, "Ev0001")
        workspace = await session.scalar(
            select(Workspace).where(Workspace.slack_team_id == TEAM_ID)
        )
    assert stored is not None
    assert stored.event_type == "message"
    assert stored.payload["event"]["text"] == "Our exports are failing"
    assert workspace is not None and workspace.triage_channel_id == "CTRIAGE"


async def test_unsigned_request_is_refused_and_changes_nothing(running_app, sender):
    response = await sender.send_event(message_event("C1", "U1", "hello"), unsigned=True)

    assert response.status_code == 401
    assert await count_events(running_app) == 0


async def test_wrong_signature_is_refused(running_app, sender):
    response = await sender.send_event(
        message_event("C1", "U1", "hello"), signature="v0=" + "0" * 64
    )

    assert response.status_code == 401
    assert await count_events(running_app) == 0


async def test_signature_with_another_secret_is_refused(running_app):
    async with SlackSender(running_app.url, "not-the-secret") as impostor:
        response = await impostor.send_event(message_event("C1", "U1", "hello"))

    assert response.status_code == 401
    assert await count_events(running_app) == 0


async def test_six_minute_old_request_is_refused(running_app, sender):
    response = await sender.send_event(
        message_event("C1", "U1", "hello"), timestamp=int(time.time()) - SIX_MINUTES
    )

    assert response.status_code == 401
    assert await count_events(running_app) == 0


async def test_unsigned_command_and_action_are_refused(running_app, sender):
    command = await sender.send_command("help", user_id="U1", channel_id="C1", unsigned=True)
    action = await sender.send_block_actions(
        [{"action_id": "noop", "value": "1"}], user_id="U1", channel_id="C1", unsigned=True
    )

    assert (command.status_code, action.status_code) == (401, 401)


async def test_url_verification_is_answered(running_app, sender):
    response = await sender.send_url_verification("challenge-123")

    assert response.status_code == 200
    assert response.json() == {"challenge": "challenge-123"} or response.text == "challenge-123"


async def test_retried_event_is_stored_once(running_app, sender):
    event = message_event("CSUPPORT", "UCUSTOMER", "Is the API down?")

    first = await sender.send_event(event, event_id="EvRETRY")
    retry = await sender.send_event(event, event_id="EvRETRY", retry_num=1)
    second_retry = await sender.send_event(event, event_id="EvRETRY", retry_num=2)

    assert [first.status_code, retry.status_code, second_retry.status_code] == [200, 200, 200]
    assert await count_events(running_app) == 1
    metrics = running_app.runtime.metrics.render().decode()
    assert "ticketbot_slack_duplicate_events_total 2.0" in metrics


async def test_concurrent_deliveries_of_one_event_store_it_once(running_app, sender):
    import asyncio

    event = message_event("CSUPPORT", "UCUSTOMER", "Billing question")
    responses = await asyncio.gather(
        *(sender.send_event(event, event_id="EvRACE", retry_num=n or None) for n in range(4))
    )

    assert all(response.status_code == 200 for response in responses)
    assert await count_events(running_app) == 1


async def test_every_event_type_is_acknowledged(running_app, sender):
    """An unhandled event gets 404 from Bolt and Slack retries it forever; none may be."""
    from app.slack_emulator import app_home_opened_event, reaction_added_event

    events = [
        reaction_added_event("U1", "ticket", "CSUPPORT", "1700000000.000100"),
        app_home_opened_event("U1"),
        message_event("CSUPPORT", "U1", "joined", subtype="channel_join"),
        {"type": "member_joined_channel", "user": "U1", "channel": "CSUPPORT"},
    ]
    for event in events:
        response = await sender.send_event(event)
        assert response.status_code == 200, event["type"]
    assert await count_events(running_app) == len(events)


async def test_bad_slash_command_gets_ephemeral_usage(running_app, sender):
    response = await sender.send_command("frobnicate now", user_id="U1", channel_id="C1")

    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "Unknown subcommand `frobnicate`" in body["text"]
    assert "/ticket help" in body["text"]


async def test_button_clicks_are_acknowledged(running_app, sender):
    response = await sender.send_block_actions(
        [{"action_id": "not_yet_known", "value": "1", "type": "button"}],
        user_id="U1",
        channel_id="C1",
    )

    assert response.status_code == 200


async def test_start_up_learns_the_workspace_and_bootstraps_leads(running_app):
    async with running_app.runtime.session_factory() as session:
        workspace = await session.scalar(
            select(Workspace).where(Workspace.slack_team_id == TEAM_ID)
        )
        leads = (await session.scalars(select(TeamMember))).all()
    assert (
        workspace is not None and workspace.bot_user_id == running_app.runtime.identity.bot_user_id
    )
    assert [(lead.slack_user_id, lead.role) for lead in leads] == [("ULEAD1", Role.LEAD)]


async def test_signature_uses_slacks_scheme(running_app):
    """Our sender and Slack agree byte for byte (the app accepts what it produces)."""
    from app.slack_emulator import slack_signature

    expected = slack_signature(SIGNING_SECRET, "1531420618", b"token=xyz")
    assert expected.startswith("v0=") and len(expected) == 3 + 64


async def test_unsigned_url_verification_is_refused(running_app, sender):
    response = await sender.send_url_verification("challenge-123", unsigned=True)

    assert response.status_code == 401
