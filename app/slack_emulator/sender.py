"""Send requests to a Slack app exactly as Slack does: Events API, slash commands, interactivity.

Every request is signed with the app's signing secret (``X-Slack-Signature``,
``X-Slack-Request-Timestamp``); keyword overrides produce stale, forged or unsigned requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from app.slack_emulator.acks import ack_problems
from app.slack_emulator.block_kit import TextRules
from app.slack_emulator.socket_mode import SocketModeHub

SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
VERIFICATION_TOKEN = "emulator-verification-token"  # the deprecated envelope "token"


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``, keyed by the signing secret."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def _slack_id(prefix: str, length: int = 10) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _trigger_id() -> str:
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


class SlackAnswerRefused(AssertionError):
    """The app answered a command or an interaction with something Slack would refuse."""


def _enterprise(enterprise_id: str | None, enterprise_name: str | None) -> dict[str, str] | None:
    """``enterprise`` of an interaction payload: the Grid org, or None outside one
    (bolt-python tests/scenario_tests/test_view_submission.py, ``connect_channel_payload``)."""
    if enterprise_id is None:
        return None
    return {"id": enterprise_id, "name": enterprise_name or enterprise_id}


def _event_context(event: dict[str, Any], team_id: str, app_id: str) -> str:
    """An opaque ``event_context`` shaped like Slack's (``4-`` + base64 JSON)."""
    context = {"et": event.get("type"), "tid": team_id, "aid": app_id}
    channel = event.get("channel") or event.get("item", {}).get("channel")
    if channel:
        context["cid"] = channel
    encoded = base64.urlsafe_b64encode(json.dumps(context, separators=(",", ":")).encode())
    return "4-" + encoded.decode().rstrip("=")


class SlackSender:
    """Posts signed Slack requests to an app at ``base_url + path``."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        path: str = "/slack/events",
        team_id: str = "T0001",
        api_app_id: str = "A0001",
        clock: Callable[[], float] = time.time,
        client: httpx.AsyncClient | None = None,
        team_domain: str = "acme",
        bot_user_id: str = "UBOT",
        check_answers: bool = True,
        answer_rules: TextRules | None = None,
        socket_mode: SocketModeHub | None = None,
        ack_within: float = 10.0,
        redeliver: bool = False,
    ) -> None:
        """``team_id`` is the installation: the workspace that installed the app.

        With ``socket_mode`` (an emulator's :attr:`~SlackEmulator.socket_mode`) every request
        goes as a Socket Mode envelope over the app's connection instead of a signed POST
        (signing arguments are then ignored), and the answer is the app's acknowledgement:
        200 with its payload, or 503 if none came within ``ack_within`` seconds. With
        ``redeliver`` an event not acknowledged in time is sent again, as Slack does.

        With ``check_answers`` (the default) every answer the app gives a command or an
        interaction is checked as Slack would (:mod:`.acks`); one Slack would refuse raises
        :class:`SlackAnswerRefused`. ``answer_rules`` tunes the text checks.
        """
        self.url = base_url.rstrip("/") + "/" + path.lstrip("/")
        self.check_answers = check_answers
        self._answer_rules = answer_rules or TextRules()
        self._secret = signing_secret
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._socket_mode = socket_mode
        self._ack_within = ack_within
        self._redeliver = redeliver

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> SlackSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- Events API --------------------------------------------------------------------------

    async def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        signature: str | None = None,
        unsigned: bool = False,
        is_ext_shared_channel: bool = False,
        team_id: str | None = None,
        installation_team_id: str | None = None,
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
        context_team_id: str | None = None,
        context_enterprise_id: str | None = None,
        installation_enterprise_id: str | None = None,
        bare: bool = False,
    ) -> httpx.Response:
        """Deliver ``event`` in an ``event_callback`` envelope.

        ``bare``: only the fields Slack's docs show for ``app_uninstalled`` and
        ``tokens_revoked`` (docs.slack.dev/reference/events/app_uninstalled, /tokens_revoked):
        no ``authorizations``, no context; nothing is installed any more to authorise.

        ``retry_num`` marks a redelivery (``X-Slack-Retry-Num``/``-Reason``); reuse the
        ``event_id`` of the first delivery to emulate Slack's retries faithfully.

        Slack Connect and Enterprise Grid (the envelope's fields: https://api.slack.com/types/event
        and bolt-js's EnvelopedEvent, https://docs.slack.dev/tools/bolt-js/reference/interfaces/
        EnvelopedEvent):

        * ``team_id``: the team where the event happened, e.g. the customer's workspace in a
          Slack Connect channel (default: the installation). The installation that handles it
          is ``authorizations[0]``: ``installation_team_id`` or the sender's ``team_id``
          (bolt-python tests/scenario_tests/test_events_shared_channels.py: envelope
          ``T_SOURCE``, authorization ``T_INSTALLED``).
        * ``enterprise_id``: the top-level Grid org where the event happened; the
          authorization's is ``installation_enterprise_id`` or the same (the shared-channels
          test has ``E_SOURCE`` and ``E_INSTALLED``). With ``is_enterprise_install`` (an
          org-wide install) the authorization has no team (bolt-python
          tests/scenario_tests/test_events_org_apps.py).
        * ``context_team_id`` / ``context_enterprise_id``: the channel's owning workspace and
          org (default: the installation, and ``enterprise_id``).
        * ``is_ext_shared_channel``: the channel is shared with another organisation.
        """
        team = team_id or self.team_id
        installation = None if is_enterprise_install else (installation_team_id or self.team_id)
        envelope: dict[str, Any] = {
            "token": VERIFICATION_TOKEN,
            "team_id": team,
            "context_team_id": context_team_id or installation or team,
            "context_enterprise_id": context_enterprise_id or enterprise_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or _slack_id("Ev"),
            "event_time": int(self._clock()),
            "authorizations": [
                {
                    "enterprise_id": installation_enterprise_id or enterprise_id,
                    "team_id": installation,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": is_enterprise_install,
                }
            ],
            "is_ext_shared_channel": is_ext_shared_channel,
            "event_context": _event_context(event, team, self.api_app_id),
        }
        if enterprise_id is not None:
            envelope["enterprise_id"] = enterprise_id
        if bare:
            for field in ("context_team_id", "context_enterprise_id", "authorizations"):
                envelope.pop(field)
            envelope.pop("is_ext_shared_channel")
            envelope.pop("event_context")
        if self._socket_mode is not None:
            return await self._over_socket(
                "events_api",
                envelope,
                retry_attempt=retry_num or 0,
                retry_reason=retry_reason if retry_num else "",
            )
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self._post_json(
            envelope, timestamp=timestamp, signature=signature, unsigned=unsigned, headers=headers
        )

    async def send_url_verification(
        self,
        challenge: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        unsigned: bool = False,
    ) -> httpx.Response:
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return await self._post_json(
            body, timestamp=timestamp, signature=signature, unsigned=unsigned
        )

    # -- slash commands and interactivity ----------------------------------------------------

    async def send_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/ticket",
        response_url: str | None = None,
        trigger_id: str | None = None,
        user_name: str = "user",
        channel_name: str = "support",
        timestamp: int | None = None,
        signature: str | None = None,
        unsigned: bool = False,
        team_id: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        is_enterprise_install: bool = False,
    ) -> httpx.Response:
        """A slash command, form-encoded with Slack's fields in Slack's order.

        ``text`` is the command's text as Slack delivers it (escaped, mentions as
        ``<@U123|name>``). In a Grid org it also names ``enterprise_id`` and
        ``enterprise_name`` (bolt-python tests/adapter_tests/asgi/test_asgi_http.py).
        """
        team = team_id or self.team_id
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": team,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
        }
        if enterprise_id is not None:
            form["enterprise_id"] = enterprise_id
            form["enterprise_name"] = enterprise_name or enterprise_id
        form.update(
            {
                "is_enterprise_install": "true" if is_enterprise_install else "false",
                "response_url": response_url or self._fake_response_url("commands", team),
                "trigger_id": trigger_id or _trigger_id(),
            }
        )
        if self._socket_mode is not None:
            response = await self._over_socket("slash_commands", form)
        else:
            response = await self._post(
                urlencode(form).encode(),
                "application/x-www-form-urlencoded",
                timestamp=timestamp,
                signature=signature,
                unsigned=unsigned,
            )
        self._check_answer(response, kind="command")
        return response

    async def send_block_actions(
        self,
        actions: list[dict[str, Any]],
        *,
        user_id: str,
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        container: dict[str, Any] | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        view: dict[str, Any] | None = None,
        user_name: str = "user",
        channel_name: str = "support",
        timestamp: int | None = None,
        signature: str | None = None,
        unsigned: bool = False,
        team_id: str | None = None,
        user_team_id: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        is_enterprise_install: bool = False,
    ) -> httpx.Response:
        """A ``block_actions`` payload: a click in a message (``message``) or a view (``view``).

        Each action only needs ``action_id``; ``type``, ``block_id`` and ``action_ts`` are
        filled in when absent.

        ``team.id`` is the app's workspace (default: the installation) and ``user.team_id`` the
        clicker's own (default: the same); a Slack Connect user clicking the app's message has
        another (java-slack-sdk issue 1041 quotes such a payload). In a Grid org ``team``
        names the org and ``enterprise`` is set (bolt-python
        tests/scenario_tests/test_block_actions.py).
        """
        team = team_id or self.team_id
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, user_name, user_team_id or team),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "container": container or self._container(channel_id, message, view),
            "trigger_id": trigger_id or _trigger_id(),
            "team": self._team(team, enterprise_id, enterprise_name),
            "enterprise": _enterprise(enterprise_id, enterprise_name),
            "is_enterprise_install": is_enterprise_install,
        }
        if channel_id:
            payload["channel"] = {"id": channel_id, "name": channel_name}
        if message is not None:
            payload["message"] = message
        if view is not None:
            payload["view"] = view
        payload["state"] = {"values": {}}
        # Slack gives a response_url for clicks in messages, not for clicks in views.
        if response_url or (view is None and channel_id):
            payload["response_url"] = response_url or self._fake_response_url("actions", team)
        payload["actions"] = [self._action(action) for action in actions]
        response = await self._post_payload(
            payload, timestamp=timestamp, signature=signature, unsigned=unsigned
        )
        self._check_answer(response, kind="block_actions")
        return response

    async def send_view_submission(
        self,
        view: dict[str, Any],
        *,
        user_id: str,
        user_name: str = "user",
        timestamp: int | None = None,
        signature: str | None = None,
        unsigned: bool = False,
        team_id: str | None = None,
        user_team_id: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        is_enterprise_install: bool = False,
    ) -> httpx.Response:
        """A ``view_submission``; ``view`` needs ``callback_id`` and ``state.values``, the
        rest of Slack's view fields are filled in when absent.

        For a Slack Connect user pass their workspace as ``team_id``: ``team.id``,
        ``user.team_id`` and ``view.team_id`` are the user's side while
        ``view.app_installed_team_id`` stays the installation (bolt-python
        tests/scenario_tests/test_view_submission.py, ``connect_channel_payload``).
        ``enterprise_id`` adds the Grid org to ``team`` and ``enterprise``.
        """
        team = team_id or self.team_id
        view_id = view.get("id") or _slack_id("V")
        full_view = {
            "id": view_id,
            "team_id": team,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Ticket", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": "BBOT",
            **view,
        }
        payload = {
            "type": "view_submission",
            "team": self._team(team, enterprise_id, enterprise_name),
            "user": self._user(user_id, user_name, user_team_id or team),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": _trigger_id(),
            "view": full_view,
            "response_urls": [],
            "is_enterprise_install": is_enterprise_install,
            "enterprise": _enterprise(enterprise_id, enterprise_name),
        }
        response = await self._post_payload(
            payload, timestamp=timestamp, signature=signature, unsigned=unsigned
        )
        self._check_answer(response, kind="view_submission", submitted_view=full_view)
        return response

    async def send_shortcut(
        self,
        callback_id: str,
        *,
        user_id: str,
        message: dict[str, Any] | None = None,
        channel_id: str | None = None,
        trigger_id: str | None = None,
        user_name: str = "user",
        channel_name: str = "support",
        timestamp: int | None = None,
        signature: str | None = None,
        unsigned: bool = False,
        team_id: str | None = None,
        user_team_id: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        is_enterprise_install: bool = False,
    ) -> httpx.Response:
        """A global ``shortcut``, or with ``message`` (and its ``channel_id``) a message
        shortcut (``message_action``), as Slack sends them.

        ``message`` is Slack's message object (``type``, ``user``, ``ts``, ``text``, ...); a
        missing ``type`` is filled in. ``team``, ``user.team_id`` and the Grid fields as in
        :meth:`send_block_actions` (bolt-python tests/scenario_tests/test_shortcut.py).
        """
        team = team_id or self.team_id
        payload: dict[str, Any] = {
            "type": "shortcut" if message is None else "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{self._clock():.6f}",
            "team": self._team(team, enterprise_id, enterprise_name),
            "user": self._user(user_id, user_name, user_team_id or team),
            "is_enterprise_install": is_enterprise_install,
            "enterprise": _enterprise(enterprise_id, enterprise_name),
            "callback_id": callback_id,
            "trigger_id": trigger_id or _trigger_id(),
        }
        if message is not None:
            if not channel_id:
                raise ValueError("a message shortcut needs the message's channel_id")
            payload["channel"] = {"id": channel_id, "name": channel_name}
            payload["response_url"] = self._fake_response_url("app-actions", team)
            payload["message_ts"] = message.get("ts")
            payload["message"] = {"type": "message", **message}
        response = await self._post_payload(
            payload, timestamp=timestamp, signature=signature, unsigned=unsigned
        )
        self._check_answer(response, kind=str(payload["type"]))
        return response

    # -- helpers -----------------------------------------------------------------------------

    def _user(self, user_id: str, user_name: str, team: str) -> dict[str, str]:
        return {"id": user_id, "username": user_name, "name": user_name, "team_id": team}

    def _team(
        self, team: str, enterprise_id: str | None, enterprise_name: str | None
    ) -> dict[str, str]:
        """``team`` of an interaction; in a Grid org with ``enterprise_id`` and
        ``enterprise_name`` (bolt-python tests/scenario_tests/test_block_actions.py)."""
        fields = {"id": team, "domain": self.team_domain}
        if enterprise_id is not None:
            fields["enterprise_id"] = enterprise_id
            fields["enterprise_name"] = enterprise_name or enterprise_id
        return fields

    def _check_answer(
        self,
        response: httpx.Response,
        *,
        kind: str,
        submitted_view: dict[str, Any] | None = None,
    ) -> None:
        """Raise :class:`SlackAnswerRefused` if the app answered what Slack would refuse."""
        if not self.check_answers or response.status_code != 200 or not response.content:
            return
        if "json" not in response.headers.get("content-type", ""):
            return  # a plain-text answer is the reply's text: nothing structured to check
        try:
            body = response.json()
        except ValueError:
            raise SlackAnswerRefused(f"{kind}: the app answered invalid JSON") from None
        problems = ack_problems(
            body, kind=kind, submitted_view=submitted_view, rules=self._answer_rules
        )
        if problems:
            raise SlackAnswerRefused(
                f"{kind}: the app answered {body!r}, which Slack would refuse:\n"
                + "\n".join(f"  {problem} ({problem.error})" for problem in problems)
            )

    def _fake_response_url(self, kind: str, team: str) -> str:
        return f"https://hooks.slack.com/{kind}/{team}/{secrets.randbelow(10**13)}/{secrets.token_hex(12)}"

    @staticmethod
    def _container(
        channel_id: str | None, message: dict[str, Any] | None, view: dict[str, Any] | None
    ) -> dict[str, Any]:
        if view is not None:
            return {"type": "view", "view_id": view.get("id")}
        container: dict[str, Any] = {"type": "message", "channel_id": channel_id}
        if message is not None:
            container["message_ts"] = message.get("ts")
            if message.get("thread_ts"):
                container["thread_ts"] = message["thread_ts"]
        container["is_ephemeral"] = False
        return container

    def _action(self, action: dict[str, Any]) -> dict[str, Any]:
        filled = {
            "type": "button",
            "block_id": secrets.token_hex(3),
            "action_ts": f"{self._clock():.6f}",
            **action,
        }
        if filled["type"] == "button":
            filled.setdefault(
                "text", {"type": "plain_text", "text": filled.get("action_id", ""), "emoji": True}
            )
        return filled

    async def _over_socket(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> httpx.Response:
        """A Socket Mode envelope instead of a POST; the acknowledgement as an answer."""
        assert self._socket_mode is not None
        ack = await self._socket_mode.deliver(
            kind,
            payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            ack_within=self._ack_within,
            redeliver=self._redeliver,
        )
        if ack is None:
            return httpx.Response(503, text="no acknowledgement")
        if ack.payload:
            return httpx.Response(200, json=ack.payload)
        return httpx.Response(200)

    async def _post_payload(self, payload: dict[str, Any], **signing: Any) -> httpx.Response:
        """Interactivity requests: form-encoded with the JSON in a single ``payload`` field."""
        if self._socket_mode is not None:
            return await self._over_socket("interactive", payload)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._post(body, "application/x-www-form-urlencoded", **signing)

    async def _post_json(
        self,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        **signing: Any,
    ) -> httpx.Response:
        return await self._post(
            json.dumps(body).encode(), "application/json", headers=headers, **signing
        )

    async def _post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None,
        signature: str | None,
        unsigned: bool,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT}
        all_headers.update(headers or {})
        if not unsigned:
            ts = str(int(self._clock()) if timestamp is None else timestamp)
            all_headers["X-Slack-Request-Timestamp"] = ts
            all_headers["X-Slack-Signature"] = signature or slack_signature(self._secret, ts, body)
        # The exact bytes that were signed go on the wire: never let httpx re-encode them.
        return await self._client.post(self.url, content=body, headers=all_headers)
