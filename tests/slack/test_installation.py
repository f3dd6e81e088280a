"""Reading the installation and the actor out of Slack's payloads (app/slack/installation.py),
on the shapes of tests/support/slack_payloads.py (Slack's own, with their sources cited there)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from app.slack.installation import Installation, SlackActor, actor_of, installation_of
from tests.support import slack_payloads as slack

TS = "1700000000.000100"


def _form(encoded: str) -> dict[str, str]:
    return dict(parse_qsl(encoded, keep_blank_values=True))


@pytest.mark.parametrize(
    ("body", "installation", "actor"),
    [
        pytest.param(
            slack.slack_connect_message(channel="C1", text="hi", ts=TS),
            Installation(slack.INSTALLATION),
            SlackActor(slack.CUSTOMER, slack.CUSTOMER_TEAM),
            id="slack-connect-message",
        ),
        pytest.param(
            slack.shared_channel_reaction(channel="C1", user="W1", ts=TS, reaction="ticket"),
            Installation(slack.INSTALLATION),
            SlackActor("W1"),  # a reaction does not say the reactor's team
            id="shared-channel-reaction",
        ),
        pytest.param(
            slack.grid_message(channel="C1", user="W1", text="hi", ts=TS),
            Installation(slack.INSTALLATION, slack.ENTERPRISE),
            SlackActor("W1", slack.INSTALLATION, slack.ENTERPRISE),
            id="grid-message",
        ),
        pytest.param(
            slack.org_wide_message(channel="C1", user="W1", text="hi", ts=TS),
            Installation(None, slack.ENTERPRISE, is_enterprise_install=True),
            SlackActor("W1", slack.INSTALLATION, slack.ENTERPRISE),
            id="org-wide-install",
        ),
        pytest.param(
            slack.message_changed(
                channel="C1", user="U1", ts=TS, text="b", previous_text="a", edited_at=TS
            ),
            Installation(slack.INSTALLATION),
            SlackActor("U1", slack.INSTALLATION),
            id="message-changed",
        ),
        pytest.param(
            slack.connect_view_submission(callback_id="x", private_metadata="", values={}),
            Installation(slack.INSTALLATION),
            SlackActor(slack.CUSTOMER, slack.CUSTOMER_TEAM, slack.CUSTOMER_ENTERPRISE),
            id="slack-connect-view-submission",
        ),
        pytest.param(
            slack.connect_block_actions(action={}, channel="C1", message={"ts": TS}),
            Installation(slack.INSTALLATION),
            SlackActor(slack.CUSTOMER, slack.CUSTOMER_TEAM),
            id="slack-connect-click",
        ),
        pytest.param(
            slack.grid_global_shortcut(user="W1", callback_id="x"),
            Installation(slack.INSTALLATION, slack.ENTERPRISE),
            SlackActor("W1", slack.INSTALLATION, slack.ENTERPRISE),
            id="grid-shortcut",
        ),
        pytest.param(
            _form(slack.grid_slash_command(user="W1", channel="C1", text="", response_url="x")),
            Installation(slack.INSTALLATION, slack.ENTERPRISE),
            SlackActor("W1", slack.INSTALLATION, slack.ENTERPRISE),
            id="grid-slash-command",
        ),
    ],
)
def test_installation_and_actor(body, installation, actor):
    assert installation_of(body) == installation
    assert actor_of(body) == actor


def test_a_shared_channel_event_without_authorizations_names_no_installation():
    """Its envelope's team may be the other organisation's: never take it for ours."""
    body = slack.slack_connect_message(channel="C1", text="hi", ts=TS)
    del body["authorizations"]

    assert installation_of(body).key is None


def test_the_key_of_an_org_wide_install_is_the_org():
    assert Installation(None, "E1", is_enterprise_install=True).key == "E1"
    assert Installation("T1", "E1").key == "T1"
