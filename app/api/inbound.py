"""`POST /webhooks/inbound/{source}`: other systems open and update tickets with signed JSON.

The raw body is read first, because the signature covers its exact bytes; only a request
signed with the source's secret within five minutes is parsed and acted on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from app.api.deps import runtime_of
from app.api.errors import ErrorBody, error_responses
from app.flows.inbound import receive
from app.webhooks.inbound import find_source
from app.webhooks.schemas import InboundPayload, InboundResult
from app.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

router = APIRouter(prefix="/webhooks/inbound", tags=["inbound webhooks"])


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its nested models written in place, for `openapi_extra`
    (the body is parsed by hand, after the signature check, so FastAPI does not list it)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": InboundResult, "description": "The ticket existed and was updated."},
    401: {
        "model": ErrorBody,
        "description": f"Missing, wrong or stale {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}.",
    },
    404: {"model": ErrorBody, "description": "No inbound source has this name."},
    409: {"model": ErrorBody, "description": "The ticket's status does not allow the change."},
    **error_responses(413, 422),
}


@router.post(
    "/{source}",
    summary="Open a ticket for an external request, or update the one it opened",
    description=(
        "Sign the request: `X-Ticketbot-Timestamp: <unix seconds>` and `X-Ticketbot-Signature:"
        " v1=<hex HMAC-SHA256(secret, timestamp + '.' + body)>`, within 5 minutes."
    ),
    response_model=InboundResult,
    status_code=status.HTTP_201_CREATED,
    responses=_RESPONSES,
    operation_id="receiveInboundWebhook",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(InboundPayload)}},
        }
    },
)
async def receive_inbound(
    source: Annotated[str, Path(description="The source's name.", examples=["zendesk"])],
    request: Request,
    response: Response,
) -> InboundResult:
    runtime = runtime_of(request)
    raw = await request.body()
    now = runtime.clock.now()
    async with runtime.session_factory() as session:
        async with session.begin():
            found = await find_source(session=session, name=source)
        verify(
            secret=found.secret,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature_header=request.headers.get(SIGNATURE_HEADER),
            body=raw,
            now=now,
        )
        wanted = _parse(raw).to_request()
        try:
            async with session.begin():
                ticket, created = await receive(
                    session=session,
                    source=found,
                    request=wanted,
                    default_triage_channel_id=runtime.settings.triage_channel_id,
                    now=now,
                )
        except IntegrityError:
            # A concurrent delivery of the same request opened the ticket first (the unique
            # external id caught it): this one is an update of that ticket.
            async with session.begin():
                ticket, created = await receive(
                    session=session,
                    source=found,
                    request=wanted,
                    default_triage_channel_id=runtime.settings.triage_channel_id,
                    now=now,
                )
    if not created:
        response.status_code = status.HTTP_200_OK
    return InboundResult(ticket=ticket.display_number, created=created)


def _parse(raw: bytes) -> InboundPayload:
    """The body as InboundPayload; a 422 naming each bad field otherwise."""
    try:
        return InboundPayload.model_validate_json(raw or b"null")
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None
