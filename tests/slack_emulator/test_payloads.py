"""Payload builders: Slack's field names, and typed text delivered in Slack's wire form."""

from __future__ import annotations

from app.slack_emulator import (
    SlackEmulator,
    app_mention_event,
    bot_message_event,
    bot_user_message_event,
    channel_join_event,
    file_share_event,
    me_message_event,
    message_changed_event,
    message_event,
    mrkdwn_problems,
    next_ts,
    slack_file,
    thread_broadcast_event,
)


def _rich_text(event: dict) -> list[dict]:
    [block] = event["blocks"]
    assert block["type"] == "rich_text"
    [section] = block["elements"]
    return section["elements"]


def test_typed_text_arrives_escaped_with_mentions_kept() -> None:
    event = message_event("C1", "U1", "Printer & scanner <broken> cc <@U2> <#C9|it>")
    assert event["text"] == "Printer &amp; scanner &lt;broken&gt; cc <@U2> <#C9|it>"
    assert mrkdwn_problems(event["text"], "text") == []
    assert _rich_text(event) == [
        {"type": "text", "text": "Printer & scanner <broken> cc "},
        {"type": "user", "user_id": "U2"},
        {"type": "text", "text": " "},
        {"type": "channel", "channel_id": "C9"},
    ]
    mention = app_mention_event("C1", "U1", "<@UBOT> R&D <!here>")
    assert mention["text"] == "<@UBOT> R&amp;D <!here>"
    # A bot's text is already the wire form it was sent in.
    assert message_event("C1", "UB", "a &amp; b", bot_id="B1")["text"] == "a &amp; b"


def test_slack_connect_messages_name_the_authors_team() -> None:
    event = message_event("C1", "U9", "hi", user_team="T_CUSTOMER")
    assert (event["team"], event["user_team"], event["source_team"]) == ("T_CUSTOMER",) * 3
    assert event["user_profile"] == {}
    profile = {"real_name": "Kaz", "team": "T_CUSTOMER"}
    other = app_mention_event(
        "C1", "U9", "<@UBOT> hi", user_team="T1", source_team="T2", user_profile=profile
    )
    assert (other["user_team"], other["source_team"], other["user_profile"]) == (
        "T1",
        "T2",
        profile,
    )
    local = message_event("C1", "U1", "hi")
    assert "user_team" not in local and local["team"] == "T0001"


def test_message_changed_carries_the_edited_and_previous_message() -> None:
    original = next_ts()
    event = message_changed_event("C1", "U1", original, "a & b", previous_text="a and b")
    assert event["ts"] != original and event["event_ts"] == event["ts"]
    assert event["message"]["ts"] == event["previous_message"]["ts"] == original
    assert event["message"]["text"] == "a &amp; b"
    assert event["message"]["edited"] == {"user": "U1", "ts": event["ts"]}
    assert event["previous_message"]["text"] == "a and b"
    assert event["hidden"] is True


def test_file_share() -> None:
    event = file_share_event("C1", "U1", "see attached & fix", upload=True)
    assert (event["subtype"], event["upload"], event["display_as_bot"]) == (
        "file_share",
        True,
        False,
    )
    assert event["text"] == "see attached &amp; fix"
    assert "team" not in event
    [file] = event["files"]
    assert file["user"] == "U1" and file["url_private"].startswith("https://files.slack.com/")
    custom = slack_file("F1", user="U1", name="log.txt", mimetype="text/plain", filetype="text")
    event = file_share_event("C1", "U1", files=[custom])
    assert event["files"] == [custom] and "blocks" not in event and event["text"] == ""


def test_thread_broadcast() -> None:
    root_ts = next_ts()
    event = thread_broadcast_event(
        "C1", "U2", "also here", thread_ts=root_ts, root_user="U1", root_text="help <3"
    )
    assert (event["subtype"], event["thread_ts"]) == ("thread_broadcast", root_ts)
    root = event["root"]
    assert (root["ts"], root["thread_ts"], root["user"]) == (root_ts, root_ts, "U1")
    assert root["text"] == "help &lt;3"
    assert root["latest_reply"] == event["ts"] and root["reply_users"] == ["U2"]


def test_bot_messages() -> None:
    classic = bot_message_event("C1", "Build passed", bot_id="B8", username="ci")
    assert (classic["subtype"], classic["bot_id"], classic["username"]) == (
        "bot_message",
        "B8",
        "ci",
    )
    assert "user" not in classic
    modern = bot_user_message_event(
        "C1", "Deployed", bot_id="B9", user="UB9", app_id="A9", name="deployer"
    )
    assert "subtype" not in modern
    assert (modern["bot_id"], modern["user"]) == ("B9", "UB9")
    assert modern["bot_profile"]["id"] == "B9" and modern["bot_profile"]["app_id"] == "A9"


def test_channel_join_and_me_message() -> None:
    joined = channel_join_event("C1", "U7", user_name="cal", inviter="U1")
    assert joined["subtype"] == "channel_join"
    assert joined["text"] == "<@U7|cal> has joined the channel"
    assert joined["inviter"] == "U1"
    assert "inviter" not in channel_join_event("C1", "U7", user_name="cal")
    me = me_message_event("C1", "U1", "waves & leaves")
    assert (me["subtype"], me["text"]) == ("me_message", "waves &amp; leaves")


def test_seeded_messages_are_stored_in_wire_form(emulator: SlackEmulator) -> None:
    seeded = emulator.add_message("C1", user="U1", text="a < b & <@U2>")
    assert seeded["text"] == "a &lt; b &amp; <@U2>"
    assert seeded["blocks"][0]["elements"][0]["elements"][0] == {"type": "text", "text": "a < b & "}
