"""`/api/connectors`: connect a CRM, helpdesk or issue tracker, pause, resume, resync one
record, read the sync log, remove; and `/webhooks/connectors/{id}`, where the vendors whose
webhooks we take (Zendesk, Jira, Linear) send them, signed as each documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.accounts.service import find_account
from app.api.deps import ApiContext, require_scope, runtime_of
from app.api.errors import ErrorBody, error_responses
from app.apikeys.scopes import Scope
from app.connectors import service
from app.connectors.models import Connector
from app.connectors.registry import VENDORS, webhook_reader
from app.connectors.schemas import (
    ConnectorCreate,
    ConnectorList,
    ConnectorRead,
    ConnectorUpdate,
    Resync,
    SyncEntryRead,
    SyncLog,
    WebhookAnswer,
)
from app.errors import InvalidInput, NotAuthenticated, NotFound
from app.flows.connectors import on_vendor_webhook
from app.tickets.queries import get_ticket_by_number, parse_ticket_number
from app.token_cipher import TokenCipherError

router = APIRouter(
    prefix="/api/connectors",
    tags=["connectors"],
    responses=error_responses(401, 403, 413, 422, 503),
)
webhooks = APIRouter(prefix="/webhooks/connectors", tags=["connector webhooks"])

Manager = Annotated[ApiContext, Depends(require_scope(Scope.CONNECTORS_MANAGE))]
ConnectorId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The connector's id.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such connector."}
}


def _read(connector: Connector) -> ConnectorRead:
    return ConnectorRead.of(
        connector, takes_webhooks=webhook_reader(VENDORS[connector.vendor]) is not None
    )


@router.post(
    "",
    summary="Connect a CRM, helpdesk or issue tracker (one of each per workspace)",
    response_model=ConnectorRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "That vendor is connected already."}},
    operation_id="createConnector",
)
async def create_connector(body: ConnectorCreate, api: Manager, request: Request) -> ConnectorRead:
    cipher = runtime_of(request).settings.token_cipher()
    async with api.session.begin():
        connector = await service.add_connector(
            session=api.session,
            workspace_id=api.workspace_id,
            vendor=body.vendor,
            base_url=body.base_url,
            token=body.token,
            cipher=cipher,
            extra={"email": body.email} if body.email else {},
            mapping=body.mapping,
            webhook_secret=body.webhook_secret,
            created_by=api.actor.id,
            now=api.clock.now(),
        )
        return _read(connector)


@router.get(
    "", summary="List connectors", response_model=ConnectorList, operation_id="listConnectors"
)
async def list_connectors(api: Manager) -> ConnectorList:
    async with api.session.begin():
        found = await service.list_connectors(session=api.session, workspace_id=api.workspace_id)
        return ConnectorList(items=[_read(connector) for connector in found])


@router.patch(
    "/{connector_id}",
    summary="Change a connector: new credentials, mapping, pause or resume",
    response_model=ConnectorRead,
    responses=NOT_FOUND,
    operation_id="updateConnector",
)
async def update_connector(
    connector_id: ConnectorId, body: ConnectorUpdate, api: Manager, request: Request
) -> ConnectorRead:
    cipher = runtime_of(request).settings.token_cipher()
    async with api.session.begin():
        connector = await service.get_connector(
            session=api.session,
            workspace_id=api.workspace_id,
            connector=connector_id,
            for_update=True,
        )
        await service.change_connector(
            session=api.session,
            connector=connector,
            cipher=cipher,
            now=api.clock.now(),
            token=body.token,
            base_url=body.base_url,
            mapping=body.mapping,
            webhook_secret=body.webhook_secret,
            paused=body.paused,
        )
        return _read(connector)


@router.delete(
    "/{connector_id}",
    summary="Remove a connector; what it still owed is cancelled",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
    operation_id="deleteConnector",
)
async def delete_connector(connector_id: ConnectorId, api: Manager) -> Response:
    async with api.session.begin():
        connector = await service.get_connector(
            session=api.session,
            workspace_id=api.workspace_id,
            connector=connector_id,
            for_update=True,
        )
        await service.remove_connector(
            session=api.session, connector=connector, now=api.clock.now()
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{connector_id}/log",
    summary="The sync log, newest first: what was sent, when, the far side's id, the error",
    response_model=SyncLog,
    responses=NOT_FOUND,
    operation_id="connectorSyncLog",
)
async def connector_log(
    connector_id: ConnectorId,
    api: Manager,
    limit: Annotated[int, Query(ge=1, le=service.LOG_KEPT)] = 50,
) -> SyncLog:
    async with api.session.begin():
        connector = await service.get_connector(
            session=api.session, workspace_id=api.workspace_id, connector=connector_id
        )
        entries = await service.sync_log(session=api.session, connector=connector, limit=limit)
        return SyncLog(items=[SyncEntryRead.of(entry) for entry in entries])


@router.post(
    "/{connector_id}/resync",
    summary="Send one ticket or account again, as it stands now",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "The connector is paused."}},
    operation_id="resyncConnectorRecord",
)
async def resync(connector_id: ConnectorId, body: Resync, api: Manager) -> Response:
    async with api.session.begin():
        connector = await service.get_connector(
            session=api.session, workspace_id=api.workspace_id, connector=connector_id
        )
        record_id = await _record_id(api, body)
        await service.resync(
            session=api.session,
            connector=connector,
            record_kind=body.record,
            record_id=record_id,
            now=api.clock.now(),
        )
    return Response(status_code=status.HTTP_202_ACCEPTED)


async def _record_id(api: ApiContext, body: Resync) -> int:
    if body.record == "ticket":
        ticket = await get_ticket_by_number(
            session=api.session, workspace_id=api.workspace_id, number=parse_ticket_number(body.id)
        )
        return ticket.id
    if not body.id.isdigit():
        raise InvalidInput("an account is named by its id (see GET /api/accounts)")
    account = await find_account(
        session=api.session, workspace_id=api.workspace_id, account_id=int(body.id)
    )
    return account.id


@webhooks.post(
    "/{connector_id}",
    summary="A vendor's webhook (Zendesk, Jira, Linear), verified with the connector's secret",
    response_model=WebhookAnswer,
    responses={
        401: {"model": ErrorBody, "description": "Missing, wrong or stale signature."},
        404: {"model": ErrorBody, "description": "No such connector, or it takes no webhooks."},
        **error_responses(413),
    },
    operation_id="receiveConnectorWebhook",
)
async def receive_webhook(connector_id: ConnectorId, request: Request) -> WebhookAnswer:
    runtime = runtime_of(request)
    cipher = runtime.settings.token_cipher()
    now = runtime.clock.now()
    async with runtime.session_factory() as session:
        async with session.begin():
            connector = await session.get(Connector, connector_id)
            reader = webhook_reader(VENDORS[connector.vendor]) if connector else None
            if connector is None or reader is None or not connector.webhook_secret_encrypted:
                raise NotFound("no connector here takes webhooks")
            try:
                secret = cipher.decrypt(connector.webhook_secret_encrypted) if cipher else None
            except TokenCipherError:
                secret = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        if secret is None or not _signed(headers):
            raise NotAuthenticated("This webhook must be signed as the vendor documents.")
        raw = await request.body()
        if not reader.verify(headers, raw, secret, now):
            raise NotAuthenticated("The webhook's signature is wrong or stale.")
        news = reader.read(raw)
        if news is None:
            return WebhookAnswer(done="nothing to do")
        async with session.begin():
            connector = await session.get(Connector, connector_id)
            if connector is None:
                raise NotFound("no connector here takes webhooks")
            done = await on_vendor_webhook(session=session, connector=connector, news=news, now=now)
    return WebhookAnswer(done=done)


# The headers each vendor signs with: a request without them is refused before its body is read.
_SIGNATURE_HEADERS = ("x-zendesk-webhook-signature", "x-hub-signature", "linear-signature")


def _signed(headers: dict[str, str]) -> bool:
    return any(headers.get(name) for name in _SIGNATURE_HEADERS)
