"""A Slack Web API emulator and a Slack-signed request sender.

Used by the test suite, the benchmarks and the ``demo`` command to run ticketbot against a
Slack that lives in the same process (or, via the ``/_emulator/`` control API, in another).
"""

from app.slack_emulator.emulator import SlackEmulator
from app.slack_emulator.payloads import (
    app_home_opened_event,
    app_mention_event,
    message_changed_event,
    message_deleted_event,
    message_event,
    next_ts,
    reaction_added_event,
)
from app.slack_emulator.records import RecordedCall
from app.slack_emulator.sender import SlackSender, slack_signature

__all__ = [
    "RecordedCall",
    "SlackEmulator",
    "SlackSender",
    "app_home_opened_event",
    "app_mention_event",
    "message_changed_event",
    "message_deleted_event",
    "message_event",
    "next_ts",
    "reaction_added_event",
    "slack_signature",
]
