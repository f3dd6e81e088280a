"""A Slack Web API emulator and a Slack-signed request sender.

Used by the test suite, the benchmarks and the ``demo`` command to run ticketbot against a
Slack that lives in the same process (or, via the ``/_emulator/`` control API, in another).
"""

from app.slack_emulator.acks import ack_problems
from app.slack_emulator.block_kit import (
    TextRules,
    check_message,
    check_view,
    message_problems,
    view_problems,
)
from app.slack_emulator.emulator import BENCH_EMULATOR, SlackEmulator
from app.slack_emulator.mrkdwn import (
    mrkdwn_problems,
    plain_text_problems,
    rich_text_elements,
    wire_text,
)
from app.slack_emulator.payloads import (
    app_home_opened_event,
    app_mention_event,
    bot_message_event,
    bot_user_message_event,
    channel_join_event,
    file_share_event,
    me_message_event,
    message_changed_event,
    message_deleted_event,
    message_event,
    next_ts,
    reaction_added_event,
    rich_text_blocks,
    slack_file,
    thread_broadcast_event,
)
from app.slack_emulator.problems import Problem
from app.slack_emulator.records import RecordedCall
from app.slack_emulator.sender import SlackAnswerRefused, SlackSender, slack_signature

__all__ = [
    "BENCH_EMULATOR",
    "Problem",
    "RecordedCall",
    "SlackAnswerRefused",
    "SlackEmulator",
    "SlackSender",
    "TextRules",
    "ack_problems",
    "app_home_opened_event",
    "app_mention_event",
    "bot_message_event",
    "bot_user_message_event",
    "channel_join_event",
    "check_message",
    "check_view",
    "file_share_event",
    "me_message_event",
    "message_changed_event",
    "message_deleted_event",
    "message_event",
    "message_problems",
    "mrkdwn_problems",
    "next_ts",
    "plain_text_problems",
    "reaction_added_event",
    "rich_text_blocks",
    "rich_text_elements",
    "slack_file",
    "slack_signature",
    "thread_broadcast_event",
    "view_problems",
    "wire_text",
]
