"""Read how a Web API request arrived (content type, body, token placement) for the rules in
:mod:`.method_specs`."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import Request

from app.slack_emulator.method_specs import JSON, RequestShape


def _token_in_body(body: bytes, content_type: str | None) -> bool:
    if content_type == JSON:
        try:
            data = json.loads(body)
        except ValueError:
            return False
        return isinstance(data, dict) and bool(data.get("token"))
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return any(name == "token" and value for name, value in pairs)


async def request_shape(request: Request) -> RequestShape:
    body = await request.body()
    raw_type = request.headers.get("content-type")
    content_type = raw_type.split(";")[0].strip().lower() if raw_type else None
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token_from: str | None = None
    if scheme.lower() == "bearer" and credentials.strip():
        token_from = "header"
    elif request.query_params.get("token"):
        token_from = "query"
    elif body and _token_in_body(body, content_type):
        token_from = "body"
    return RequestShape(
        http_method=request.method.upper(),
        content_type=content_type or None,
        has_body=bool(body),
        token_from=token_from,
    )
