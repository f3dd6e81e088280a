"""SlackEmulator: a fake Slack Web API served over real HTTP, for tests, benchmarks and demos."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from app.slack_emulator.block_kit import TextRules, check_message, check_view
from app.slack_emulator.faults import Fault, FaultQueue
from app.slack_emulator.method_specs import (
    METHOD_SPECS,
    RequestShape,
    argument_problems,
    transport_problems,
)
from app.slack_emulator.methods import METHODS
from app.slack_emulator.models import Channel, Message, Team, User, domain_for
from app.slack_emulator.mrkdwn import wire_text
from app.slack_emulator.oauth import OAuthApp, OAuthRefusal
from app.slack_emulator.oauth import access as oauth_access
from app.slack_emulator.oauth import authorize as oauth_authorize
from app.slack_emulator.openid import AUTHORIZE_PATH as OPENID_AUTHORIZE_PATH
from app.slack_emulator.openid import TOKEN_METHOD as OPENID_TOKEN
from app.slack_emulator.openid import USERINFO_METHOD as OPENID_USERINFO
from app.slack_emulator.openid import OpenIdProvider
from app.slack_emulator.payloads import rich_text_blocks
from app.slack_emulator.problems import NO_TEXT, Problem, error_of, slack_messages
from app.slack_emulator.rate_limits import RateLimiter
from app.slack_emulator.records import RESPONSE_URL_METHOD, CallLog, RecordedCall
from app.slack_emulator.routes import (
    AUTHORIZE_PATH,
    CONNECTIONS_OPEN,
    OAUTH_ACCESS,
    RESPONSE_URL_PREFIX,
    create_app,
)
from app.slack_emulator.server import ServerRunner
from app.slack_emulator.socket_mode import SocketModeHub
from app.slack_emulator.ts import TsGenerator, default_ts_generator, is_ts, ts_micros
from app.slack_emulator.workspace import ApiError, BotIdentity, Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# For benchmarks, which measure throughput: no pacing and no payload checks (in the same process
# as the app, they would cost its CPU). The test suite keeps every check on.
BENCH_EMULATOR: dict[str, bool] = {"rate_limits": False, "block_kit": False, "escaping": False}


class SlackEmulator:
    """Emulates the parts of Slack's Web API that ticketbot uses.

    Start it inside the running event loop (``await emu.start()`` or ``async with``), point
    ``slack_sdk`` at :attr:`api_url`, then inspect :meth:`calls` / :meth:`messages`.
    All state lives in this object; handlers never await while mutating it, so the test
    may read it at any time.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-emulator",
        team_id: str = "T0001",
        team_name: str = "Acme Support",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        clock: Callable[[], float] | None = None,
        strict_channels: bool = False,
        rate_limits: bool = True,
        block_kit: bool = True,
        text_fallback: bool = True,
        escaping: bool = True,
        allow_broadcasts: bool = False,
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
        app_token: str = "xapp-1-A0001-emulator",
        app_id: str = "A0001",
    ) -> None:
        """Strict by default: every check below refuses what Slack refuses, or more.

        ``rate_limits``: Slack's per-method tiers (:mod:`.rate_limits`); benchmarks pass False.
        ``block_kit``: Block Kit validation of chat.*, response_url and views.* payloads.
        ``text_fallback``: a message with ``blocks`` needs a top-level ``text``.
        ``escaping``: ``&``, ``<``, ``>`` escaped in text and mrkdwn, no entities in plain_text.
        ``allow_broadcasts``: let ``<!here>``, ``<!channel>``... through (refused by default).
        ``enterprise_id`` / ``is_enterprise_install``: an Enterprise Grid workspace, or an
        org-wide installation (auth.test answers with them).
        ``app_token`` / ``app_id``: the app-level token Socket Mode connects with
        (:attr:`socket_mode`), and the app's id.
        """
        self.bot_token = bot_token
        self._clock = clock or time.time
        self._rate_limiter = RateLimiter(self._clock) if rate_limits else None
        self._block_kit = block_kit
        self._text_rules = TextRules(
            text_fallback=text_fallback, escaping=escaping, allow_broadcasts=allow_broadcasts
        )
        self._workspace = Workspace(
            team=Team(id=team_id, name=team_name, domain=domain_for(team_name)),
            bot=BotIdentity(user_id=bot_user_id, bot_id=bot_id),
            clock=self._clock,
            # On the real clock, share the generator used by payload builders so user and
            # bot messages never collide; a custom clock gets its own.
            ts=TsGenerator(clock) if clock else default_ts_generator,
            strict_channels=strict_channels,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
            base_url=lambda: self.base_url,
        )
        # Every workspace the app is (or can be) installed in, by team id, and every live bot
        # token: the workspace it acts in, and when it expires (None: never).
        self._teams: dict[str, Workspace] = {team_id: self._workspace}
        self._tokens: dict[str, tuple[Workspace, float | None]] = {
            bot_token: (self._workspace, None)
        }
        self._revoked: set[str] = set()
        self.oauth: OAuthApp | None = None
        self.openid: OpenIdProvider | None = None
        self._log = CallLog()
        self._faults = FaultQueue()
        # Set while Web API answers flow; cleared by :meth:`answers_held`. One object shared
        # with every view of this emulator.
        self._answers_flow = asyncio.Event()
        self._answers_flow.set()
        self._response_urls: set[str] = set()
        # Replaced on every recorded call; waiters hold the previous one, which gets set.
        # One list shared with every view of this emulator (:meth:`workspace`).
        self._recorded = [asyncio.Event()]
        self.socket_mode = SocketModeHub(
            app_token=app_token, app_id=app_id, base_url=lambda: self.base_url
        )
        self._runner = ServerRunner(create_app(self))

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await self._runner.start(host, port)

    async def stop(self) -> None:
        await self.socket_mode.close_all()
        await self._runner.stop()

    async def go_down(self) -> None:
        """Stop listening (connections are refused) but keep the port for :meth:`come_up`."""
        await self._runner.stop()

    async def come_up(self) -> None:
        await self._runner.restart()

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        host, port = self._runner.host, self._runner.port
        if host is None or port is None:
            raise RuntimeError("SlackEmulator is not started")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """Web API base URL, with the trailing slash slack-sdk expects of ``base_url``."""
        return f"{self.base_url}/api/"

    # -- several workspaces, OAuth ------------------------------------------------------------

    def add_workspace(
        self,
        team_id: str,
        *,
        team_name: str,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        bot_token: str | None = None,
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
    ) -> SlackEmulator:
        """Another workspace the app can be installed in (with `bot_token`, it already is).
        Returns a view of this emulator seeding and inspecting that workspace (same server,
        same call log). Ids may repeat another workspace's: each has its own channels and
        users, as in Slack, where only the team tells them apart.

        With ``is_enterprise_install``, `team_id` is a whole Enterprise Grid org (its E id, the
        same as `enterprise_id`) installed org-wide: one token for all its workspaces, whose
        channel and user ids are unique across the org, so they share one store here."""
        if team_id in self._teams:
            raise ValueError(f"workspace {team_id} exists")
        workspace = Workspace(
            team=Team(id=team_id, name=team_name, domain=domain_for(team_name)),
            bot=BotIdentity(user_id=bot_user_id, bot_id=bot_id),
            clock=self._clock,
            ts=self._workspace.ts,
            strict_channels=self._workspace.strict_channels,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
            base_url=lambda: self.base_url,
        )
        self._teams[team_id] = workspace
        if bot_token is not None:
            self._tokens[bot_token] = (workspace, None)
        return self.workspace(team_id)

    def workspace(self, team_id: str) -> SlackEmulator:
        """A view of this emulator for one of its workspaces (see :meth:`add_workspace`)."""
        view = copy.copy(self)
        view._workspace = self._teams[team_id]
        return view

    def enable_oauth(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_urls: list[str],
        token_rotation: bool = False,
    ) -> OAuthApp:
        """Let the app be installed with Slack's OAuth flow (:mod:`.oauth`)."""
        self.oauth = OAuthApp(client_id, client_secret, list(redirect_urls), token_rotation)
        self.openid = OpenIdProvider(self.oauth)
        return self.oauth

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}{AUTHORIZE_PATH}"

    @property
    def openid_authorize_url(self) -> str:
        return f"{self.base_url}{OPENID_AUTHORIZE_PATH}"

    def bot_tokens(self, team_id: str) -> list[str]:
        """The live bot tokens of a workspace, oldest first."""
        return [token for token, (ws, _) in self._tokens.items() if ws.team.id == team_id]

    def revoke_tokens(self, team_id: str) -> None:
        """The workspace's bot tokens stop working (an uninstall, or a revocation): calls
        with them get `token_revoked`. The test sends the matching events itself."""
        for token in self.bot_tokens(team_id):
            del self._tokens[token]
            self._revoked.add(token)
        if self.oauth is not None:
            for refresh, team in list(self.oauth.refresh_tokens.items()):
                if team == team_id:
                    del self.oauth.refresh_tokens[refresh]

    def _issue_token(self, workspace: Workspace, expires_at: float | None) -> str:
        prefix = "xoxe.xoxb-1-" if expires_at is not None else "xoxb-"
        token = f"{prefix}{workspace.team.id}-{secrets.token_hex(12)}"
        self._tokens[token] = (workspace, expires_at)
        return token

    def answer_authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """Slack's consent page: (302, where to) or (400, the error it shows)."""
        if self.oauth is None:
            return 400, "invalid_client_id"
        try:
            return 302, oauth_authorize(self.oauth, params, self._teams, self._clock())
        except OAuthRefusal as exc:
            return 400, exc.error

    async def answer_oauth_access(self, args: dict[str, Any], authorization: str) -> Answer:
        def handle() -> Answer:
            if self.oauth is None:
                return Answer(200, {"ok": False, "error": "invalid_client_id"})
            try:
                body = oauth_access(
                    self.oauth, args, authorization, self._teams, self._issue_token, self._clock()
                )
            except OAuthRefusal as exc:
                return Answer(200, {"ok": False, "error": exc.error})
            return Answer(200, {"ok": True, **body})

        return await self._answer(OAUTH_ACCESS, args, None, handle)

    def answer_openid_authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """Sign in with Slack's consent page: (302, where to) or (400, the error it shows)."""
        if self.openid is None:
            return 400, "invalid_client_id"
        try:
            return 302, self.openid.authorize(params, self._teams, self._clock())
        except OAuthRefusal as exc:
            return 400, exc.error

    async def answer_openid_token(self, args: dict[str, Any], authorization: str) -> Answer:
        def handle() -> Answer:
            if self.openid is None:
                return Answer(200, {"ok": False, "error": "invalid_client_id"})
            try:
                body = self.openid.token(args, authorization, self._teams, self._clock())
            except OAuthRefusal as exc:
                return Answer(200, {"ok": False, "error": exc.error})
            return Answer(200, {"ok": True, **body})

        return await self._answer(OPENID_TOKEN, args, None, handle)

    async def answer_openid_user_info(self, args: dict[str, Any], token: str | None) -> Answer:
        def handle() -> Answer:
            if self.openid is None:
                return Answer(200, {"ok": False, "error": "invalid_auth"})
            try:
                body = self.openid.user_info(token, self._teams)
            except OAuthRefusal as exc:
                return Answer(200, {"ok": False, "error": exc.error})
            return Answer(200, {"ok": True, **body})

        return await self._answer(OPENID_USERINFO, args, token, handle)

    def answer_upload(self, file_id: str, body: bytes) -> tuple[int, str]:
        """The upload URL's answer to a file's bytes (methods.files_get_upload_url_external)."""
        for workspace in self._teams.values():
            with workspace.lock:
                upload = workspace.files.get(file_id)
                if upload is not None:
                    return upload.receive(body)
        return 404, "file not found"

    def uploaded_file(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file, for tests to look at (e.g. that a chart is a PNG)."""
        for workspace in self._teams.values():
            upload = workspace.files.get(file_id)
            if upload is not None:
                return upload.content
        return None

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every call (including failed and fault-injected ones), in arrival order."""
        return self._log.calls(method)

    def delivered(self, method: str | None = None) -> list[RecordedCall]:
        """Only the calls answered HTTP 200 with ``ok: true``: what Slack actually did."""
        return self._log.delivered(method)

    def reset_calls(self) -> None:
        self._log.clear()

    def reset_rate_limits(self) -> None:
        """Forget the calls counted against Slack's rate limits (as if a minute had passed)."""
        if self._rate_limiter is not None:
            self._rate_limiter.reset()

    async def wait_for_calls(
        self, method: str | None = None, *, count: int = 1, delivered: bool = True
    ) -> list[RecordedCall]:
        """Wait until ``count`` calls of ``method`` were delivered (or merely made, with
        ``delivered=False``), for apps that call Slack after acknowledging a request.

        Bound it with ``async with asyncio.timeout(...)``.
        """
        while True:
            recorded = self._recorded[0]
            calls = self.delivered(method) if delivered else self.calls(method)
            if len(calls) >= count:
                return calls
            await recorded.wait()

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Current messages in ``channel`` (after updates/deletes), oldest first, replies
        included: the bot's posts and those seeded with :meth:`add_message`.

        Each is Slack's message object (thread parents carry ``reply_count`` and friends)
        plus ``channel``; ``blocks`` and ``thread_ts`` are always present, None when unset.
        """
        with self._workspace.lock:
            return [self._entry(m) for m in self._workspace.channel_messages(channel)]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The thread of ``thread_ts`` as it stands: the parent, then the replies oldest first.

        Same entries as :meth:`messages`. The parent is missing when the emulator never held
        it (a user's message only sent as an event: seed it with :meth:`add_message`); an
        unknown thread gives ``[]``.
        """
        with self._workspace.lock:
            parent = self._workspace.find_message(channel, thread_ts)
            replies = self._workspace.replies_to(channel, thread_ts)
            return [self._entry(m) for m in ([parent] if parent else []) + replies]

    def _entry(self, message: Message) -> dict[str, Any]:
        api = copy.deepcopy(self._workspace.render(message))
        return {"channel": message.channel, "blocks": None, "thread_ts": None, **api}

    def reactions(self, channel: str, ts: str) -> dict[str, list[str]]:
        """Reaction name -> user ids on any message, including ones the bot did not post."""
        with self._workspace.lock:
            return copy.deepcopy(self._workspace.reactions_on(channel, ts))

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = None,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (None: any method) fail.

        429 answers ``Retry-After`` (default 1) and ``ratelimited``; status 200 with
        ``error`` answers a Slack application error such as ``channel_not_found``.
        """
        if status == 200 and not error:
            raise ValueError("status=200 needs an error, e.g. error='channel_not_found'")
        self._faults.add(Fault(method, times, status=status, error=error, retry_after=retry_after))

    def slow_next(self, method: str | None = None, *, seconds: float, times: int = 1) -> None:
        """Delay the answer of the next ``times`` calls.

        The call takes effect (and is recorded) at once; only the answer is late, like a
        Slack that posted the message but whose response timed out.
        """
        self._faults.add(Fault(method, times, delay=seconds))

    def clear_faults(self) -> None:
        self._faults.clear()

    @contextlib.asynccontextmanager
    async def answers_held(self) -> AsyncIterator[None]:
        """Hold every Web API answer until the block ends (calls still take effect at once).

        Proves that something finishes without waiting for Slack: inside the block, anything
        that awaits a Slack answer waits until the block is left.
        """
        self._answers_flow.clear()
        try:
            yield
        finally:
            self._answers_flow.set()

    # -- workspace seeding -------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        team_id: str | None = None,
        is_bot: bool = False,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "America/New_York",
    ) -> None:
        if email is None and not is_bot:
            email = f"{name}@example.com"
        user = User(
            id=user_id,
            team_id=team_id or self._workspace.team.id,
            name=name,
            is_bot=is_bot,
            real_name=real_name,
            email=email,
            tz=tz,
        )
        with self._workspace.lock:
            self._workspace.users[user_id] = user

    def add_team(self, team_id: str, *, name: str, domain: str | None = None) -> None:
        """Add another team (e.g. a Slack Connect partner); re-adding our own team renames it."""
        team = Team(id=team_id, name=name, domain=domain or domain_for(name))
        with self._workspace.lock:
            self._workspace.teams[team_id] = team
            if team_id == self._workspace.team.id:
                self._workspace.team = team

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_ext_shared: bool = False,
    ) -> None:
        channel = Channel(
            id=channel_id,
            name=name,
            team_id=self._workspace.team.id,
            is_private=is_private,
            is_ext_shared=is_ext_shared,
            created=int(self._clock()),
        )
        with self._workspace.lock:
            self._workspace.channels[channel_id] = channel

    def add_message(
        self,
        channel: str,
        *,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        team: str | None = None,
    ) -> dict[str, Any]:
        """Seed a message a person posted, as a Slack client would store it.

        ``text`` is what the person typed: the stored ``text`` is Slack's wire form (``&``,
        ``<``, ``>`` escaped, autocompleted mentions and links kept) and the ``rich_text``
        block the typed text, as :func:`~app.slack_emulator.payloads.message_event` builds them.

        Users' messages otherwise exist only as events sent to the app; seeded ones show in
        :meth:`messages`, ``conversations.history``/``replies`` and ``chat.getPermalink``,
        and ``chat.update``/``chat.delete`` refuse them as Slack refuses a bot token. Use the
        returned ``ts`` to build the matching event (``message_event(..., ts=msg["ts"])``).

        ``ts`` defaults to a fresh one; ``thread_ts`` must name a top-level message already
        in ``channel``. Returns the same entry as :meth:`messages`.
        """
        ws = self._workspace
        with ws.lock:
            if ts is None:
                ts = ws.ts.next()
            elif not is_ts(ts):
                raise ValueError(f"ts must look like '1732512345.000100', not {ts!r}")
            if ws.find_message(channel, ts) is not None:
                raise ValueError(f"{channel} already has a message with ts {ts}")
            if thread_ts is not None and thread_ts != ts:
                parent = ws.find_message(channel, thread_ts)
                if parent is None or parent.parent_ts is not None:
                    raise ValueError(
                        f"thread_ts {thread_ts} is not a top-level message of {channel}: "
                        "seed the parent first"
                    )
                if ts_micros(ts) <= ts_micros(thread_ts):
                    raise ValueError(f"a reply ({ts}) must be newer than its parent ({thread_ts})")
            # Messages posted from now on sort after this one, even with a seeded future ts.
            ws.ts.observe(ts)
            message = Message(
                channel=channel,
                ts=ts,
                text=wire_text(text),
                user=user,
                team=team or ws.team.id,
                client_msg_id=str(uuid.uuid4()),
                blocks=rich_text_blocks(text),
                thread_ts=thread_ts,
            )
            ws.store(message)
            return self._entry(message)

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        with self._workspace.lock:
            self._workspace.usergroups[usergroup_id] = list(user_ids)

    def new_response_url(self) -> str:
        """A URL accepting response_url POSTs; they are recorded as method ``"response_url"``."""
        hook_id = secrets.token_hex(8)
        self._response_urls.add(hook_id)
        return f"{self.base_url}{RESPONSE_URL_PREFIX}{hook_id}"

    # -- answering (called by the HTTP routes) -----------------------------------------------

    async def answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        *,
        shape: RequestShape | None = None,
    ) -> Answer:
        """Answer a Web API call; ``shape`` (how it arrived) enables the transport rules."""
        return await self._answer(
            method, args, token, lambda: self._call_method(method, args, token, shape)
        )

    async def answer_response_url(
        self, hook_id: str, args: dict[str, Any], token: str | None
    ) -> Answer:
        def handle() -> Answer:
            if hook_id not in self._response_urls:
                return Answer(404, {"ok": False, "error": "expired_url"})
            problems = self._response_url_problems(args)
            if problems:
                return _refusal(problems, status=400)
            return Answer(200, {"ok": True})

        return await self._answer(RESPONSE_URL_METHOD, args, token, handle)

    async def answer_connections_open(
        self, args: dict[str, Any], token: str | None, *, in_header: bool
    ) -> Answer:
        """`apps.connections.open`: a one-time Socket Mode link (:mod:`.socket_mode`)."""

        def handle() -> Answer:
            status, body = self.socket_mode.open_link(token, in_header=in_header)
            return Answer(status, body)

        return await self._answer(CONNECTIONS_OPEN, args, token, handle)

    async def answer_error(self, method: str, error: str, *, status: int = 200) -> Answer:
        """Record and answer a request that could not even be parsed."""
        body = {"ok": False, "error": error}
        return await self._answer(method, {}, None, lambda: Answer(status, body))

    async def _answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        handle: Callable[[], Answer],
    ) -> Answer:
        at = self._clock()
        fault = self._faults.take(method)
        failure = fault.failure() if fault else None
        answer = Answer(*failure) if failure else handle()
        self._log.append(
            RecordedCall(
                method=method,
                args=copy.deepcopy(args),
                status=answer.status,
                response=copy.deepcopy(answer.body),
                at=at,
                token=token,
            )
        )
        self._recorded[0].set()
        self._recorded[0] = asyncio.Event()
        if fault and fault.delay:
            await asyncio.sleep(fault.delay)
        await self._answers_flow.wait()
        return answer

    def _call_method(
        self, method: str, args: dict[str, Any], token: str | None, shape: RequestShape | None
    ) -> Answer:
        handler = METHODS.get(method)
        if handler is None:
            return Answer(200, {"ok": False, "error": "unknown_method", "req_method": method})
        spec = METHOD_SPECS[method]
        if shape is not None and (problems := transport_problems(method, spec, shape)):
            return _refusal(problems)
        if not token:
            return Answer(200, {"ok": False, "error": "not_authed"})
        if token in self._revoked:
            return Answer(200, {"ok": False, "error": "token_revoked"})
        live = self._tokens.get(token)
        if live is None:
            return Answer(200, {"ok": False, "error": "invalid_auth"})
        workspace, expires_at = live
        if expires_at is not None and expires_at <= self._clock():
            return Answer(200, {"ok": False, "error": "token_expired"})
        if self._rate_limiter is not None:
            retry_after = self._rate_limiter.admit(method, args, workspace.team.id)
            if retry_after is not None:
                return Answer(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(retry_after)},
                )
        problems = argument_problems(spec, args) or self._content_problems(method, args)
        if problems:
            return _refusal(problems)
        try:
            with workspace.lock:
                result = handler(workspace, args)
        except ApiError as exc:
            return Answer(200, {"ok": False, "error": exc.error})
        except Exception:
            # An emulator bug: still answer (and record) the call, like a Slack outage would.
            logger.exception("slack emulator failed on %s", method)
            return Answer(500, {"ok": False, "error": "internal_error"})
        return Answer(200, {"ok": True, **result})

    # -- content checks ----------------------------------------------------------------------

    def _content_problems(self, method: str, args: dict[str, Any]) -> list[Problem]:
        if method in _MESSAGE_METHODS:
            return check_message(args, rules=self._text_rules, blocks=self._block_kit)
        if method == "files.completeUploadExternal" and (
            args.get("initial_comment") or args.get("blocks")
        ):
            # The share is a message too: its words follow the same text rules (mrkdwn,
            # escaping, no broadcast mentions) as chat.postMessage's.
            shared = {"text": args.get("initial_comment"), "blocks": args.get("blocks")}
            return check_message(shared, rules=self._text_rules, blocks=self._block_kit)
        surface = _VIEW_SURFACES.get(method)
        if surface is not None:
            return check_view(
                args.get("view"), surface=surface, rules=self._text_rules, blocks=self._block_kit
            )
        return []

    def _response_url_problems(self, args: dict[str, Any]) -> list[Problem]:
        """A response_url POST is a message (or ``delete_original``), checked like chat.*.

        Refused with HTTP 400 and Slack's error names: what status Slack's hooks answer an
        invalid message with is not documented; a 4xx makes slack_sdk's webhook client (which
        Bolt's ``respond`` uses) report the failure instead of a silent 200.
        """
        if str(args.get("delete_original", "")).lower() == "true":
            return []
        if not any(args.get(name) for name in ("text", "blocks", "attachments")):
            return [Problem(NO_TEXT, "text", "a response_url message needs text or blocks")]
        return check_message(args, rules=self._text_rules, blocks=self._block_kit)


# Methods whose arguments are a message, and those whose `view` goes to a modal or Home tab:
# modal views are "used within ... views.open, views.update, views.push"
# (https://docs.slack.dev/reference/views/modal-views), Home tab views within views.publish
# (https://docs.slack.dev/reference/views/home-tab-views).
_MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
_VIEW_SURFACES = {
    "views.open": "modal",
    "views.push": "modal",
    "views.update": "modal",
    "views.publish": "home",
}


def _refusal(problems: list[Problem], *, status: int = 200) -> Answer:
    """Slack's answer to a request it will not carry out, with what and where."""
    body = {
        "ok": False,
        "error": error_of(problems),
        "response_metadata": {"messages": slack_messages(problems)},
    }
    return Answer(status, body)
