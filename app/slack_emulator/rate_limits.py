"""Slack's Web API rate limits, per method, on the emulator's clock.

"Broadly, you'll encounter limits like these, applied on a 'per API method per workspace/team
per app' basis": Tier 1 "1+ per minute", Tier 2 "20+ per minute", Tier 3 "50+ per minute",
Tier 4 "100+ per minute", and a special tier whose conditions "are unique for methods with this
tier. For example, chat.postMessage generally allows posting one message per second per
channel, while also maintaining a workspace-wide limit"
(https://docs.slack.dev/apis/web-api/rate-limits). Over the limit Slack answers HTTP 429 with
``Retry-After`` and ``ratelimited``.

The emulator holds each tier to its floor ("1+" is 1), counted over a sliding minute: stricter
than Slack, which tolerates bursts above the floor, so code that only works thanks to a burst
fails in tests. One emulator is one app in one workspace, so the count is per method.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["METHOD_LIMITS", "RateLimiter", "Tier"]

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Tier:
    name: str
    per_minute: int


TIER_1 = Tier("Tier 1", 1)
TIER_2 = Tier("Tier 2", 20)
TIER_3 = Tier("Tier 3", 50)
TIER_4 = Tier("Tier 4", 100)
# auth.test and chat.getPermalink: "This method allows hundreds of requests per minute", which
# java-slack-sdk counts as 600 (slack-api-client/src/main/java/com/slack/api/methods/
# MethodsRateLimitTier.java, SpecialTier_auth_test / SpecialTier_chat_getPermalink).
SPECIAL_HUNDREDS = Tier("special: hundreds per minute", 600)
# chat.postMessage's workspace-wide limit: "limiting posting to several hundred messages per
# minute" (same java-slack-sdk file, SpecialTier_chat_postMessage). "Several hundred" read as
# 300, its smallest plausible value.
POST_MESSAGE_WORKSPACE = Tier("special: chat.postMessage, whole workspace", 300)

# Each method's tier as Slack's Java SDK lists it (slackapi/java-slack-sdk,
# slack-api-client/src/main/java/com/slack/api/methods/MethodsRateLimits.java at commit
# 02a29a7a34bf9824fb19661ffa4b57b53da901de, citing https://docs.slack.dev/apis/web-api/rate-limits;
# each method's page, https://docs.slack.dev/reference/methods/<method>, shows the same tier).
METHOD_LIMITS: dict[str, Tier] = {
    "auth.test": SPECIAL_HUNDREDS,
    "chat.postMessage": POST_MESSAGE_WORKSPACE,  # plus one per second per channel, below
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "chat.postEphemeral": TIER_4,
    "chat.getPermalink": SPECIAL_HUNDREDS,
    "reactions.add": TIER_3,
    "reactions.remove": TIER_2,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.info": TIER_3,
    "users.info": TIER_4,
    "team.info": TIER_3,
    "usergroups.users.list": TIER_2,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.publish": TIER_4,
    "views.update": TIER_4,
    # "Rate limits: Tier 4" on each method's page (api.slack.com/methods/files.getUploadURLExternal,
    # .../files.completeUploadExternal, .../files.info).
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "files.info": TIER_4,
}

# chat.postMessage per channel: "Posting messages | 1 per second | Short bursts >1 allowed. If
# you attempt bursts, there is no guarantee that messages will ..." (rate limits page above).
# A token bucket per channel: it refills one message a second, as documented, and holds at
# most 30, a modest burst (half of the 60 a minute java-slack-sdk allows per channel), so a
# test that floods one channel hits it without the app needing to pace a normal conversation.
POST_MESSAGE_PER_SECOND = 1.0
POST_MESSAGE_BURST = 30


def _retry_after(seconds: float) -> int:
    """Whole seconds to wait (at least 1), rounding up so the next call is allowed."""
    return max(1, math.ceil(seconds - 1e-9))


@dataclass
class _Window:
    """Calls admitted in the last minute."""

    per_minute: int
    calls: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        while self.calls and self.calls[0] <= now - WINDOW_SECONDS:
            self.calls.popleft()
        if len(self.calls) < self.per_minute:
            return 0.0
        return self.calls[len(self.calls) - self.per_minute] + WINDOW_SECONDS - now

    def take(self, now: float) -> None:
        self.calls.append(now)


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    at: float

    def wait(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + max(now - self.at, 0.0) * self.rate)
        self.at = max(self.at, now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self.tokens -= 1.0


class RateLimiter:
    """Admits or refuses calls; a refused call is not counted."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def admit(self, method: str, args: dict[str, Any], team: str = "") -> int | None:
        """None if the call may go ahead (it is counted), else its ``Retry-After`` seconds.
        Slack's limits are "per app per workspace" (docs.slack.dev/apis/web-api/rate-limits):
        each team's calls are counted apart."""
        tier = METHOD_LIMITS.get(method)
        if tier is None:
            return None
        now = self._clock()
        with self._lock:
            limits: list[_Window | _Bucket] = [
                self._windows.setdefault((team, method), _Window(tier.per_minute))
            ]
            channel = args.get("channel")
            if method == "chat.postMessage" and isinstance(channel, str) and channel:
                limits.append(
                    self._buckets.setdefault(
                        (team, channel),
                        _Bucket(
                            POST_MESSAGE_PER_SECOND, POST_MESSAGE_BURST, POST_MESSAGE_BURST, now
                        ),
                    )
                )
            wait = max(limit.wait(now) for limit in limits)
            if wait > 0:
                return _retry_after(wait)
            for limit in limits:
                limit.take(now)
        return None

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._buckets.clear()
