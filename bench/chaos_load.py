"""Events delivered as Slack delivers them: signed, at a steady rate, retried when not acked.

Slack retries an event it got no 200 for (an error, a refused connection, or no answer within
3 s) up to three times, with the same `event_id` and `X-Slack-Retry-Num` 1, 2, 3
(https://docs.slack.dev/apis/events-api/#retries). Slack spaces them out over five minutes;
here they follow each other within seconds (`RETRY_DELAYS`), so a run stays short.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.slack_emulator import SlackSender

ACK_TIMEOUT_SECONDS = 3.0  # Slack's: no 200 within 3 s is a failure
RETRY_DELAYS = (0.5, 1.5, 3.0)


@dataclass
class Delivery:
    """One event and every answer its deliveries got (a status code, or what went wrong)."""

    event_id: str
    ts: str
    answers: list[str] = field(default_factory=list)
    acked: bool = False
    first_sent: float = 0.0
    acked_at: float | None = None


@dataclass
class LoadResult:
    deliveries: list[Delivery]

    @property
    def acked(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.acked]

    @property
    def unacked(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.acked]

    def answers(self) -> Counter[str]:
        return Counter(answer for d in self.deliveries for answer in d.answers)

    def count_5xx(self) -> int:
        """Server errors other than 503, the answer for a database that cannot be reached."""
        return sum(
            n for answer, n in self.answers().items() if answer.startswith("5") and answer != "503"
        )

    def count_503(self) -> int:
        return self.answers()["503"]

    def count_non_200(self) -> int:
        return sum(n for answer, n in self.answers().items() if answer != "200")


class SlackRetries:
    """Delivers events to ticketbot's replicas, round robin (as a load balancer would), each
    retried on another pick when not acknowledged."""

    def __init__(self, senders: Sequence[SlackSender]) -> None:
        self._senders = list(senders)
        self._turn = 0

    async def deliver(self, event: dict[str, Any]) -> Delivery:
        delivery = Delivery(f"Ev{uuid.uuid4().hex[:12].upper()}", str(event["ts"]))
        delivery.first_sent = time.monotonic()
        reason = ""
        for retry_num in range(len(RETRY_DELAYS) + 1):
            if retry_num:
                await asyncio.sleep(RETRY_DELAYS[retry_num - 1])
            sender = self._senders[self._turn % len(self._senders)]
            self._turn += 1
            try:
                answer = await sender.send_event(
                    event,
                    event_id=delivery.event_id,
                    retry_num=retry_num or None,
                    retry_reason=reason or "http_error",
                )
            except httpx.TimeoutException:
                delivery.answers.append("timeout")
                reason = "http_timeout"
                continue
            except httpx.TransportError as exc:
                delivery.answers.append(type(exc).__name__)
                reason = "connection_failed"
                continue
            delivery.answers.append(str(answer.status_code))
            if answer.status_code == 200:
                delivery.acked = True
                delivery.acked_at = time.monotonic()
                return delivery
            reason = "http_error"
        return delivery


async def steady_load(
    make_event: Callable[[], dict[str, Any]],
    retries: SlackRetries,
    *,
    count: int,
    rate: float,
) -> LoadResult:
    """`count` events at `rate` a second, each sent when due whatever became of the others;
    returns once every event is acknowledged or out of retries."""
    start = time.monotonic()
    tasks: list[asyncio.Task[Delivery]] = []
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(retries.deliver(make_event())))
    return LoadResult(list(await asyncio.gather(*tasks)))


def slack_client() -> httpx.AsyncClient:
    """Slack's side of the connection: a 3 s answer budget, fresh connections for every
    request (a connection to a replica killed since would fail for the wrong reason)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(ACK_TIMEOUT_SECONDS),
        limits=httpx.Limits(max_keepalive_connections=0),
    )
