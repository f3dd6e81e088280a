"""Delivers `connector` outbox rows: the record read as it stands now, handed to its vendor
module, the far side's answer classified for the outbox.

Credentials are decrypted for the call only. A paused or failing connector's rows are held
(deferred, not attempted: nothing is sent, so a refused token causes no retry storm, and
nothing is given up) until it is resumed or given new credentials, which releases them at once
(service.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.connectors.models import Connector, ConnectorLink
from app.connectors.records import account_record, comment_record, ticket_record
from app.connectors.registry import VENDORS
from app.connectors.service import ACTIVE, RECORD_OF_ACTION, find_link
from app.connectors.vendors.base import (
    Action,
    Credentials,
    Failure,
    FarSideError,
    Push,
    Remote,
    Vendor,
)
from app.outbox.delivery import Attempt, DeliveryOutcome, RetryPolicy
from app.outbox.pacing import Pace, Pacer
from app.token_cipher import TokenCipher, TokenCipherError

USER_AGENT = "ticketbot-connectors/1"
HOLD = timedelta(minutes=15)  # a held row looks again this often (a release sends it at once)
PARENT_NOT_YET = 30.0  # seconds before a comment looks again for its ticket on the far side
# The error of an attempt refused for its credentials starts with this (flows/connectors.py
# marks the connector failing and tells the leads).
CREDENTIALS_REFUSED = "credentials refused"


# Each far side's pace (app/outbox/pacing.py), shared by every replica, per connector: a row is
# one to three calls. From the vendors' published limits:
# HubSpot private apps, 100 requests per 10 s on the lowest plan
#   (developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines);
# Zendesk Team plan, 200 requests a minute (developer.zendesk.com/api-reference/introduction/
#   rate-limits/); Jira Cloud, a points budget an hour, bursts allowed
#   (developer.atlassian.com/cloud/jira/platform/rate-limiting/); Linear API keys, 1,500
#   requests an hour (linear.app/developers/rate-limiting); Salesforce, a daily allocation and
#   concurrent long requests, no rate a second.
PACES: dict[str, Pace] = {
    "hubspot": Pace(interval=timedelta(milliseconds=300), burst=10),
    "zendesk": Pace(interval=timedelta(milliseconds=600), burst=10),
    "jira": Pace(interval=timedelta(milliseconds=300), burst=10),
    "linear": Pace(interval=timedelta(seconds=7), burst=20),
    "salesforce": Pace(interval=timedelta(milliseconds=100), burst=20),
}

# A far side may be down for a while (a deploy, an outage): two days of retries, at most half
# an hour apart. A 429's wait is honoured whatever the cap.
RETRY_POLICY = RetryPolicy(
    max_attempts=100, backoff_cap_seconds=1800.0, give_up_after=timedelta(days=2)
)


def build_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def ours(record_kind: str, record_id: int) -> str:
    """Our record's id as we stamp it on the far side (found again after a lost answer)."""
    return f"ticketbot-{record_kind}-{record_id}"


def remote_of(link: ConnectorLink | None) -> Remote | None:
    if link is None:
        return None
    return Remote(
        id=link.remote_id,
        key=link.remote_key,
        url=link.remote_url,
        status=link.remote_status,
        done=link.remote_done,
    )


def remote_fields(remote: Remote) -> dict[str, Any]:
    return {
        "id": remote.id,
        "key": remote.key,
        "url": remote.url,
        "status": remote.status,
        "done": remote.done,
    }


class ConnectorSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        cipher: TokenCipher | None,
        pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        self._session_factory = session_factory
        self._clock = clock
        self._cipher = cipher
        self._pacer = pacer

    def order_key(self, target: str, payload: dict[str, Any]) -> Hashable | None:
        """One record's calls go out in the order they were owed (a ticket before its
        comments): keyed by the connector and the ticket or account."""
        if payload.get("ticket_id") is not None:
            return (payload.get("connector_id"), "ticket", payload["ticket_id"])
        return (payload.get("connector_id"), payload.get("action"), payload.get("record_id"))

    async def send(self, target: str, payload: dict[str, Any], attempt: Attempt) -> DeliveryOutcome:
        now = self._clock.now()
        async with self._session_factory() as session:
            connector = await session.get(Connector, payload.get("connector_id"))
            if connector is None:
                return DeliveryOutcome.cancelled("the connector was removed")
            if connector.state != ACTIVE:
                return DeliveryOutcome.deferred(now + HOLD)
            vendor = VENDORS.get(connector.vendor)
            if vendor is None or self._cipher is None:
                return DeliveryOutcome.rejected("this connector's vendor or key is not available")
            try:
                credentials = Credentials(
                    base_url=connector.base_url,
                    token=self._cipher.decrypt(connector.token_encrypted),
                    extra=dict(connector.extra or {}),
                )
            except TokenCipherError:
                return DeliveryOutcome.rejected(
                    "the stored token cannot be decrypted with TOKEN_ENCRYPTION_KEYS"
                )
            mapping = {**vendor.default_mapping, **(connector.mapping or {})}
            paces = self._paces(connector)
            connector_id = connector.id
        # A paced slot is taken with no session open (on SQLite the pool is one connection).
        if paces and attempt.paced_slot_at is None:
            slot = await self._reserve(paces)
            if slot is not None:
                return DeliveryOutcome.deferred(slot)
        try:
            async with self._session_factory() as session:
                return await self._send(
                    session,
                    connector_id,
                    vendor,
                    credentials,
                    Action(payload["action"]),
                    mapping,
                    payload,
                    attempt.maybe_sent_since is not None,
                    now,
                )
        except FarSideError as error:
            if error.failure is Failure.RATE_LIMITED and error.retry_after and paces:
                await self._hold(paces, error.retry_after)
            return _outcome(error)

    def _paces(self, connector: Connector) -> dict[str, Pace]:
        pace = PACES.get(connector.vendor)
        if self._pacer is None or pace is None:
            return {}
        return {f"connector:{connector.id}": pace}

    async def _reserve(self, paces: dict[str, Pace]) -> datetime | None:
        assert self._pacer is not None
        try:
            return await self._pacer.reserve(paces)
        except (SQLAlchemyError, OSError):
            return None  # unpaced this once rather than not sent: the far side's 429 still holds

    async def _hold(self, paces: dict[str, Pace], seconds: float) -> None:
        """The far side said to wait: no other row of this connector goes before then."""
        assert self._pacer is not None
        # If the hold cannot be written, the row itself still waits its Retry-After.
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self._pacer.hold(paces, self._pacer.now() + timedelta(seconds=seconds))

    async def _send(
        self,
        session: AsyncSession,
        connector_id: int,
        vendor: Vendor,
        credentials: Credentials,
        action: Action,
        mapping: dict[str, Any],
        payload: dict[str, Any],
        look_first: bool,
        now: datetime,
    ) -> DeliveryOutcome:
        record_id = int(payload["record_id"])
        kind = RECORD_OF_ACTION[action]
        link = await find_link(
            session=session, connector_id=connector_id, record_kind=kind, record_id=record_id
        )
        result: dict[str, Any] = {}
        new_parent = False
        if action is Action.SYNC_ACCOUNT:
            account = await account_record(session, record_id, now)
            if account is None:
                return DeliveryOutcome.cancelled("the account no longer exists")
            push = Push(action, ours(kind, record_id), mapping, account=account)
        elif action is Action.SYNC_TICKET:
            ticket = await ticket_record(session, record_id, now)
            if ticket is None:
                return DeliveryOutcome.cancelled("the ticket no longer exists")
            parent = None
            if ticket.account is not None and Action.SYNC_ACCOUNT in vendor.actions:
                # the ticket is filed under its account's far-side record (made first, below,
                # if it has none yet)
                parent_link = await find_link(
                    session=session,
                    connector_id=connector_id,
                    record_kind="account",
                    record_id=ticket.account.id,
                )
                parent = remote_of(parent_link)
                new_parent = parent is None
            push = Push(action, ours(kind, record_id), mapping, ticket=ticket, parent=parent)
        elif action is Action.ADD_COMMENT:
            comment = await comment_record(session, record_id)
            if comment is None:
                return DeliveryOutcome.cancelled("the message was deleted")
            parent_link = await find_link(
                session=session,
                connector_id=connector_id,
                record_kind="ticket",
                record_id=comment.ticket_id,
            )
            if parent_link is None:
                return DeliveryOutcome.retry(
                    f"ticket {comment.ticket_id} is not in {vendor.name} yet",
                    retry_after=PARENT_NOT_YET,
                )
            push = Push(
                action,
                ours(kind, record_id),
                mapping,
                comment=comment,
                parent=remote_of(parent_link),
            )
        else:  # ESCALATE
            ticket = await ticket_record(session, record_id, now)
            if ticket is None:
                return DeliveryOutcome.cancelled("the ticket no longer exists")
            push = Push(
                action, ours(kind, record_id), mapping, ticket=ticket, target=payload.get("target")
            )
        push = replace(push, remote=remote_of(link), look_first=look_first)
        # No database connection is held while the far side answers.
        await session.close()
        account = push.ticket.account if push.ticket is not None else None
        if new_parent and account is not None:
            parent = await vendor.push(
                self._client,
                credentials,
                Push(
                    Action.SYNC_ACCOUNT,
                    ours("account", account.id),
                    mapping,
                    account=account,
                    look_first=True,
                ),
            )
            result["parent"] = {
                "record_kind": "account",
                "record_id": account.id,
                **remote_fields(parent),
            }
            push = replace(push, parent=parent)
        remote = await vendor.push(self._client, credentials, push)
        return DeliveryOutcome.delivered(
            {**result, "record_kind": kind, "record_id": record_id, **remote_fields(remote)}
        )


def _outcome(error: FarSideError) -> DeliveryOutcome:
    if error.failure is Failure.AUTH:
        # Kept, not failed: the connector is held (flows/connectors.py) until its credentials
        # are replaced, and this row goes out then with the rest.
        return DeliveryOutcome.retry(
            f"{CREDENTIALS_REFUSED}: {error.message}",
            status_code=error.status_code,
            retry_after=HOLD.total_seconds(),
        )
    if error.failure is Failure.RATE_LIMITED:
        return DeliveryOutcome.retry(
            f"rate limited: {error.message}",
            status_code=error.status_code,
            retry_after=error.retry_after,
        )
    if error.failure is Failure.UNAVAILABLE:
        return DeliveryOutcome.retry(
            error.message,
            status_code=error.status_code,
            retry_after=error.retry_after,
            unknown=error.maybe_done,
        )
    if error.failure is Failure.NOT_FOUND:
        return DeliveryOutcome.rejected(
            f"deleted on the far side ({error.message}); resync the record to make it again",
            status_code=error.status_code,
        )
    return DeliveryOutcome.rejected(error.message, status_code=error.status_code)
