"""The pace of each Slack Web API call the outbox makes, kept under Slack's published limits.

Slack: limits apply "per API method per workspace/team per app", by tier: Tier 2 "20+ per
minute", Tier 3 "50+ per minute", Tier 4 "100+ per minute"; and "chat.postMessage generally
allows posting one message per second per channel, while also maintaining a workspace-wide
limit" (https://docs.slack.dev/apis/web-api/rate-limits; each method's tier is on its page,
https://docs.slack.dev/reference/methods/<method>). The workspace-wide limit on posts is
"several hundred messages per minute" (slackapi/java-slack-sdk, MethodsRateLimitTier.java,
SpecialTier_chat_postMessage), read here as 300.

A tier's pace lets half its floor through at once and the rest one by one over the minute, so
no window of a minute ever holds more than the floor ("50+" is 50): within what Slack promises,
whatever bursts it tolerates on top. A channel gets one post a second after a short burst
("Short bursts >1 allowed"; same page).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from app.outbox.pacing import Pace

MINUTE = timedelta(minutes=1)


def _tier(per_minute: int) -> Pace:
    """At most `per_minute` calls in any minute: half at once, the other half spread out."""
    half = per_minute // 2
    return Pace(interval=MINUTE / half, burst=half)


TIER_2 = _tier(20)
TIER_3 = _tier(50)
TIER_4 = _tier(100)
POSTS_PER_WORKSPACE = _tier(300)
# One post a second in a channel, after a burst of a few (a triage card and its first replies
# go out together; a flood of alerts is spread at one a second).
POSTS_PER_CHANNEL = Pace(interval=timedelta(seconds=1), burst=10)

# Each method the outbox calls (app/slack/delivery.py OUTBOX_METHODS), with its tier.
METHOD_PACES: Mapping[str, Pace] = {
    "chat.postMessage": POSTS_PER_WORKSPACE,  # and POSTS_PER_CHANNEL
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "team.info": TIER_3,
    "views.publish": TIER_4,
    "usergroups.users.list": TIER_2,
}


def slack_paces(method: str, payload: Mapping[str, Any]) -> dict[str, Pace]:
    """The paced keys one call counts against (key -> its pace); empty if it is not paced."""
    paces: dict[str, Pace] = {}
    pace = METHOD_PACES.get(method)
    if pace is not None:
        paces[f"slack:{method}"] = pace
    channel = _posted_in(method, payload)
    if channel is not None:
        paces[f"slack:{method}:{channel}"] = POSTS_PER_CHANNEL
    return paces


def held_after_429(method: str, payload: Mapping[str, Any]) -> dict[str, Pace]:
    """What a 429 holds for its Retry-After: a post's channel (the limit a post most often
    meets; other channels' posts go on, and meet their own 429 if it was the workspace's limit),
    or the method for anything else. Never the whole outbox."""
    paces = slack_paces(method, payload)
    channel = _posted_in(method, payload)
    held = f"slack:{method}:{channel}" if channel is not None else f"slack:{method}"
    return {key: pace for key, pace in paces.items() if key == held}


def _posted_in(method: str, payload: Mapping[str, Any]) -> str | None:
    channel = payload.get("channel")
    if method == "chat.postMessage" and isinstance(channel, str) and channel:
        return channel
    return None
