"""Per-method request rules: content types, token placement, required arguments."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.slack_emulator import SlackEmulator
from app.slack_emulator.method_specs import FORM, JSON, METHOD_SPECS
from app.slack_emulator.methods import METHODS

TOKEN = "xoxb-emulator"
FORM_ONLY = [
    "chat.getPermalink",
    "conversations.history",
    "conversations.replies",
    "conversations.info",
    "users.info",
    "team.info",
    "usergroups.users.list",
    "files.info",
]
MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "New ticket"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Tell us more"}}],
}


async def _error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


def test_every_implemented_method_has_a_spec() -> None:
    assert set(METHOD_SPECS) == set(METHODS)
    assert {m for m, spec in METHOD_SPECS.items() if spec.form_only} == set(FORM_ONLY)
    assert all(spec.content_types <= {FORM, JSON} for spec in METHOD_SPECS.values())


async def test_slack_sdk_named_methods_all_work(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    """Each named method ticketbot uses picks a verb and encoding the rules accept."""
    client = slack_client
    emulator.add_user("U1", name="alice")
    emulator.add_channel("C1", name="support")
    emulator.add_usergroup("S1", ["U1"])
    seeded = emulator.add_message("C1", user="U1", text="printer on fire")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*New* ticket"}}]

    assert (await client.auth_test())["ok"]
    posted = await client.chat_postMessage(channel="C1", text="New ticket", blocks=blocks)
    ts = posted["ts"]
    assert (await client.chat_update(channel="C1", ts=ts, text="Edited", blocks=blocks))["ok"]
    assert (await client.chat_postEphemeral(channel="C1", user="U1", text="only you"))["ok"]
    assert (await client.chat_getPermalink(channel="C1", message_ts=ts))["permalink"]
    assert (await client.reactions_add(channel="C1", timestamp=ts, name="eyes"))["ok"]
    assert (await client.reactions_remove(channel="C1", timestamp=ts, name="eyes"))["ok"]
    history = await client.conversations_history(channel="C1", limit=10)
    assert [m["ts"] for m in history["messages"]] == [ts, seeded["ts"]]
    replies = await client.conversations_replies(channel="C1", ts=seeded["ts"])
    assert replies["messages"][0]["ts"] == seeded["ts"]
    assert (await client.conversations_info(channel="C1"))["channel"]["id"] == "C1"
    assert (await client.users_info(user="U1"))["user"]["id"] == "U1"
    assert (await client.team_info())["team"]["id"] == "T0001"
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1"]
    opened = (await client.views_open(trigger_id="1.2.abc", view=MODAL))["view"]
    assert (await client.views_push(trigger_id="1.2.abc", view=MODAL))["ok"]
    assert (await client.views_update(view_id=opened["id"], view=MODAL))["ok"]
    home = {"type": "home", "blocks": blocks}
    assert (await client.views_publish(user_id="U1", view=home))["ok"]
    assert (await client.chat_delete(channel="C1", ts=ts))["ok"]
    # slack_sdk's own three-step upload (getUploadURLExternal, the bytes to the upload URL,
    # completeUploadExternal), then files.info for the shared file.
    shared = await client.files_upload_v2(
        channel="C1", content=b"\x89PNG chart", filename="chart.png", title="Chart"
    )
    file_id = shared["file"]["id"]
    assert emulator.uploaded_file(file_id) == b"\x89PNG chart"
    info = (await client.files_info(file=file_id))["file"]
    assert list(info["shares"]["public"]) == ["C1"]
    assert all(call.ok for call in emulator.calls())


@pytest.mark.parametrize("method", FORM_ONLY)
async def test_a_json_body_to_a_form_only_method_is_refused(
    emulator: SlackEmulator, slack_client: AsyncWebClient, method: str
) -> None:
    emulator.add_channel("C1", name="support")
    args = {"channel": "C1", "message_ts": "1.000001", "ts": "1.000001", "user": "UBOT"}
    error = await _error_of(slack_client.api_call(method, json={**args, "usergroup": "S1"}))
    assert error.response.data == {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {
            "messages": [
                f"[ERROR] {method} does not accept application/json bodies; send form-encoded "
                "arguments or query parameters"
            ]
        },
    }
    # Recorded, and not carried out.
    [call] = emulator.calls(method)
    assert not call.ok


async def test_team_info_and_history_with_json_are_refused_but_params_work(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.add_channel("C1", name="support")
    for method, args in (("team.info", {}), ("conversations.history", {"channel": "C1"})):
        error = await _error_of(slack_client.api_call(method, json=args))
        assert error.response["error"] == "invalid_arguments"
        ok = await slack_client.api_call(method, http_verb="GET", params=args)
        assert ok["ok"]


async def test_json_body_needs_its_token_in_the_header(emulator: SlackEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url) as http:
        in_body = await http.post(
            "chat.postMessage", json={"token": TOKEN, "channel": "C1", "text": "x"}
        )
        in_header = await http.post(
            "chat.postMessage",
            json={"channel": "C1", "text": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert in_body.json() == {
        "ok": False,
        "error": "not_authed",
        "response_metadata": {
            "messages": [
                "[ERROR] a JSON body needs its token in an Authorization: Bearer header, "
                "not in the body"
            ]
        },
    }
    assert in_header.json()["ok"] is True
    assert emulator.messages("C1")[0]["text"] == "x"


async def test_form_body_may_carry_the_token_but_the_query_string_may_not(
    emulator: SlackEmulator,
) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url) as http:
        form = await http.post("auth.test", data={"token": TOKEN})
        query = await http.get("auth.test", params={"token": TOKEN})
        query_post = await http.post("auth.test", params={"token": TOKEN})
    assert form.json()["ok"] is True
    for refused in (query, query_post):
        assert refused.json()["error"] == "not_authed"
        assert "query string" in refused.json()["response_metadata"]["messages"][0]


async def test_content_types_slack_does_not_list_are_refused(emulator: SlackEmulator) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=emulator.api_url, headers=headers) as http:
        plain = await http.post(
            "chat.postMessage", content=b"channel=C1&text=x", headers={"Content-Type": "text/plain"}
        )
        xml = await http.post(
            "auth.test", content=b"<a/>", headers={"Content-Type": "application/xml"}
        )
        untyped = await http.post("auth.test", content=b"channel=C1")
        charset = await http.post(
            "chat.postMessage",
            content=json.dumps({"channel": "C1", "text": "x"}).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert plain.json()["error"] == "invalid_post_type"
    assert plain.json()["response_metadata"]["messages"] == [
        "[ERROR] chat.postMessage does not accept text/plain bodies "
        "(it takes application/json, application/x-www-form-urlencoded)"
    ]
    assert xml.json()["error"] == "invalid_post_type"
    assert untyped.json()["error"] == "missing_post_type"
    assert charset.json()["ok"] is True
    assert emulator.delivered() == emulator.calls("chat.postMessage")[-1:]


@pytest.mark.parametrize(
    ("method", "args", "error", "named"),
    [
        ("conversations.history", {}, "channel_not_found", "channel"),
        ("conversations.replies", {"channel": "C1"}, "thread_not_found", "ts"),
        ("conversations.info", {}, "channel_not_found", "channel"),
        ("users.info", {}, "user_not_found", "user"),
        ("usergroups.users.list", {}, "no_such_subteam", "usergroup"),
        ("chat.getPermalink", {"channel": "C1"}, "message_not_found", "message_ts"),
        ("chat.postMessage", {"text": "x"}, "channel_not_found", "channel"),
        ("chat.delete", {"channel": "C1"}, "message_not_found", "ts"),
        ("chat.postEphemeral", {"channel": "C1", "text": "x"}, "user_not_in_channel", "user"),
        ("reactions.add", {"channel": "C1", "timestamp": "1.000001"}, "invalid_name", "name"),
        ("views.open", {"view": json.dumps(MODAL)}, "invalid_arguments", "trigger_id"),
        ("views.publish", {"user_id": "U1"}, "invalid_arguments", "view"),
        (
            "views.update",
            {"view": json.dumps(MODAL)},
            "invalid_arguments",
            "view_id or external_id",
        ),
    ],
)
async def test_missing_required_arguments_are_named(
    emulator: SlackEmulator, method: str, args: dict[str, str], error: str, named: str
) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url) as http:
        answer = await http.post(method, data=args, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.json() == {
        "ok": False,
        "error": error,
        "response_metadata": {"messages": [f"[ERROR] missing required argument: {named}"]},
    }


async def test_the_upload_flow_refuses_what_slack_refuses(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    """docs.slack.dev/reference/methods/files.getUploadURLExternal and
    .../files.completeUploadExternal: a zero length is missing_argument; completing a file
    whose bytes never arrived, or completing it twice, is file_not_found (stricter than
    Slack, which may accept a late upload: ticketbot always uploads first)."""
    emulator.add_channel("C1", name="support")
    client = slack_client

    zero = await _error_of(client.files_getUploadURLExternal(filename="a.png", length=0))
    assert zero.response["error"] == "missing_argument"

    started = await client.files_getUploadURLExternal(filename="a.png", length=4)
    early = await _error_of(
        client.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id="C1")
    )
    assert early.response["error"] == "file_not_found"

    async with httpx.AsyncClient() as http:
        assert (await http.post(started["upload_url"], content=b"1234")).status_code == 200
    done = await client.files_completeUploadExternal(
        files=[{"id": started["file_id"], "title": "A"}], channel_id="C1", initial_comment="Hi"
    )
    assert done["files"][0]["id"] == started["file_id"]
    [shared] = [m for m in emulator.messages("C1") if m.get("files")]
    assert (shared["text"], shared["files"]) == ("Hi", [{"id": started["file_id"]}])
    twice = await _error_of(
        client.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id="C1")
    )
    assert twice.response["error"] == "file_not_found"


async def test_a_files_share_follows_the_message_text_rules(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    """An initial comment is a message in the channel: a broadcast mention in it is refused,
    as in chat.postMessage (the emulator is stricter than Slack, never looser)."""
    emulator.add_channel("C1", name="support")
    started = await slack_client.files_getUploadURLExternal(filename="a.png", length=4)
    async with httpx.AsyncClient() as http:
        await http.post(started["upload_url"], content=b"1234")

    refused = await _error_of(
        slack_client.files_completeUploadExternal(
            files=[{"id": started["file_id"]}], channel_id="C1", initial_comment="<!channel> hi"
        )
    )

    assert refused.response["ok"] is False
    assert not [m for m in emulator.messages("C1") if m.get("files")]
