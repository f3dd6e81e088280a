"""SlackEmulator, exercised over real HTTP with slack-sdk's AsyncWebClient."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import SlackEmulator

TS = re.compile(r"^\d{10}\.\d{6}$")


async def _error_of(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call  # type: ignore[misc]
    return info.value


# -- messages ----------------------------------------------------------------------------------


async def test_post_message_answers_slack_shape(slack_client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*New ticket*"}}]
    response = await slack_client.chat_postMessage(channel="C1", text="hello", blocks=blocks)

    assert response["ok"] is True
    assert response["channel"] == "C1"
    assert TS.match(response["ts"])
    message = response["message"]
    assert message["ts"] == response["ts"]
    assert message["text"] == "hello"
    assert message["blocks"] == blocks
    assert message["user"] == "UBOT"
    assert message["bot_id"] == "BBOT"
    assert message["type"] == "message"


async def test_ts_are_unique_and_increasing(slack_client: AsyncWebClient) -> None:
    stamps = [
        (await slack_client.chat_postMessage(channel="C1", text=str(i)))["ts"] for i in range(5)
    ]
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps, key=float)


async def test_frozen_clock_still_gives_unique_ts_and_stamps_calls() -> None:
    async with SlackEmulator(clock=lambda: 1732512345.0) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        first = await client.chat_postMessage(channel="C1", text="a")
        second = await client.chat_postMessage(channel="C1", text="b")
        assert (first["ts"], second["ts"]) == ("1732512345.000000", "1732512345.000001")
        assert {call.at for call in emu.calls()} == {1732512345.0}


async def test_thread_reply_update_delete_and_messages_state(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    parent = await slack_client.chat_postMessage(channel="C1", text="parent")
    reply = await slack_client.chat_postMessage(channel="C1", text="reply", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]

    updated = await slack_client.chat_update(channel="C1", ts=parent["ts"], text="edited")
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C1", parent["ts"], "edited")
    assert updated["message"]["edited"]["user"] == "UBOT"

    deleted = await slack_client.chat_delete(channel="C1", ts=reply["ts"])
    assert (deleted["channel"], deleted["ts"]) == ("C1", reply["ts"])

    [message] = emulator.messages("C1")
    assert message["ts"] == parent["ts"]
    assert message["text"] == "edited"
    assert message["thread_ts"] is None
    assert message["blocks"] is None
    assert emulator.messages("C-unknown") == []


async def test_update_or_delete_of_unknown_message_fails(slack_client: AsyncWebClient) -> None:
    error = await _error_of(slack_client.chat_update(channel="C1", ts="1.000001", text="x"))
    assert error.response["error"] == "message_not_found"
    error = await _error_of(slack_client.chat_delete(channel="C1", ts="1.000001"))
    assert error.response["error"] == "message_not_found"


async def test_post_message_needs_content(slack_client: AsyncWebClient) -> None:
    error = await _error_of(slack_client.api_call("chat.postMessage", json={"channel": "C1"}))
    assert error.response["error"] == "no_text"


async def test_permalinks(slack_client: AsyncWebClient) -> None:
    parent = await slack_client.chat_postMessage(channel="C123", text="parent")
    reply = await slack_client.chat_postMessage(channel="C123", text="r", thread_ts=parent["ts"])

    top = await slack_client.chat_getPermalink(channel="C123", message_ts=parent["ts"])
    assert top["channel"] == "C123"
    assert top["permalink"] == (
        f"https://acme.slack.com/archives/C123/p{parent['ts'].replace('.', '')}"
    )
    threaded = await slack_client.chat_getPermalink(channel="C123", message_ts=reply["ts"])
    assert threaded["permalink"] == (
        f"https://acme.slack.com/archives/C123/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={parent['ts']}&cid=C123"
    )


async def test_ephemeral_and_reactions(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    ephemeral = await slack_client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert TS.match(ephemeral["message_ts"])

    posted = await slack_client.chat_postMessage(channel="C1", text="hi")
    react = {"channel": "C1", "timestamp": posted["ts"], "name": "eyes"}
    assert (await slack_client.reactions_add(**react))["ok"]
    error = await _error_of(slack_client.reactions_add(**react))
    assert error.response["error"] == "already_reacted"
    assert emulator.messages("C1")[0]["reactions"] == [
        {"name": "eyes", "users": ["UBOT"], "count": 1}
    ]
    # A user's message, known to the emulator only through its ts.
    await slack_client.reactions_add(channel="C1", timestamp="1700000000.000100", name="ticket")
    assert emulator.reactions("C1", "1700000000.000100") == {"ticket": ["UBOT"]}


# -- lookups -----------------------------------------------------------------------------------


async def test_users_info(emulator: SlackEmulator, slack_client: AsyncWebClient) -> None:
    emulator.add_user("U1", name="alice", real_name="Alice Liddell", tz="Europe/Paris")

    user = (await slack_client.users_info(user="U1"))["user"]
    assert user["id"] == "U1"
    assert user["team_id"] == "T0001"
    assert user["name"] == "alice"
    assert user["real_name"] == "Alice Liddell"
    assert user["is_bot"] is False
    assert user["tz"] == "Europe/Paris"
    assert isinstance(user["tz_offset"], int)
    profile = user["profile"]
    assert profile["real_name"] == "Alice Liddell"
    assert profile["display_name"] == "alice"
    assert profile["email"] == "alice@example.com"
    assert profile["image_72"].startswith("https://")

    bot = (await slack_client.users_info(user="UBOT"))["user"]
    assert bot["is_bot"] is True
    assert "email" not in bot["profile"]

    error = await _error_of(slack_client.users_info(user="U404"))
    assert error.response["error"] == "user_not_found"


async def test_team_info(emulator: SlackEmulator, slack_client: AsyncWebClient) -> None:
    own = (await slack_client.team_info())["team"]
    assert (own["id"], own["name"], own["domain"]) == ("T0001", "Acme Support", "acme")

    emulator.add_team("T0002", name="Partner Co", domain="partner")
    other = (await slack_client.team_info(team="T0002"))["team"]
    assert (other["id"], other["name"], other["domain"]) == ("T0002", "Partner Co", "partner")

    error = await _error_of(slack_client.team_info(team="T404"))
    assert error.response["error"] == "team_not_found"


async def test_conversations_info(emulator: SlackEmulator, slack_client: AsyncWebClient) -> None:
    emulator.add_channel("C1", name="support", is_ext_shared=True)
    emulator.add_channel("G1", name="secret", is_private=True)

    channel = (await slack_client.conversations_info(channel="C1"))["channel"]
    assert channel["id"] == "C1"
    assert channel["name"] == "support"
    assert channel["is_channel"] is True
    assert channel["is_private"] is False
    assert channel["is_ext_shared"] is True
    assert channel["is_member"] is True
    private = (await slack_client.conversations_info(channel="G1"))["channel"]
    assert private["is_private"] is True

    error = await _error_of(slack_client.conversations_info(channel="C404"))
    assert error.response["error"] == "channel_not_found"


async def test_auth_test_views_and_usergroups(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    auth = await slack_client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0001", "UBOT", "BBOT")
    assert auth["url"] == "https://acme.slack.com/"

    modal = {
        "type": "modal",
        "callback_id": "new_ticket",
        "title": {"type": "plain_text", "text": "T"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}],
    }
    opened = (await slack_client.views_open(trigger_id="1.2.abc", view=modal))["view"]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "new_ticket"
    updated = (await slack_client.views_update(view_id=opened["id"], view=modal))["view"]
    assert updated["id"] == opened["id"]

    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = (await slack_client.views_publish(user_id="U1", view=home))["view"]
    again = (await slack_client.views_publish(user_id="U1", view=home))["view"]
    assert first["type"] == "home"
    assert first["id"] == again["id"]

    emulator.add_usergroup("S1", ["U1", "U2"])
    assert (await slack_client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    error = await _error_of(slack_client.usergroups_users_list(usergroup="S404"))
    assert error.response["error"] == "no_such_subteam"


# -- auth, strictness, encodings -----------------------------------------------------------------


async def test_token_is_checked(emulator: SlackEmulator) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=emulator.api_url, retry_handlers=[])
    error = await _error_of(wrong.auth_test())
    assert (error.response.status_code, error.response["error"]) == (200, "invalid_auth")

    anonymous = AsyncWebClient(base_url=emulator.api_url, retry_handlers=[])
    error = await _error_of(anonymous.auth_test())
    assert error.response["error"] == "not_authed"
    assert [c.token for c in emulator.calls()] == ["xoxb-wrong", None]
    assert emulator.delivered() == []


async def test_strict_channels() -> None:
    async with SlackEmulator(strict_channels=True) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        # Without known channels, even strict mode accepts any id.
        await client.chat_postMessage(channel="C9", text="x")
        emu.add_channel("C1", name="support")
        await client.chat_postMessage(channel="C1", text="x")
        error = await _error_of(client.chat_postMessage(channel="C9", text="x"))
        assert error.response["error"] == "channel_not_found"


async def test_form_json_and_get_bodies_are_recorded_as_args(emulator: SlackEmulator) -> None:
    blocks = [{"type": "divider"}]
    async with httpx.AsyncClient(base_url=emulator.api_url) as http:
        form = await http.post(
            "chat.postMessage",
            data={
                "token": "xoxb-emulator",
                "channel": "C1",
                "text": "fallback",
                "blocks": json.dumps(blocks),
            },
        )
        as_json = await http.post(
            "chat.postMessage?channel=C2",
            json={"text": "hi"},
            headers={"Authorization": "Bearer xoxb-emulator"},
        )
        query = await http.get(
            "auth.test", params={"x": "1"}, headers={"Authorization": "Bearer xoxb-emulator"}
        )
        unknown = await http.post("nope.nothing", data={"token": "xoxb-emulator"})

    assert form.json()["message"]["blocks"] == blocks
    assert as_json.json()["channel"] == "C2"
    assert query.json()["ok"] is True
    assert unknown.json() == {"ok": False, "error": "unknown_method", "req_method": "nope.nothing"}

    first, second, third, fourth = emulator.calls()
    assert first.args == {"channel": "C1", "text": "fallback", "blocks": blocks}
    assert first.token == "xoxb-emulator"
    assert second.args == {"channel": "C2", "text": "hi"}
    assert (third.method, third.args) == ("auth.test", {"x": "1"})
    assert (fourth.method, fourth.status) == ("nope.nothing", 200)
    assert [c.method for c in emulator.delivered()] == ["chat.postMessage"] * 2 + ["auth.test"]


# -- faults --------------------------------------------------------------------------------------


async def test_rate_limit_exposes_retry_after(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.fail_next("chat.postMessage", status=429)
    emulator.fail_next("chat.postMessage", status=429, retry_after=7)

    for expected in ("1", "7"):
        error = await _error_of(slack_client.chat_postMessage(channel="C1", text="x"))
        assert error.response.status_code == 429
        assert error.response.headers["Retry-After"] == expected
        assert error.response["error"] == "ratelimited"
    assert (await slack_client.chat_postMessage(channel="C1", text="x"))["ok"]

    assert [c.status for c in emulator.calls()] == [429, 429, 200]
    assert len(emulator.delivered("chat.postMessage")) == 1
    assert len(emulator.messages("C1")) == 1


async def test_server_errors_and_application_errors(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.fail_next("chat.postMessage", status=500)
    emulator.fail_next("chat.postMessage", status=200, error="channel_not_found")

    error = await _error_of(slack_client.chat_postMessage(channel="C1", text="x"))
    assert error.response.status_code == 500
    error = await _error_of(slack_client.chat_postMessage(channel="C1", text="x"))
    assert (error.response.status_code, error.response["error"]) == (200, "channel_not_found")
    await slack_client.chat_postMessage(channel="C1", text="x")
    assert [c.response["ok"] for c in emulator.calls("chat.postMessage")] == [False, False, True]

    with pytest.raises(ValueError):
        emulator.fail_next(status=200)


async def test_faults_are_consumed_in_registration_order(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.fail_next("users.info", status=503)
    emulator.fail_next(status=502, times=2)  # any method
    emulator.add_user("U1", name="alice")

    await _error_of(slack_client.auth_test())  # 502: users.info's fault does not match
    await _error_of(slack_client.users_info(user="U1"))  # 503: first matching fault
    await _error_of(slack_client.users_info(user="U1"))  # 502
    await slack_client.users_info(user="U1")
    assert [c.status for c in emulator.calls()] == [502, 503, 502, 200]


async def test_slow_answer_times_out_the_client_but_takes_effect(emulator: SlackEmulator) -> None:
    emulator.slow_next("chat.postMessage", seconds=0.4)
    impatient = AsyncWebClient(
        token=emulator.bot_token, base_url=emulator.api_url, timeout=0.1, retry_handlers=[]
    )
    with pytest.raises(asyncio.TimeoutError):
        await impatient.chat_postMessage(channel="C1", text="late")
    # Slack did post it: only the answer was lost, which is what makes retries duplicate.
    assert len(emulator.delivered("chat.postMessage")) == 1
    assert (await impatient.chat_postMessage(channel="C1", text="fast"))["ok"]


async def test_go_down_refuses_connections_and_come_up_keeps_the_port(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    api_url = emulator.api_url
    await emulator.go_down()
    with pytest.raises(aiohttp.ClientConnectorError):
        await slack_client.auth_test()

    await emulator.come_up()
    assert emulator.api_url == api_url
    assert (await slack_client.auth_test())["ok"]
    assert [c.method for c in emulator.calls()] == ["auth.test"]  # the refused call never arrived


# -- response_url and control API ----------------------------------------------------------------


async def test_response_url_posts_are_recorded(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url()
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, json={"text": "done", "replace_original": True})
        expired = await http.post(url + "x", json={"text": "nope"})

    assert answer.status_code == 200
    assert expired.status_code == 404
    ok, missing = emulator.calls("response_url")
    assert ok.args == {"text": "done", "replace_original": True}
    assert missing.status == 404


async def test_control_api(emulator: SlackEmulator, slack_client: AsyncWebClient) -> None:
    base = emulator.base_url
    async with httpx.AsyncClient(base_url=base) as control:
        fail = await control.post("/_emulator/fail", json={"method": "auth.test", "status": 429})
        assert fail.json() == {"ok": True}
        assert (await control.post("/_emulator/fail", json={"status": "x"})).status_code == 400
        assert (await control.post("/_emulator/slow", json={"seconds": 0.01})).status_code == 200

        await slack_client.chat_postMessage(channel="C1", text="slow but fine")
        error = await _error_of(slack_client.auth_test())
        assert error.response.headers["Retry-After"] == "1"

        calls = (await control.get("/_emulator/calls", params={"method": "auth.test"})).json()
        assert [(c["method"], c["status"]) for c in calls["calls"]] == [("auth.test", 429)]
        messages = (await control.get("/_emulator/messages", params={"channel": "C1"})).json()
        assert [m["text"] for m in messages["messages"]] == ["slow but fine"]

        assert (await control.post("/_emulator/reset")).json() == {"ok": True}
        assert (await control.get("/_emulator/calls")).json() == {"calls": []}
    assert emulator.calls() == []
