"""Seeded users' messages, threads and the conversations.history/replies methods, over HTTP."""

from __future__ import annotations

import base64
import re

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


def _ts(n: int) -> str:
    """Fixed, ordered timestamps: _ts(1) < _ts(2) < ..."""
    return f"1700000000.{n:06d}"


def _texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


# -- add_message -------------------------------------------------------------------------------


async def test_add_message_stores_a_users_message(emulator: SlackEmulator) -> None:
    seeded = emulator.add_message("C1", user="U1", text="my printer is on fire")

    assert TS.match(seeded["ts"])
    assert seeded["channel"] == "C1"
    assert (seeded["type"], seeded["user"], seeded["text"]) == (
        "message",
        "U1",
        "my printer is on fire",
    )
    assert seeded["team"] == "T0001"
    assert seeded["client_msg_id"]
    assert seeded["blocks"][0]["type"] == "rich_text"
    assert seeded["thread_ts"] is None
    assert "bot_id" not in seeded
    assert emulator.messages("C1") == [seeded]

    partner = emulator.add_message("C1", user="U9", text="hi", ts=_ts(1), team="T0002")
    assert (partner["ts"], partner["team"]) == (_ts(1), "T0002")
    assert _texts(emulator.messages("C1")) == ["hi", "my printer is on fire"]  # by ts


async def test_add_message_rejects_what_slack_cannot_hold(emulator: SlackEmulator) -> None:
    emulator.add_message("C1", user="U1", text="parent", ts=_ts(5))
    emulator.add_message("C1", user="U1", text="reply", ts=_ts(6), thread_ts=_ts(5))

    with pytest.raises(ValueError, match="ts must look like"):
        emulator.add_message("C1", user="U1", text="x", ts="1700000000.1")
    with pytest.raises(ValueError, match="already has"):
        emulator.add_message("C1", user="U1", text="x", ts=_ts(5))
    with pytest.raises(ValueError, match="seed the parent first"):
        emulator.add_message("C1", user="U1", text="x", thread_ts=_ts(99))
    with pytest.raises(ValueError, match="seed the parent first"):  # a reply is no parent
        emulator.add_message("C1", user="U1", text="x", thread_ts=_ts(6))
    with pytest.raises(ValueError, match="newer than its parent"):
        emulator.add_message("C1", user="U1", text="x", ts=_ts(4), thread_ts=_ts(5))
    assert len(emulator.messages("C1")) == 2


async def test_bot_posts_sort_after_a_seeded_message_from_the_future() -> None:
    async with SlackEmulator(clock=lambda: 1732512345.0) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        emu.add_message("C1", user="U1", text="help", ts="1732512400.000000")
        reply = await client.chat_postMessage(
            channel="C1", text="on it", thread_ts="1732512400.000000"
        )
        assert reply["ts"] == "1732512400.000001"
        generated = emu.add_message("C1", user="U1", text="thanks")
        assert generated["ts"] == "1732512400.000002"


async def test_seeded_messages_cannot_be_edited_or_deleted_by_the_bot(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    seeded = emulator.add_message("C1", user="U1", text="original")
    error = await _error_of(slack_client.chat_update(channel="C1", ts=seeded["ts"], text="x"))
    assert error.response["error"] == "cant_update_message"
    error = await _error_of(slack_client.chat_delete(channel="C1", ts=seeded["ts"]))
    assert error.response["error"] == "cant_delete_message"
    assert _texts(emulator.messages("C1")) == ["original"]

    own = await slack_client.chat_postMessage(channel="C1", text="bot's")
    updated = await slack_client.chat_update(channel="C1", ts=own["ts"], text="bot's, edited")
    assert updated["message"]["text"] == "bot's, edited"


async def test_permalinks_and_reactions_of_seeded_messages(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    # The bot reacted before the test seeded the message: the reaction stays with it.
    await slack_client.reactions_add(channel="C1", timestamp=_ts(1), name="eyes")
    parent = emulator.add_message("C1", user="U1", text="parent", ts=_ts(1))
    reply = emulator.add_message("C1", user="U2", text="reply", thread_ts=parent["ts"])

    assert parent["reactions"] == [{"name": "eyes", "users": ["UBOT"], "count": 1}]
    assert emulator.reactions("C1", _ts(1)) == {"eyes": ["UBOT"]}

    top = await slack_client.chat_getPermalink(channel="C1", message_ts=parent["ts"])
    assert top["permalink"] == "https://acme.slack.com/archives/C1/p1700000000000001"
    threaded = await slack_client.chat_getPermalink(channel="C1", message_ts=reply["ts"])
    assert threaded["permalink"] == (
        f"https://acme.slack.com/archives/C1/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={parent['ts']}&cid=C1"
    )


# -- threads -----------------------------------------------------------------------------------


async def test_replies_update_the_parents_thread_state(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    parent = emulator.add_message("C1", user="U1", text="help", ts=_ts(1))
    first = await slack_client.chat_postMessage(channel="C1", text="on it", thread_ts=_ts(1))
    assert first["message"]["thread_ts"] == _ts(1)
    assert first["message"]["parent_user_id"] == "U1"
    emulator.add_message("C1", user="U2", text="me too", thread_ts=_ts(1))
    last = await slack_client.chat_postMessage(channel="C1", text="fixed", thread_ts=_ts(1))

    [parent, *replies] = emulator.thread("C1", _ts(1))
    assert parent["thread_ts"] == _ts(1)
    assert parent["reply_count"] == 3
    assert parent["reply_users"] == ["UBOT", "U2"]
    assert parent["reply_users_count"] == 2
    assert parent["latest_reply"] == last["ts"]
    assert _texts(replies) == ["on it", "me too", "fixed"]
    assert all(r["thread_ts"] == _ts(1) and r["parent_user_id"] == "U1" for r in replies)
    assert emulator.messages("C1")[0] == parent

    await slack_client.chat_delete(channel="C1", ts=last["ts"])
    parent = emulator.thread("C1", _ts(1))[0]
    assert (parent["reply_count"], parent["latest_reply"]) == (2, replies[1]["ts"])


async def test_thread_helper_with_missing_parent_or_thread(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    assert emulator.thread("C1", _ts(1)) == []
    # The bot answered a message it only saw as an event: the thread has no parent yet.
    await slack_client.chat_postMessage(channel="C1", text="on it", thread_ts=_ts(1))
    assert _texts(emulator.thread("C1", _ts(1))) == ["on it"]

    emulator.add_message("C1", user="U1", text="help", ts=_ts(1))
    [parent, reply] = emulator.thread("C1", _ts(1))
    assert (parent["text"], parent["reply_count"]) == ("help", 1)
    assert reply["parent_user_id"] == "U1"
    # A message without replies is a thread of one.
    lonely = emulator.add_message("C1", user="U1", text="lonely")
    assert emulator.thread("C1", lonely["ts"]) == [lonely]


# -- conversations.history ---------------------------------------------------------------------


async def test_history_is_newest_first_top_level_only(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.add_message("C1", user="U1", text="first", ts=_ts(1))
    bot = await slack_client.chat_postMessage(channel="C1", text="bot post")
    reply = await slack_client.chat_postMessage(channel="C1", text="reply", thread_ts=_ts(1))
    emulator.add_message("C2", user="U1", text="elsewhere")

    answer = await slack_client.conversations_history(channel="C1")
    assert answer["has_more"] is False
    assert "response_metadata" not in answer.data
    newest, oldest = answer["messages"]
    assert (newest["text"], newest["ts"]) == ("bot post", bot["ts"])
    assert (newest["user"], newest["bot_id"], newest["type"]) == ("UBOT", "BBOT", "message")
    assert "thread_ts" not in newest
    assert oldest["text"] == "first"
    assert (oldest["user"], oldest["team"], oldest["blocks"][0]["type"]) == (
        "U1",
        "T0001",
        "rich_text",
    )
    assert (oldest["thread_ts"], oldest["reply_count"], oldest["reply_users_count"]) == (
        _ts(1),
        1,
        1,
    )
    assert oldest["latest_reply"] == reply["ts"]

    assert (await slack_client.conversations_history(channel="C-empty"))["messages"] == []


async def test_history_window_and_inclusive(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    for n in range(1, 6):
        emulator.add_message("C1", user="U1", text=str(n), ts=_ts(n))

    async def texts(**window: object) -> list[str]:
        return _texts(
            (await slack_client.conversations_history(channel="C1", **window))["messages"]
        )

    assert await texts() == ["5", "4", "3", "2", "1"]
    assert await texts(latest=_ts(4)) == ["3", "2", "1"]
    assert await texts(oldest=_ts(2)) == ["5", "4", "3"]
    assert await texts(oldest=_ts(2), latest=_ts(4)) == ["3"]
    assert await texts(oldest=_ts(2), latest=_ts(4), inclusive=True) == ["4", "3", "2"]
    assert await texts(oldest="1700000000", latest="1700000000.000003") == ["2", "1"]

    for bound, error in (("latest", "invalid_ts_latest"), ("oldest", "invalid_ts_oldest")):
        failed = await _error_of(slack_client.conversations_history(channel="C1", **{bound: "x"}))
        assert failed.response["error"] == error


async def test_history_pages_with_cursor(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    for n in range(1, 6):
        emulator.add_message("C1", user="U1", text=str(n), ts=_ts(n))

    first = await slack_client.conversations_history(channel="C1", limit=2)
    assert _texts(first["messages"]) == ["5", "4"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    assert base64.b64decode(cursor).decode() == "next_ts:1700000000000003"
    second = await slack_client.conversations_history(channel="C1", limit=2, cursor=cursor)
    assert _texts(second["messages"]) == ["3", "2"]

    # slack-sdk's own pagination follows next_cursor until has_more is false; the window
    # arguments stay in force on every page.
    pages = [
        _texts(page["messages"])
        async for page in await slack_client.conversations_history(
            channel="C1", limit=2, latest=_ts(5)
        )
    ]
    assert pages == [["4", "3"], ["2", "1"]]

    error = await _error_of(slack_client.conversations_history(channel="C1", cursor="nope"))
    assert error.response["error"] == "invalid_cursor"
    error = await _error_of(slack_client.conversations_history(channel="C1", limit="many"))
    assert error.response["error"] == "invalid_limit"


async def test_history_channel_not_found_only_in_strict_mode() -> None:
    async with SlackEmulator(strict_channels=True) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
        emu.add_channel("C1", name="support")
        assert (await client.conversations_history(channel="C1"))["messages"] == []
        error = await _error_of(client.conversations_history(channel="C9"))
        assert error.response["error"] == "channel_not_found"
        error = await _error_of(client.conversations_replies(channel="C9", ts=_ts(1)))
        assert error.response["error"] == "channel_not_found"


# -- conversations.replies ---------------------------------------------------------------------


async def test_replies_answers_the_parent_then_replies_oldest_first(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.add_message("C1", user="U1", text="help", ts=_ts(1))
    await slack_client.chat_postMessage(channel="C1", text="on it", thread_ts=_ts(1))
    emulator.add_message("C1", user="U1", text="thanks", thread_ts=_ts(1))

    answer = await slack_client.conversations_replies(channel="C1", ts=_ts(1))
    assert answer["has_more"] is False
    parent, bot_reply, user_reply = answer["messages"]
    assert (parent["text"], parent["reply_count"], parent["reply_users"]) == (
        "help",
        2,
        ["UBOT", "U1"],
    )
    assert parent["latest_reply"] == user_reply["ts"]
    assert (bot_reply["bot_id"], bot_reply["thread_ts"], bot_reply["parent_user_id"]) == (
        "BBOT",
        _ts(1),
        "U1",
    )
    assert (user_reply["user"], user_reply["text"]) == ("U1", "thanks")
    assert answer["messages"] == [
        {k: v for k, v in m.items() if k != "channel" and v is not None}
        for m in emulator.thread("C1", _ts(1))
    ]

    # The ts of a reply, or of a message without replies, answers that message alone.
    alone = await slack_client.conversations_replies(channel="C1", ts=user_reply["ts"])
    assert _texts(alone["messages"]) == ["thanks"]
    lonely = emulator.add_message("C1", user="U1", text="lonely")
    alone = await slack_client.conversations_replies(channel="C1", ts=lonely["ts"])
    assert _texts(alone["messages"]) == ["lonely"]

    error = await _error_of(slack_client.conversations_replies(channel="C1", ts=_ts(99)))
    assert error.response["error"] == "thread_not_found"


async def test_replies_window_and_pages_keep_the_parent_first(
    emulator: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    emulator.add_message("C1", user="U1", text="parent", ts=_ts(1))
    for n in range(2, 7):
        emulator.add_message("C1", user="U2", text=str(n), ts=_ts(n), thread_ts=_ts(1))

    async def texts(**args: object) -> list[str]:
        answer = await slack_client.conversations_replies(channel="C1", ts=_ts(1), **args)
        return _texts(answer["messages"])

    assert await texts(oldest=_ts(3)) == ["parent", "4", "5", "6"]
    assert await texts(oldest=_ts(3), latest=_ts(5), inclusive=True) == ["parent", "3", "4", "5"]

    first = await slack_client.conversations_replies(channel="C1", ts=_ts(1), limit=2)
    assert _texts(first["messages"]) == ["parent", "2", "3"]
    assert first["has_more"] is True
    assert base64.b64decode(first["response_metadata"]["next_cursor"]).decode() == (
        "next_ts:1700000000000004"
    )
    pages = [
        _texts(page["messages"])
        async for page in await slack_client.conversations_replies(channel="C1", ts=_ts(1), limit=2)
    ]
    assert pages == [["parent", "2", "3"], ["parent", "4", "5"], ["parent", "6"]]


# -- control API -------------------------------------------------------------------------------


async def test_control_api_seeds_messages_and_reads_threads(emulator: SlackEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.base_url) as control:
        seeded = await control.post(
            "/_emulator/messages",
            json={"channel": "C1", "user": "U1", "text": "help", "ts": _ts(1)},
        )
        assert seeded.status_code == 200
        assert seeded.json()["message"]["ts"] == _ts(1)
        reply = {"channel": "C1", "user": "U2", "text": "same", "thread_ts": _ts(1)}
        assert (await control.post("/_emulator/messages", json=reply)).status_code == 200
        bad = await control.post("/_emulator/messages", json={"channel": "C1", "text": "no user"})
        assert bad.status_code == 400
        orphan = {**reply, "thread_ts": _ts(9)}
        assert (await control.post("/_emulator/messages", json=orphan)).status_code == 400

        thread = await control.get("/_emulator/thread", params={"channel": "C1", "ts": _ts(1)})
    assert _texts(thread.json()["messages"]) == ["help", "same"]
    assert thread.json()["messages"] == emulator.thread("C1", _ts(1))
