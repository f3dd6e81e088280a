"""Delivers `slack_api` outbox rows: one Web API call each, its outcome classified."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy.exc import SQLAlchemyError

from app.outbox.delivery import Attempt, DeliveryOutcome
from app.outbox.pacing import Pace, Pacer
from app.slack.installations import BotTokens, NotInstalled
from app.slack.pacing import held_after_429, slack_paces
from app.slack.rendering import RENDER_KEY, Renderer
from app.slack.uploads import (
    COMPLETE_UPLOAD,
    UPLOAD_CHART,
    UploadRefused,
    completion,
    shared_already,
    upload_chart,
)

logger = logging.getLogger(__name__)

# Slack's own "try again" errors, answered with HTTP 200 and ok=false.
TRANSIENT_SLACK_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


# Every Web API method the outbox calls, each through slack_sdk's named method: it knows the
# method's HTTP verb and encoding (conversations.history and team.info take form or query
# arguments and ignore a JSON body; chat.* and views.* take JSON), which a generic
# `api_call(method, json=...)` does not. Scopes: slack_manifest.yml.
OUTBOX_METHODS: dict[
    str, Callable[[AsyncWebClient], Callable[..., Awaitable[AsyncSlackResponse]]]
] = {
    "chat.postMessage": lambda client: client.chat_postMessage,
    "chat.update": lambda client: client.chat_update,
    "chat.postEphemeral": lambda client: client.chat_postEphemeral,
    "conversations.history": lambda client: client.conversations_history,
    "conversations.replies": lambda client: client.conversations_replies,
    "team.info": lambda client: client.team_info,
    "views.publish": lambda client: client.views_publish,
    "files.completeUploadExternal": lambda client: client.files_completeUploadExternal,
}


def named_method(
    client: AsyncWebClient, method: str
) -> Callable[..., Awaitable[AsyncSlackResponse]] | None:
    """slack_sdk's method for a Web API method name, or None if ticketbot does not call it."""
    pick = OUTBOX_METHODS.get(method)
    return pick(client) if pick is not None else None


# Every post carries its outbox row's id as message metadata (kept by Slack and returned by
# conversations.history/replies with include_all_metadata: https://api.slack.com/metadata,
# SLACK_NOTES). Slack has no idempotency key; this lets a post whose first attempt may have
# landed be found instead of posted twice.
POST_METADATA_TYPE = "ticketbot_outbox"
LOOKUP_PAGES = 3
LOOKUP_MARGIN_SECONDS = 60.0  # clocks of ticketbot and Slack may differ a little


@dataclass(frozen=True)
class Rendered:
    """A render spec's message, rendered ahead with the rest of its claim (None: what it
    shows no longer exists)."""

    fields: dict[str, Any] | None


class SlackApiSender:
    """Makes one outbox row's Web API call. With a pacer, each call first takes its paced
    slot (app/slack/pacing.py), shared by every replica, and a 429 holds its method (and
    channel) for Slack's Retry-After, not the whole outbox."""

    def __init__(
        self,
        client: AsyncWebClient,
        renderer: Renderer | None = None,
        *,
        pacer: Pacer | None = None,
        paces: Callable[[str, Mapping[str, Any]], dict[str, Pace]] = slack_paces,
        tokens: BotTokens | None = None,
    ) -> None:
        """`paces` gives a call's paced keys; Slack's own (the default) unless a benchmark
        wants the same keys without the waits. With `tokens` (several workspaces installed
        through OAuth), each row is sent with its workspace's token; else with `client`'s."""
        self._client = client
        self._tokens = tokens
        self._renderer = renderer
        self._pacer = pacer
        self._paces = paces

    def order_key(self, target: str, payload: dict[str, Any]) -> Hashable | None:
        """Posts into one conversation (a channel's top level, or one thread) reach Slack in
        the order they were written: Slack orders a conversation by arrival."""
        if target != "chat.postMessage":
            return None
        return (payload.get("channel"), payload.get("thread_ts"))

    async def prepare(self, rows: list[tuple[int, str, dict[str, Any]]]) -> dict[int, Any]:
        """The messages of the claim's render specs (triage cards, CSAT prompts, Home tabs),
        rendered from one session with their tickets loaded at once."""
        if self._renderer is None:
            return {}
        specs = [
            (row_id, payload[RENDER_KEY]) for row_id, _, payload in rows if RENDER_KEY in payload
        ]
        if not specs:
            return {}
        rendered = await self._renderer.render_all([spec for _, spec in specs])
        return {
            row_id: Rendered(fields) for (row_id, _), fields in zip(specs, rendered, strict=True)
        }

    async def send(self, target: str, payload: dict[str, Any], attempt: Attempt) -> DeliveryOutcome:
        paces = (
            self._per_workspace(self._paces(target, payload), attempt)
            if self._pacer is not None
            else {}
        )
        if paces and attempt.paced_slot_at is None:
            assert self._pacer is not None
            try:
                slot = await self._pacer.reserve(paces)
            except (SQLAlchemyError, OSError) as exc:
                return DeliveryOutcome.retry(f"could not take a paced slot: {exc!r}")
            if slot is not None:
                return DeliveryOutcome.deferred(slot)
        outcome = await self._call(target, payload, attempt)
        if paces and outcome.retry_after_seconds is not None and outcome.status_code == 429:
            assert self._pacer is not None
            until = self._pacer.now() + timedelta(seconds=outcome.retry_after_seconds)
            try:
                held = self._per_workspace(held_after_429(target, payload), attempt)
                await self._pacer.hold(held, until)
            except (SQLAlchemyError, OSError) as exc:  # the row itself still waits Retry-After
                logger.warning("could not hold %s until %s: %r", target, until, exc)
        return outcome

    def _per_workspace(self, paces: dict[str, Pace], attempt: Attempt) -> dict[str, Pace]:
        """Slack's limits are "per API method per workspace/team per app" (app/slack/pacing.py):
        with several workspaces installed, each has its own keys (and its channel ids may
        repeat another's)."""
        if self._tokens is None or attempt.workspace_id is None:
            return paces
        return {f"ws{attempt.workspace_id}:{key}": pace for key, pace in paces.items()}

    async def _client_for(self, attempt: Attempt) -> AsyncWebClient | DeliveryOutcome:
        """The client to send `attempt` with, or the outcome when there is none."""
        if self._tokens is None:
            return self._client
        try:
            return await self._tokens.client_for(attempt.workspace_id)
        except NotInstalled as exc:
            return DeliveryOutcome.rejected(f"not sent: {exc}")
        except (SQLAlchemyError, OSError) as exc:
            return DeliveryOutcome.retry(f"could not read the workspace's token: {exc!r}")

    async def _call(
        self, target: str, payload: dict[str, Any], attempt: Attempt
    ) -> DeliveryOutcome:
        client = await self._client_for(attempt)
        if isinstance(client, DeliveryOutcome):
            return client
        if target == "chat.postMessage":
            payload = {**payload, "metadata": post_metadata(attempt.outbox_id)}
            if attempt.maybe_sent_since is not None:
                earlier = await self._find_post(client, payload, attempt)
                if earlier is not None:
                    return earlier
        if RENDER_KEY in payload:
            spec = payload[RENDER_KEY]
            if isinstance(attempt.prepared, Rendered):  # rendered with the rest of its claim
                rendered = attempt.prepared.fields
            else:
                rendered = await self._renderer.render(spec) if self._renderer else None
            if rendered is None:
                return DeliveryOutcome.rejected(f"nothing to render for {spec}")
            payload = {key: value for key, value in payload.items() if key != RENDER_KEY}
            payload.update(rendered)
        call: Callable[..., Awaitable[Any]] | None
        if target == UPLOAD_CHART:  # a composite: see app/slack/uploads.py
            call = functools.partial(upload_chart, client)
            payload = {"payload": payload}
        elif target == COMPLETE_UPLOAD:
            if attempt.maybe_sent_since is not None:
                try:
                    if await shared_already(client, payload):
                        return DeliveryOutcome.delivered({"file_id": payload.get("file_id")})
                except SlackApiError as exc:
                    return _classify_api_error(exc)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    return DeliveryOutcome.retry(f"could not check for an earlier share: {exc!r}")
            call = named_method(client, target)
            payload = completion(payload)
        else:
            call = named_method(client, target)
        if call is None:
            return DeliveryOutcome.rejected(f"ticketbot does not call Slack's {target}")
        try:
            response = await call(**payload)
        except TypeError as exc:  # arguments the named method does not take: a bug of ours
            return DeliveryOutcome.rejected(f"bad arguments for {target}: {exc}")
        except SlackApiError as exc:
            return _classify_api_error(exc)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return DeliveryOutcome.retry(
                f"timed out calling {target}: {type(exc).__name__}", unknown=True
            )
        except aiohttp.ClientConnectorError as exc:  # never connected: surely not sent
            return DeliveryOutcome.retry(f"could not reach Slack for {target}: {exc}")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            return DeliveryOutcome.retry(
                f"lost the connection to Slack during {target}: {exc}", unknown=True
            )
        except UploadRefused as exc:
            return DeliveryOutcome.retry(f"{target}: {exc}")
        if isinstance(response, dict):  # a composite's own result
            return DeliveryOutcome.delivered(response)
        data = response.data if isinstance(response.data, dict) else {}
        return DeliveryOutcome.delivered(_useful_result(data), status_code=response.status_code)

    async def _find_post(
        self, client: AsyncWebClient, payload: dict[str, Any], attempt: Attempt
    ) -> DeliveryOutcome | None:
        """An earlier attempt's post, if it landed: delivered with its ts, not posted again.
        None if it is not there; a retry if Slack could not be asked."""
        channel = str(payload.get("channel") or "")
        thread_ts = payload.get("thread_ts")
        if not channel or channel[:1] in ("U", "W") or attempt.maybe_sent_since is None:
            return None  # a direct message by user id: its channel id is not known here
        since = attempt.maybe_sent_since.timestamp() - LOOKUP_MARGIN_SECONDS
        cursor: str | None = None
        try:
            for _ in range(LOOKUP_PAGES):
                args: dict[str, Any] = {
                    "channel": channel,
                    "oldest": f"{since:.6f}",
                    "include_all_metadata": True,
                    "limit": 100,
                }
                if cursor:
                    args["cursor"] = cursor
                response = await (
                    client.conversations_replies(ts=str(thread_ts), **args)
                    if thread_ts
                    else client.conversations_history(**args)
                )
                for message in response.get("messages") or []:
                    if _is_our_post(message, attempt.outbox_id):
                        ts = message.get("ts")
                        return DeliveryOutcome.delivered({"ts": ts, "channel": channel})
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
        except SlackApiError as exc:
            return _classify_api_error(exc)
        except (TimeoutError, aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            return DeliveryOutcome.retry(f"could not check for an earlier post: {exc!r}")
        return None


def post_metadata(outbox_id: int) -> dict[str, Any]:
    """What every post carries: its outbox row's id (see POST_METADATA_TYPE)."""
    return {"event_type": POST_METADATA_TYPE, "event_payload": {"outbox_id": outbox_id}}


def _is_our_post(message: dict[str, Any], outbox_id: int) -> bool:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != POST_METADATA_TYPE:
        return False
    return (metadata.get("event_payload") or {}).get("outbox_id") == outbox_id


def _classify_api_error(exc: SlackApiError) -> DeliveryOutcome:
    response = exc.response
    status = getattr(response, "status_code", None)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    # Slack explains refused blocks and arguments in response_metadata.messages.
    details = (data.get("response_metadata") or {}).get("messages") or []
    explained = (
        f"{error}: " + "; ".join(str(detail) for detail in details)[:500] if details else error
    )
    if status == 429:
        return DeliveryOutcome.retry(
            f"rate limited: {error}", status_code=status, retry_after=_retry_after(response)
        )
    if status is not None and status >= 500:
        return DeliveryOutcome.retry(f"Slack answered {status}: {explained}", status_code=status)
    if error in TRANSIENT_SLACK_ERRORS:
        return DeliveryOutcome.retry(f"Slack error {explained}", status_code=status)
    return DeliveryOutcome.rejected(f"Slack error {explained}", status_code=status)


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def _useful_result(data: dict[str, Any]) -> dict[str, Any]:
    """What later work may need from Slack's answer; the rest of the echo is dropped."""
    result: dict[str, Any] = {
        key: data[key] for key in ("ts", "channel", "message_ts", "permalink") if key in data
    }
    view = data.get("view")
    if isinstance(view, dict) and "id" in view:
        result["view_id"] = view["id"]
    team = data.get("team")
    if isinstance(team, dict):
        result["team"] = {key: team.get(key) for key in ("id", "name", "domain")}
    messages = data.get("messages")
    if isinstance(messages, list):
        # A page of conversations.history or .replies, as intake reads a message (catch-up,
        # app/flows/catch_up.py) and where the list goes on; the rest of each message (blocks,
        # files, reactions, ...) is dropped.
        result["messages"] = [
            {key: message.get(key) for key in LISTED_MESSAGE_FIELDS}
            | {"text": str(message.get("text") or "")[:MESSAGE_TEXT_MAX_LENGTH]}
            for message in messages[:LISTED_MESSAGES_KEPT]
            if isinstance(message, dict)
        ]
        result["has_more"] = bool(data.get("has_more"))
        cursor = (data.get("response_metadata") or {}).get("next_cursor")
        if cursor:
            result["next_cursor"] = str(cursor)
    return result


# What a listed message keeps. Bounded: a page is at most CATCH_UP_PAGE_SIZE (<= 200) messages,
# plus the thread's parent that every conversations.replies page starts with, and Slack cuts a
# message's text at 40,000 characters
# (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
LISTED_MESSAGE_FIELDS = (
    "ts",
    "user",
    "thread_ts",
    "bot_id",
    "subtype",
    "team",
    "user_team",
    "reply_count",
    "reply_users",
    "reply_users_count",
)
LISTED_MESSAGES_KEPT = 201
MESSAGE_TEXT_MAX_LENGTH = 40_000
