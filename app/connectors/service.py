"""Connectors: configured per workspace, owed work through the outbox, paused, resumed, resynced
for one record, removed. The sync log and the far-side links are written by sender.py.

Every call to a far side is an outbox row (kind `connector`) naming the connector, the action
and our record; the sender reads the record as it stands when the row is sent. Syncs of one
record coalesce (one waiting row carries every change made before it is sent); comments and
escalations do not (each is one far-side record).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import Connector, ConnectorLink, ConnectorSyncEntry
from app.connectors.registry import VENDORS, vendor_named
from app.connectors.vendors.base import Action
from app.errors import Conflict, InvalidInput, NotFound
from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.models import OutboxMessage
from app.outbox.service import OUTBOX_WRITTEN, enqueue
from app.token_cipher import TokenCipher
from app.workspaces.settings import settings_changed, settings_read

ACTIVE = "active"
PAUSED = "paused"
FAILING = "failing"  # the far side refused its credentials: held until they are replaced

RECORD_OF_ACTION = {
    Action.SYNC_ACCOUNT: "account",
    Action.SYNC_TICKET: "ticket",
    Action.ADD_COMMENT: "comment",
    Action.ESCALATE: "issue",  # the issue made for a ticket (its record id is the ticket's)
}
# One waiting row per record: a sync carries every change made before it is sent; a second
# escalation of the same ticket while the first waits is the same one.
_COALESCED = frozenset({Action.SYNC_ACCOUNT, Action.SYNC_TICKET, Action.ESCALATE})
CONNECTOR_DELIVERED = "connectors.delivered"
LOG_KEPT = 200  # entries a log read returns at most


@dataclass(frozen=True)
class Owed:
    """An active connector that does an action, as each replica keeps them."""

    id: int
    vendor: str
    actions: frozenset[Action]


def _cipher(cipher: TokenCipher | None) -> TokenCipher:
    if cipher is None:
        raise InvalidInput(
            "Connector credentials are stored encrypted: set TOKEN_ENCRYPTION_KEYS first"
            " (make a key with `ticketbot new-token-key`)."
        )
    return cipher


def _base_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidInput("base URL must be an http(s) address, e.g. https://acme.zendesk.com")
    return value.strip().rstrip("/")


async def add_connector(
    *,
    session: AsyncSession,
    workspace_id: int,
    vendor: str,
    base_url: str,
    token: str,
    cipher: TokenCipher | None,
    extra: dict[str, str] | None = None,
    mapping: dict[str, Any] | None = None,
    webhook_secret: str | None = None,
    created_by: str | None = None,
    now: datetime,
) -> Connector:
    found = vendor_named(vendor)
    if not token.strip():
        raise InvalidInput("a token is needed")
    if mapping is not None and not isinstance(mapping, dict):
        raise InvalidInput("the mapping must be a JSON object")
    sealed = _cipher(cipher)
    existing = await session.scalar(
        select(Connector.id).where(
            Connector.workspace_id == workspace_id, Connector.vendor == found.name
        )
    )
    if existing is not None:
        raise Conflict(f"{found.name} is already connected (connector {existing}); remove it first")
    connector = Connector(
        workspace_id=workspace_id,
        vendor=found.name,
        base_url=_base_url(base_url),
        token_encrypted=sealed.encrypt(token.strip()),
        webhook_secret_encrypted=sealed.encrypt(webhook_secret) if webhook_secret else None,
        extra=dict(extra or {}),
        mapping=dict(mapping or {}),
        state=ACTIVE,
        created_by=created_by,
        created_at=now,
    )
    session.add(connector)
    await session.flush()
    await settings_changed(session, workspace_id)
    return connector


async def list_connectors(*, session: AsyncSession, workspace_id: int) -> Sequence[Connector]:
    return (
        await session.scalars(
            select(Connector).where(Connector.workspace_id == workspace_id).order_by(Connector.id)
        )
    ).all()


async def get_connector(
    *, session: AsyncSession, workspace_id: int, connector: int | str, for_update: bool = False
) -> Connector:
    """A connector by its id or its vendor's name."""
    query = select(Connector).where(Connector.workspace_id == workspace_id)
    if isinstance(connector, int) or str(connector).isdigit():
        query = query.where(Connector.id == int(connector))
    else:
        query = query.where(Connector.vendor == str(connector).lower())
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"no connector {connector} in this workspace")
    return found


async def change_connector(
    *,
    session: AsyncSession,
    connector: Connector,
    cipher: TokenCipher | None,
    now: datetime,
    token: str | None = None,
    base_url: str | None = None,
    mapping: dict[str, Any] | None = None,
    webhook_secret: str | None = None,
    paused: bool | None = None,
) -> Connector:
    """New credentials clear a failing state; resuming (or mending) sends at once what waited."""
    held = connector.state != ACTIVE
    if token is not None:
        if not token.strip():
            raise InvalidInput("a token is needed")
        connector.token_encrypted = _cipher(cipher).encrypt(token.strip())
        if connector.state == FAILING:
            connector.state, connector.last_error = ACTIVE, None
    if webhook_secret is not None:
        connector.webhook_secret_encrypted = _cipher(cipher).encrypt(webhook_secret)
    if base_url is not None:
        connector.base_url = _base_url(base_url)
    if mapping is not None:
        if not isinstance(mapping, dict):
            raise InvalidInput("the mapping must be a JSON object")
        connector.mapping = dict(mapping)
    if paused is True and connector.state != PAUSED:
        connector.state, connector.paused_at = PAUSED, now
    elif paused is False and connector.state == PAUSED:
        connector.state, connector.paused_at = ACTIVE, None
    if held and connector.state == ACTIVE:
        await _release(session, connector.id, now)
    await settings_changed(session, connector.workspace_id)
    return connector


async def remove_connector(*, session: AsyncSession, connector: Connector, now: datetime) -> None:
    """Delete it, its links and log; whatever it still owed is cancelled."""
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == OutboxKind.CONNECTOR,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.workspace_id == connector.workspace_id,
            OutboxMessage.coalesce_key.like(f"connector:{connector.id}:%"),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="the connector was removed")
    )
    workspace_id = connector.workspace_id
    await session.delete(connector)
    await session.flush()
    await settings_changed(session, workspace_id)


async def _release(session: AsyncSession, connector_id: int, now: datetime) -> None:
    """Rows held while the connector was paused or failing go out now."""
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == OutboxKind.CONNECTOR,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.coalesce_key.like(f"connector:{connector_id}:%"),
            OutboxMessage.next_attempt_at > now,
        )
        .values(next_attempt_at=now, paced_slot_at=None)
    )
    session.info[OUTBOX_WRITTEN] = True  # the dispatcher is woken by the commit


async def owed_connectors(*, session: AsyncSession, workspace_id: int) -> Sequence[Owed]:
    """The workspace's connectors that are not paused (a failing one still owes: its rows wait
    for new credentials), kept by each replica until they change."""

    async def load() -> Sequence[Owed]:
        rows = await session.execute(
            select(Connector.id, Connector.vendor).where(
                Connector.workspace_id == workspace_id, Connector.state != PAUSED
            )
        )
        return [
            Owed(id=row.id, vendor=row.vendor, actions=VENDORS[row.vendor].actions)
            for row in rows
            if row.vendor in VENDORS
        ]

    return await settings_read(session, workspace_id, ("connectors", workspace_id), load)


async def owe(
    *,
    session: AsyncSession,
    workspace_id: int,
    action: Action,
    record_id: int,
    now: datetime,
    connector_id: int | None = None,
    target: str | None = None,
    ticket_id: int | None = None,
) -> list[OutboxMessage]:
    """Owe `action` for our record to every connector of the workspace that does it (or to
    `connector_id` only). Returns the rows (none when nothing is connected)."""
    wanted = [
        owed
        for owed in await owed_connectors(session=session, workspace_id=workspace_id)
        if action in owed.actions and (connector_id is None or owed.id == connector_id)
    ]
    rows = []
    for owed in wanted:
        rows.append(
            await enqueue(
                session=session,
                kind=OutboxKind.CONNECTOR,
                target=f"{owed.vendor}.{action.value}",
                payload={
                    "connector_id": owed.id,
                    "action": action.value,
                    "record_id": record_id,
                    **({"target": target} if target else {}),
                    **({"ticket_id": ticket_id} if ticket_id else {}),
                },
                now=now,
                workspace_id=workspace_id,
                coalesce_key=f"connector:{owed.id}:{action.value}:{record_id}",
                coalesce=action in _COALESCED,
                on_delivered=CONNECTOR_DELIVERED,
                on_delivered_args={"connector_id": owed.id},
            )
        )
    return rows


async def resync(
    *, session: AsyncSession, connector: Connector, record_kind: str, record_id: int, now: datetime
) -> OutboxMessage:
    """Send one record again, as it stands now."""
    action = {"account": Action.SYNC_ACCOUNT, "ticket": Action.SYNC_TICKET}.get(record_kind)
    if action is None or action not in VENDORS[connector.vendor].actions:
        raise InvalidInput(f"{connector.vendor} does not sync {record_kind}s")
    if connector.state == PAUSED:
        raise Conflict(f"{connector.vendor} is paused; resume it first")
    return await enqueue(
        session=session,
        kind=OutboxKind.CONNECTOR,
        target=f"{connector.vendor}.{action.value}",
        payload={"connector_id": connector.id, "action": action.value, "record_id": record_id},
        now=now,
        workspace_id=connector.workspace_id,
        coalesce_key=f"connector:{connector.id}:{action.value}:{record_id}",
        on_delivered=CONNECTOR_DELIVERED,
        on_delivered_args={"connector_id": connector.id},
    )


async def sync_log(
    *, session: AsyncSession, connector: Connector, limit: int = 50
) -> Sequence[ConnectorSyncEntry]:
    if not 1 <= limit <= LOG_KEPT:
        raise InvalidInput(f"limit must be between 1 and {LOG_KEPT}")
    return (
        await session.scalars(
            select(ConnectorSyncEntry)
            .where(ConnectorSyncEntry.connector_id == connector.id)
            .order_by(ConnectorSyncEntry.id.desc())
            .limit(limit)
        )
    ).all()


async def find_link(
    *, session: AsyncSession, connector_id: int, record_kind: str, record_id: int
) -> ConnectorLink | None:
    return await session.scalar(
        select(ConnectorLink).where(
            ConnectorLink.connector_id == connector_id,
            ConnectorLink.record_kind == record_kind,
            ConnectorLink.record_id == record_id,
        )
    )


async def issues_of_ticket(
    *, session: AsyncSession, ticket_id: int
) -> Sequence[tuple[str, ConnectorLink]]:
    """The engineering issues made for a ticket: (vendor, link), oldest first."""
    rows = await session.execute(
        select(Connector.vendor, ConnectorLink)
        .join(Connector, Connector.id == ConnectorLink.connector_id)
        .where(ConnectorLink.record_kind == "issue", ConnectorLink.record_id == ticket_id)
        .order_by(ConnectorLink.id)
    )
    return [(vendor, link) for vendor, link in rows]


async def keep_link(
    *,
    session: AsyncSession,
    connector_id: int,
    record_kind: str,
    record_id: int,
    remote: dict[str, Any],
    now: datetime,
) -> tuple[ConnectorLink, bool | None]:
    """Store (or bring up to date) our record's far-side counterpart: (the link, whether it
    was done before; None if it is new)."""
    link = await find_link(
        session=session, connector_id=connector_id, record_kind=record_kind, record_id=record_id
    )
    was_done = None if link is None else link.remote_done
    if link is None:
        link = ConnectorLink(
            connector_id=connector_id,
            record_kind=record_kind,
            record_id=record_id,
            remote_done=False,
        )
        session.add(link)
    link.remote_id = str(remote["id"])
    link.remote_key = remote.get("key") or link.remote_key
    link.remote_url = remote.get("url") or link.remote_url
    link.remote_status = remote.get("status") or link.remote_status
    link.remote_done = bool(remote.get("done"))
    link.synced_at = now
    return link, was_done


async def log_entry(
    *,
    session: AsyncSession,
    connector_id: int,
    action: str,
    record_kind: str,
    record_id: int,
    outcome: str,
    now: datetime,
    attempts: int = 0,
    remote_id: str | None = None,
    status_code: int | None = None,
    error: str | None = None,
    outbox_id: int | None = None,
    event_id: str | None = None,
) -> ConnectorSyncEntry:
    entry = ConnectorSyncEntry(
        connector_id=connector_id,
        action=action,
        record_kind=record_kind,
        record_id=record_id,
        outcome=outcome,
        remote_id=remote_id,
        status_code=status_code,
        error=error,
        attempts=attempts,
        outbox_id=outbox_id,
        event_id=event_id,
        at=now,
    )
    session.add(entry)
    return entry


async def webhook_seen(*, session: AsyncSession, connector_id: int, event_id: str) -> bool:
    found = await session.scalar(
        select(ConnectorSyncEntry.id).where(
            ConnectorSyncEntry.connector_id == connector_id,
            ConnectorSyncEntry.event_id == event_id,
        )
    )
    return found is not None


async def link_of_remote(
    *, session: AsyncSession, connector_id: int, remote_id: str, for_update: bool = False
) -> ConnectorLink | None:
    query = select(ConnectorLink).where(
        ConnectorLink.connector_id == connector_id,
        ConnectorLink.remote_id == remote_id,
        ConnectorLink.record_kind.in_(("ticket", "issue")),
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query.limit(1))


TRACKERS = ("jira", "linear")  # the vendors that take escalations, in the order a click picks


@dataclass(frozen=True)
class IssueShown:
    """An engineering issue as a ticket's card shows it."""

    vendor: str
    key: str
    url: str | None
    status: str | None
    done: bool


async def escalations_for_cards(
    *, session: AsyncSession, ticket_ids: Sequence[int], workspace_ids: Sequence[int]
) -> tuple[dict[int, list[IssueShown]], set[int]]:
    """For a batch of cards: each ticket's engineering issues, and the workspaces with an issue
    tracker connected (their cards offer Escalate). Two indexed reads."""
    issues: dict[int, list[IssueShown]] = {}
    rows = await session.execute(
        select(Connector.vendor, ConnectorLink)
        .join(Connector, Connector.id == ConnectorLink.connector_id)
        .where(ConnectorLink.record_kind == "issue", ConnectorLink.record_id.in_(list(ticket_ids)))
        .order_by(ConnectorLink.id)
    )
    for vendor, issue in rows:
        issues.setdefault(issue.record_id, []).append(
            IssueShown(
                vendor=vendor,
                key=issue.remote_key or issue.remote_id,
                url=issue.remote_url,
                status=issue.remote_status,
                done=issue.remote_done,
            )
        )
    trackers = set(
        await session.scalars(
            select(Connector.workspace_id).where(
                Connector.workspace_id.in_(list(workspace_ids)),
                Connector.vendor.in_(TRACKERS),
                Connector.state != PAUSED,
            )
        )
    )
    return issues, trackers
