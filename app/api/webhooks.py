"""`/api/webhooks`: subscribe receivers to ticket, SLA and CSAT events, and read what was sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.api.deps import ApiContext, require_scope
from app.api.errors import ErrorBody, error_responses
from app.apikeys.scopes import Scope
from app.webhooks import subscriptions as service
from app.webhooks.schemas import (
    DeliveryPageRead,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses=error_responses(401, 403, 413, 422, 503),
)

Manager = Annotated[ApiContext, Depends(require_scope(Scope.WEBHOOKS_MANAGE))]
WebhookId = Annotated[
    int, Path(ge=1, le=service.MAX_WEBHOOK_ID, description="The webhook's id.", examples=[3])
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such webhook (or delivery)."}
}
DISABLED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The webhook is disabled."}
}


@router.post(
    "",
    summary="Subscribe a URL to events; the answer holds the signing secret, shown only once",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="createWebhook",
)
async def create_webhook(body: WebhookCreate, api: Manager) -> WebhookCreated:
    async with api.session.begin():
        created = await service.create_subscription(
            session=api.session,
            workspace_id=api.workspace_id,
            url=body.url,
            event_types=[event.value for event in body.events],
            description=body.description,
            now=api.clock.now(),
        )
    read = WebhookRead.of(created.subscription)
    return WebhookCreated(**read.model_dump(), secret=created.secret)


@router.get("", summary="List webhooks", response_model=WebhookList, operation_id="listWebhooks")
async def list_webhooks(api: Manager) -> WebhookList:
    async with api.session.begin():
        found = await service.list_subscriptions(session=api.session, workspace_id=api.workspace_id)
    return WebhookList(items=[WebhookRead.of(subscription) for subscription in found])


@router.get(
    "/{webhook_id}",
    summary="One webhook (never its secret)",
    response_model=WebhookRead,
    responses=NOT_FOUND,
    operation_id="getWebhook",
)
async def read_webhook(webhook_id: WebhookId, api: Manager) -> WebhookRead:
    async with api.session.begin():
        subscription = await service.get_subscription(
            session=api.session, workspace_id=api.workspace_id, subscription_id=webhook_id
        )
    return WebhookRead.of(subscription)


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook's URL, events or description, or disable and enable it",
    response_model=WebhookRead,
    responses=NOT_FOUND,
    operation_id="updateWebhook",
)
async def update_webhook(webhook_id: WebhookId, change: WebhookUpdate, api: Manager) -> WebhookRead:
    async with api.session.begin():
        subscription = await service.get_subscription(
            session=api.session,
            workspace_id=api.workspace_id,
            subscription_id=webhook_id,
            for_update=True,
        )
        await service.update_subscription(
            session=api.session,
            subscription=subscription,
            now=api.clock.now(),
            url=change.url,
            event_types=[e.value for e in change.events] if change.events is not None else None,
            active=change.active,
            description=change.description,
        )
    return WebhookRead.of(subscription)


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook and its delivery log; nothing still owed to it is sent",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
    operation_id="deleteWebhook",
)
async def delete_webhook(webhook_id: WebhookId, api: Manager) -> Response:
    async with api.session.begin():
        subscription = await service.get_subscription(
            session=api.session,
            workspace_id=api.workspace_id,
            subscription_id=webhook_id,
            for_update=True,
        )
        await service.delete_subscription(
            session=api.session, subscription=subscription, now=api.clock.now()
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The delivery log: each event sent to this webhook, newest first",
    response_model=DeliveryPageRead,
    responses=NOT_FOUND,
    operation_id="listWebhookDeliveries",
)
async def list_deliveries(
    webhook_id: WebhookId,
    api: Manager,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.", max_length=32)
    ] = None,
) -> DeliveryPageRead:
    async with api.session.begin():
        subscription = await service.get_subscription(
            session=api.session, workspace_id=api.workspace_id, subscription_id=webhook_id
        )
        page = await service.list_deliveries(
            session=api.session, subscription=subscription, limit=limit, cursor=cursor
        )
    return DeliveryPageRead(
        items=[DeliveryRead.of(delivery) for delivery in page.deliveries],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery's event again: same event id and body, a new delivery",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, **DISABLED},
    operation_id="redeliverWebhookDelivery",
)
async def redeliver(
    webhook_id: WebhookId,
    delivery_id: Annotated[
        int,
        Path(
            ge=1,
            le=service.MAX_DELIVERY_ID,
            description="The delivery to send again.",
            examples=[41],
        ),
    ],
    api: Manager,
) -> DeliveryRead:
    async with api.session.begin():
        subscription = await service.get_subscription(
            session=api.session, workspace_id=api.workspace_id, subscription_id=webhook_id
        )
        delivery = await service.redeliver(
            session=api.session,
            subscription=subscription,
            delivery_id=delivery_id,
            now=api.clock.now(),
        )
    return DeliveryRead.of(delivery)
