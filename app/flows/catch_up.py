"""Catch-up: messages Slack holds that no event brought, taken in as their events would have been.

Slack stops retrying an event after about an hour (and turns the subscription off after repeated
failures), so what customers wrote while ticketbot was down would otherwise be lost. On start and
every CATCH_UP_INTERVAL_SECONDS, a *run* in each watched channel reads it back:

1. the channel's history (conversations.history) from RETRY_LOOKBACK before the newest message
   ticketbot stored from it, never from before the channel was watched nor more than
   CATCH_UP_MAX_AGE_HOURS back;
2. then the threads that may have moved: those of listed messages that have replies, and those
   of the channel's open (and resolved) tickets, each from RETRY_LOOKBACK before the newest
   message of the ticket stored before the run (conversations.replies).

Every read is an outbox row (retried, paced, surviving restarts like any Slack call) whose
delivery handler takes its page in and queues the next read; a run is that chain of rows, its
state in `on_delivered_args`, and a channel has one run going at most (its rows share a
coalesce_key). When the run ends it logs and tells the triage channel what it recovered.

History pages come newest first, but messages must be taken in oldest first (a customer's first
message opens the ticket their next ones join). So pages are walked back with `next_cursor`
without taking anything in; the last (oldest) page is taken in, and then each newer page's slice
is read again, bounded by `oldest` (the newest message taken in) and `latest` (where the page
ended), and taken in: 2n - 1 reads for n pages, one for the usual single page.

A message is taken in through `receive_message`, unless it is already stored (channel + ts): a
message of a conversation or a ticket's root. With the workspace row locked first (the lock
under which tickets are numbered) and the message taken in inside a savepoint, the event of the
same message arriving at the same moment makes one ticket or one reply, never two: either it
finds what catch-up stored, or catch-up finds what it stored, or the loser of a tie is turned
away by a unique constraint (the event answers 503 and Slack's retry finds the message stored;
catch-up skips it).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.flows.conversation import IntakeRules, receive_message
from app.flows.open_ticket import triage_channel
from app.metrics import Metrics
from app.outbox.enums import OutboxStatus
from app.outbox.handlers import DeliveryHandlers
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call
from app.text_safety import escape
from app.tickets.enums import OPEN_STATUSES, TicketStatus
from app.tickets.intake import IncomingMessage, incoming_message, is_spoken
from app.tickets.models import Ticket, TicketMessage
from app.tickets.service import find_ticket_by_root
from app.workspaces.channels import get_watched_channel
from app.workspaces.models import WatchedChannel, Workspace

logger = logging.getLogger(__name__)

HISTORY_READ = "flows.catch_up_history_read"
REPLIES_READ = "flows.catch_up_replies_read"
# What a recovered message became (the `kind` of ticketbot_catch_up_recovered_total).
NEW_TICKET = "ticket"
REPLY = "reply"
# Threads of listed messages a run reads after the history, at most; the threads of tickets
# are also reached by the walk over the channel's tickets (in the next run, for new ones).
MAX_LISTED_THREADS = 200
# A reply to a resolved ticket reopens it, so resolved tickets' threads are read too.
THREAD_STATUSES = (*OPEN_STATUSES, TicketStatus.RESOLVED)

# Slack retries an event about at once, after 1 minute and after 5 minutes, then gives up
# (https://docs.slack.dev/apis/events-api/#retries): a message can be given up on after a later
# one was taken in (a replica that flapped, a database that came and went). So each read starts
# this long before the newest message stored; what is already stored is passed over.
RETRY_LOOKBACK = timedelta(minutes=10)

_SLACK_TS = re.compile(r"^\d{1,12}\.\d{6}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass
class _Run:
    """One channel's catch-up, carried from read to read in the outbox rows' arguments."""

    workspace_id: int
    channel_id: str
    since: str  # the history is read after this ts: ticketbot held the channel up to it
    floor: str  # no thread is read from further back (CATCH_UP_MAX_AGE_HOURS)
    limit: int  # messages per page
    tickets: int = 0  # recovered so far
    replies: int = 0
    # Newer history slices still to take in, the next one last: each is its `latest` bound
    # (None: up to now), read from the newest message taken in before it.
    pending: list[str | None] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)  # listed messages whose threads to read
    after_ticket: int = 0  # the walk over the channel's tickets, by id

    def args(self, read: dict[str, Any]) -> dict[str, Any]:
        return {"run": asdict(self), "read": read}

    @classmethod
    def of(cls, args: Mapping[str, Any]) -> _Run:
        return cls(**args["run"])

    @property
    def key(self) -> str:
        return run_key(self.workspace_id, self.channel_id)


def run_key(workspace_id: int, channel_id: str) -> str:
    """The coalesce_key every read of a channel's run carries: a pending one means it is going."""
    return f"catch_up:{workspace_id}:{channel_id}"


class CatchUp:
    """Starts runs and takes their pages in (the delivery handlers of the reads)."""

    def __init__(
        self, *, rules: IntakeRules, metrics: Metrics, max_age: timedelta, page_size: int
    ) -> None:
        self._rules = rules
        self._metrics = metrics
        self._max_age = max_age
        self._page_size = page_size

    def register(self, handlers: DeliveryHandlers) -> None:
        handlers.register(HISTORY_READ, self.history_read, failed=self.read_failed)
        handlers.register(REPLIES_READ, self.replies_read, failed=self.read_failed)

    # -- starting --------------------------------------------------------------------------

    async def start(self, *, session: AsyncSession, now: datetime) -> int:
        """Start a run in every watched channel that has none going. Returns how many started.

        Replicas (and the start-up run and the scheduler's) may start at once: the channels'
        rows, locked in one order, let one of them look for a run going and start one.
        """
        if self._max_age <= timedelta(0):
            return 0
        channels = (
            await session.scalars(
                select(WatchedChannel)
                .where(WatchedChannel.unwatched_at.is_(None))
                .order_by(WatchedChannel.id)
                .with_for_update(key_share=True)
            )
        ).all()
        started = 0
        for channel in channels:
            key = run_key(channel.workspace_id, channel.slack_channel_id)
            going = await session.scalar(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.coalesce_key == key, OutboxMessage.status == OutboxStatus.PENDING
                )
                .limit(1)
            )
            if going is not None:
                continue
            floor = now - self._max_age
            watched_since = max(floor, channel.created_at) if channel.created_at else floor
            stored = await _newest_stored_in_channel(session, channel, since=floor)
            since = _newest([_ts_of(watched_since), *([_looking_back(stored)] if stored else [])])
            assert since is not None
            run = _Run(
                workspace_id=channel.workspace_id,
                channel_id=channel.slack_channel_id,
                since=since,
                floor=_ts_of(floor),
                limit=self._page_size,
            )
            await _read_history(session, run, {"oldest": since}, now)
            started += 1
        return started

    # -- the reads' handlers ---------------------------------------------------------------

    async def history_read(
        self, session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
    ) -> None:
        """A page of the channel's history: walked past while older pages remain, else taken
        in (oldest first), followed by the next newer slice or, at the end, the threads."""
        run, read = _Run.of(args), args["read"]
        listed = _listed(result)
        if result.get("has_more") and listed:
            oldest_listed = min((m["ts"] for m in listed), key=_ts_key)
            run.pending.append(read.get("top", read.get("latest")))
            cursor = result.get("next_cursor")
            after = {"oldest": read["oldest"], "latest": read.get("latest"), "top": oldest_listed}
            if cursor:
                after["cursor"] = cursor
            else:  # no cursor given: the next (older) page is what lies before this one
                after["latest"] = oldest_listed
            await _read_history(session, run, after, now)
            return
        await self._take_in(session, run, listed, now, listing=True)
        newest = _newest(m["ts"] for m in listed) or read["oldest"]
        if run.pending:
            latest = run.pending.pop()
            await _read_history(session, run, {"oldest": newest, "latest": latest}, now)
            return
        await self._next_thread(session, run, now)

    async def replies_read(
        self, session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
    ) -> None:
        """A page of a thread (oldest first): taken in, then its next page or the next thread."""
        run, read = _Run.of(args), args["read"]
        listed = _listed(result)
        await self._take_in(session, run, listed, now, listing=False)
        if result.get("has_more") and listed:
            cursor = result.get("next_cursor")
            after = {"thread_ts": read["thread_ts"], "oldest": read["oldest"]}
            if cursor:
                after["cursor"] = cursor
            else:
                after["oldest"] = _newest(m["ts"] for m in listed) or read["oldest"]
            await _read_replies(session, run, after, now)
            return
        await self._next_thread(session, run, now)

    async def read_failed(self, session: AsyncSession, row: OutboxMessage, now: datetime) -> None:
        """A read Slack refused for good (a thread whose message was deleted, a channel the bot
        left) ends that thread, or the history, and the run goes on without it."""
        if not row.on_delivered_args:
            return
        run = _Run.of(row.on_delivered_args)
        logger.warning(
            "catch-up: %s of %s failed (%s); going on without it",
            row.target,
            run.channel_id,
            row.last_error,
        )
        if row.on_delivered == HISTORY_READ:
            await self._finish(session, run, now)
        else:
            await self._next_thread(session, run, now)

    # -- taking messages in ----------------------------------------------------------------

    async def _take_in(
        self,
        session: AsyncSession,
        run: _Run,
        messages: list[dict[str, Any]],
        now: datetime,
        *,
        listing: bool,
    ) -> None:
        workspace: Workspace | None = None
        shared = False
        recovered: Counter[str] = Counter()
        for message in sorted(messages, key=lambda m: _ts_key(m["ts"])):
            ticket: Ticket | None = None
            if is_spoken(message):
                if workspace is None:
                    # Locked before looking for what is stored, held to the commit: the lock
                    # under which tickets are numbered (app/workspaces/service.py).
                    workspace = await session.get(
                        Workspace, run.workspace_id, with_for_update={"key_share": True}
                    )
                    if workspace is None:
                        return
                    channel = await get_watched_channel(
                        session=session, workspace_id=workspace.id, channel_id=run.channel_id
                    )
                    shared = channel is not None and channel.is_ext_shared
                team_id, enterprise_id = _writer(message, workspace, shared=shared)
                incoming = incoming_message(
                    message,
                    channel_id=run.channel_id,
                    bot_user_id=workspace.bot_user_id,
                    user_team_id=team_id,
                    user_enterprise_id=enterprise_id,
                )
                if not incoming.is_bot and incoming.user_id is not None:
                    ticket, kind = await self._take_in_one(session, workspace, incoming, now)
                    if kind is not None:
                        recovered[kind] += 1
            if listing and message.get("reply_count") and _is_top_level(message):
                ticket = ticket or await find_ticket_by_root(
                    session=session,
                    workspace_id=run.workspace_id,
                    channel_id=run.channel_id,
                    root_ts=message["ts"],
                )
                if (
                    ticket is not None
                    and len(run.threads) < MAX_LISTED_THREADS
                    and not await _nothing_to_read(session, run, message)
                ):
                    run.threads.append(message["ts"])
        run.tickets += recovered[NEW_TICKET]
        run.replies += recovered[REPLY]
        if recovered:
            _on_commit(session, lambda: self._count(recovered))

    async def _take_in_one(
        self, session: AsyncSession, workspace: Workspace, message: IncomingMessage, now: datetime
    ) -> tuple[Ticket | None, str | None]:
        """Take one message in unless it is stored. (its ticket, what it became if recovered)"""
        stored = await find_ticket_by_root(
            session=session,
            workspace_id=workspace.id,
            channel_id=message.channel_id,
            root_ts=message.ts,
        )
        if stored is not None:
            return stored, None
        # Intake's `now` is when a message arrived; a recovered one is taken in at the time it
        # was written (its ts, never later than now). So the grouping window joins what the
        # customer wrote close together, not what was read back together, and the ticket's
        # created_at, last_customer_message_at, SLA clocks and audit entries tell when the
        # customer wrote (a night-long wait shows as one, and may be due at once). What it
        # queues for Slack is sent now, like everything else.
        written = min(_time_of(message.ts), now)
        try:
            async with session.begin_nested():
                ticket = await receive_message(
                    session=session,
                    workspace=workspace,
                    message=message,
                    rules=self._rules,
                    now=written,
                )
                await session.flush()
        except IntegrityError:
            # Its event stored it at this very moment, and the unique constraint on a ticket's
            # root or a conversation's message turned this copy away.
            logger.info(
                "catch-up: %s in %s was stored by its event meanwhile",
                message.ts,
                message.channel_id,
            )
            found = await find_ticket_by_root(
                session=session,
                workspace_id=workspace.id,
                channel_id=message.channel_id,
                root_ts=message.ts,
            )
            return found, None
        if ticket is None:
            return None, None  # not a request, the team's own post, a thread of no ticket
        opened = ticket.root_ts == message.ts and ticket.channel_id == message.channel_id
        return ticket, NEW_TICKET if opened else REPLY

    def _count(self, recovered: Mapping[str, int]) -> None:
        for kind, count in recovered.items():
            self._metrics.catch_up_recovered.labels(kind=kind).inc(count)

    # -- threads, and the end of a run -----------------------------------------------------

    async def _next_thread(self, session: AsyncSession, run: _Run, now: datetime) -> None:
        if run.threads:
            thread_ts = run.threads.pop(0)
            await _read_replies(session, run, {"thread_ts": thread_ts, "oldest": thread_ts}, now)
            return
        while True:
            ticket = await session.scalar(
                select(Ticket)
                .where(
                    Ticket.workspace_id == run.workspace_id,
                    Ticket.channel_id == run.channel_id,
                    Ticket.status.in_(THREAD_STATUSES),
                    Ticket.root_ts.is_not(None),
                    Ticket.id > run.after_ticket,
                )
                .order_by(Ticket.id)
                .limit(1)
            )
            if ticket is None:
                break
            run.after_ticket = ticket.id
            root = ticket.root_ts or ""
            if not _SLACK_TS.match(root) or _ts_key(root) > _ts_key(run.since):
                continue  # the history read listed it (and queued its thread if it had one)
            # After the newest message of the ticket stored before the run (not one this run
            # took in: a follow-up that joined the ticket may be newer than a missed reply).
            stored = await _newest_stored_of_ticket(session, ticket, up_to=run.since)
            oldest = _newest([run.floor, *([_looking_back(stored)] if stored else [])]) or run.floor
            await _read_replies(session, run, {"thread_ts": root, "oldest": oldest}, now)
            return
        await self._finish(session, run, now)

    async def _finish(self, session: AsyncSession, run: _Run, now: datetime) -> None:
        """The run is over: say what it recovered (the log, the triage channel), if anything."""
        recovered = run.tickets + run.replies
        if not recovered:
            return
        workspace = await session.get(Workspace, run.workspace_id)
        channel = await get_watched_channel(
            session=session, workspace_id=run.workspace_id, channel_id=run.channel_id
        )
        name = (channel.name if channel else "") or run.channel_id
        summary = (
            f"{_plural(recovered, 'message')} in #{name} ({_plural(run.tickets, 'new ticket')},"
            f" {_plural(run.replies, 'reply', 'replies')})"
        )
        _on_commit(session, lambda: logger.info("catch-up: recovered %s", summary))
        triage = (
            triage_channel(channel, workspace, self._rules.default_triage_channel_id)
            if workspace is not None
            else None
        )
        if not triage:
            return
        text = (
            f":inbox_tray: Catch-up: {_plural(recovered, 'message')} in"
            f" <#{escape(run.channel_id)}> never reached ticketbot as events, so it read them"
            f" back from Slack: {_plural(run.tickets, 'new ticket')},"
            f" {_plural(run.replies, 'reply', 'replies')} to tickets."
        )
        await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": triage, "text": text, "unfurl_links": False, "unfurl_media": False},
            now=now,
            workspace_id=run.workspace_id,
        )


# -- reads ---------------------------------------------------------------------------------


async def _read_history(
    session: AsyncSession, run: _Run, read: dict[str, Any], now: datetime
) -> None:
    payload: dict[str, Any] = {"channel": run.channel_id, "oldest": read["oldest"]}
    if read.get("latest"):
        payload["latest"] = read["latest"]
    if read.get("cursor"):
        payload["cursor"] = read["cursor"]
    payload["limit"] = run.limit
    await enqueue_slack_call(
        session=session,
        method="conversations.history",
        payload=payload,
        now=now,
        workspace_id=run.workspace_id,
        on_delivered=HISTORY_READ,
        on_delivered_args=run.args(read),
        coalesce_key=run.key,
        coalesce=False,
    )


async def _read_replies(
    session: AsyncSession, run: _Run, read: dict[str, Any], now: datetime
) -> None:
    payload: dict[str, Any] = {
        "channel": run.channel_id,
        "ts": read["thread_ts"],
        "oldest": read["oldest"],
        "limit": run.limit,
    }
    if read.get("cursor"):
        payload["cursor"] = read["cursor"]
    await enqueue_slack_call(
        session=session,
        method="conversations.replies",
        payload=payload,
        now=now,
        workspace_id=run.workspace_id,
        on_delivered=REPLIES_READ,
        on_delivered_args=run.args(read),
        coalesce_key=run.key,
        coalesce=False,
    )


# -- what is stored ------------------------------------------------------------------------


async def _newest_stored_in_channel(
    session: AsyncSession, channel: WatchedChannel, *, since: datetime
) -> str | None:
    """The newest message ticketbot stored from the channel, looking only at tickets that can
    hold one newer than `since` (missing one only means reading a little more)."""
    here = (
        Ticket.workspace_id == channel.workspace_id,
        Ticket.channel_id == channel.slack_channel_id,
        or_(
            Ticket.updated_at >= since,
            Ticket.created_at >= since,
            Ticket.status.in_(THREAD_STATUSES),
        ),
    )
    messages = await session.scalars(
        select(TicketMessage.ts)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            *here,
            TicketMessage.channel_id == channel.slack_channel_id,
            TicketMessage.is_internal.is_(False),
        )
    )
    roots = await session.scalars(select(Ticket.root_ts).where(*here))
    return _newest([*messages, *roots])


async def _newest_stored_of_ticket(
    session: AsyncSession, ticket: Ticket, *, up_to: str
) -> str | None:
    messages = await session.scalars(
        select(TicketMessage.ts).where(
            TicketMessage.ticket_id == ticket.id,
            TicketMessage.channel_id == ticket.channel_id,
            TicketMessage.is_internal.is_(False),
        )
    )
    limit = _ts_key(up_to)
    return _newest(
        ts
        for ts in [*messages, ticket.root_ts]
        if ts and _SLACK_TS.match(ts) and _ts_key(ts) <= limit
    )


# -- Slack's messages and timestamps --------------------------------------------------------


def _listed(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The messages of a read's answer that carry a Slack ts."""
    return [
        message
        for message in result.get("messages") or []
        if isinstance(message, dict) and _SLACK_TS.match(str(message.get("ts") or ""))
    ]


async def _nothing_to_read(session: AsyncSession, run: _Run, parent: Mapping[str, Any]) -> bool:
    """A thread where only ticketbot replied holds nothing to take in: its read is spared.
    conversations.history gives a parent its `reply_users` and `reply_users_count`
    (https://docs.slack.dev/reference/methods/conversations.history)."""
    repliers = parent.get("reply_users")
    if not isinstance(repliers, list) or parent.get("reply_users_count") != len(repliers):
        return False
    bot = await session.scalar(
        select(Workspace.bot_user_id).where(Workspace.id == run.workspace_id)
    )
    return bot is not None and set(repliers) == {bot}


def _is_top_level(message: Mapping[str, Any]) -> bool:
    return message.get("thread_ts") in (None, message["ts"])


def _writer(
    message: Mapping[str, Any], workspace: Workspace, *, shared: bool
) -> tuple[str | None, str | None]:
    """The writer's own workspace and org, from a listed message (which has no envelope) as
    app/slack/installation.py reads them from an event: `user_team` or `team` names the
    workspace, an E id the org. Unnamed, they are ours, unless the channel is shared with
    another organisation; a named workspace is of our org unless the channel is shared."""
    said = message.get("user_team") or message.get("team")
    if not isinstance(said, str) or not said:
        if shared:
            return None, None
        ours = None if workspace.is_enterprise_install else workspace.slack_team_id
        return ours, workspace.enterprise_id
    if said.startswith("E"):
        return None, said
    inside = not shared or said == workspace.slack_team_id
    return said, (workspace.enterprise_id if inside else None)


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6])


def _newest(timestamps: Iterable[str]) -> str | None:
    valid = [ts for ts in timestamps if ts and _SLACK_TS.match(ts)]
    return max(valid, key=_ts_key) if valid else None


def _time_of(ts: str) -> datetime:
    seconds, micros = _ts_key(ts)
    return _EPOCH + timedelta(seconds=seconds, microseconds=micros)


def _looking_back(ts: str) -> str:
    return _ts_of(_time_of(ts) - RETRY_LOOKBACK)


def _ts_of(moment: datetime) -> str:
    micros = (moment - _EPOCH) // _MICROSECOND
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _plural(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


def _on_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run `action` once the transaction commits (a delivery rolled back and redone counts and
    logs once)."""
    event.listen(session.sync_session, "after_commit", lambda _session: action(), once=True)
