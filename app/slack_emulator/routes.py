"""The emulator's HTTP surface: Slack's Web API, response_url hooks and a control API.

Control API, for driving an emulator that runs in another process:

* ``GET  /_emulator/calls?method=chat.postMessage`` -> ``{"calls": [RecordedCall as dict]}``
* ``GET  /_emulator/messages?channel=C1`` -> ``{"messages": [...]}``
* ``POST /_emulator/messages`` with JSON ``{"channel", "user", "text", "ts", "thread_ts", "team"}``
  seeds a user's message -> ``{"ok": true, "message": {...}}``
* ``GET  /_emulator/thread?channel=C1&ts=...`` -> ``{"messages": [parent, *replies]}``
* ``POST /_emulator/response_urls`` mints a response_url (as Slack puts in a slash command or
  a click) -> ``{"ok": true, "response_url": "..."}``
* ``POST /_emulator/fail`` with JSON ``{"method", "status", "times", "retry_after", "error"}``
* ``POST /_emulator/slow`` with JSON ``{"method", "seconds", "times"}``
* ``POST /_emulator/reset`` forgets recorded calls and pending faults
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from app.slack_emulator.openid import AUTHORIZE_PATH as OPENID_AUTHORIZE_PATH
from app.slack_emulator.openid import TOKEN_METHOD as OPENID_TOKEN
from app.slack_emulator.openid import USERINFO_METHOD as OPENID_USERINFO
from app.slack_emulator.records import RESPONSE_URL_METHOD
from app.slack_emulator.request_shape import request_shape
from app.slack_emulator.socket_mode import LINK_PATH
from app.slack_emulator.workspace import UPLOAD_PATH, ApiError

if TYPE_CHECKING:
    from app.slack_emulator.emulator import SlackEmulator

RESPONSE_URL_PREFIX = "/_emulator/response_url/"
CONNECTIONS_OPEN = "apps.connections.open"
OAUTH_ACCESS = "oauth.v2.access"
# Slack's consent page lives at https://slack.com/oauth/v2/authorize (not under /api/).
AUTHORIZE_PATH = "/oauth/v2/authorize"

# Arguments that Slack takes as JSON text inside form-encoded bodies.
_JSON_STRING_ARGS = frozenset(
    {"blocks", "attachments", "view", "metadata", "user_auth_blocks", "unfurls"}
)


def _decode_json_strings(args: dict[str, Any]) -> None:
    for name in _JSON_STRING_ARGS & args.keys():
        value = args[name]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            # Malformed JSON stays a string: the handler rejects it, as Slack would.
            with contextlib.suppress(ValueError):
                args[name] = json.loads(value)


async def read_args(request: Request) -> tuple[dict[str, Any], str | None]:
    """Merge query args with the form or JSON body; return ``(args, token)``.

    The token comes from ``Authorization: Bearer`` or, failing that, a ``token`` arg.
    """
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError("invalid_json")
        args.update(data)
    elif body:
        args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    _decode_json_strings(args)
    arg_token = args.pop("token", None)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return args, credentials.strip()
    return args, str(arg_token) if arg_token else None


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(emulator: SlackEmulator) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/api/{method}", methods=["GET", "POST"])
    async def web_api(method: str, request: Request) -> JSONResponse:
        try:
            args, token = await read_args(request)
        except ApiError as exc:
            answer = await emulator.answer_error(method, exc.error)
        else:
            if method == OAUTH_ACCESS:
                authorization = request.headers.get("authorization", "")
                answer = await emulator.answer_oauth_access(args, authorization)
                return _json(answer.status, answer.body, answer.headers)
            if method == OPENID_TOKEN:
                authorization = request.headers.get("authorization", "")
                answer = await emulator.answer_openid_token(args, authorization)
                return _json(answer.status, answer.body, answer.headers)
            if method == OPENID_USERINFO:
                answer = await emulator.answer_openid_user_info(args, token)
                return _json(answer.status, answer.body, answer.headers)
            if method == CONNECTIONS_OPEN:
                scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
                in_header = scheme.lower() == "bearer" and bool(credentials.strip())
                answer = await emulator.answer_connections_open(args, token, in_header=in_header)
                return _json(answer.status, answer.body, answer.headers)
            shape = await request_shape(request)
            answer = await emulator.answer(method, args, token, shape=shape)
        return _json(answer.status, answer.body, answer.headers)

    @app.get(AUTHORIZE_PATH)
    async def oauth_authorize(request: Request) -> Response:
        status, where = emulator.answer_authorize(dict(request.query_params))
        if status == 302:
            return RedirectResponse(where, status_code=302)
        return HTMLResponse(f"<p>Slack could not start the install: {where}</p>", status_code=400)

    @app.post(UPLOAD_PATH + "{file_id}")
    async def upload(file_id: str, request: Request) -> Response:
        status, text = emulator.answer_upload(file_id, await request.body())
        return Response(text, status_code=status, media_type="text/plain")

    @app.get(OPENID_AUTHORIZE_PATH)
    async def openid_authorize(request: Request) -> Response:
        status, where = emulator.answer_openid_authorize(dict(request.query_params))
        if status == 302:
            return RedirectResponse(where, status_code=302)
        return HTMLResponse(f"<p>Slack could not sign you in: {where}</p>", status_code=400)

    @app.websocket(LINK_PATH + "/")
    async def socket_mode_link(websocket: WebSocket, ticket: str | None = None) -> None:
        await emulator.socket_mode.serve(websocket, ticket)

    @app.post(RESPONSE_URL_PREFIX + "{hook_id}")
    async def response_url(hook_id: str, request: Request) -> JSONResponse:
        try:
            args, token = await read_args(request)
        except ApiError as exc:
            answer = await emulator.answer_error(RESPONSE_URL_METHOD, exc.error, status=400)
        else:
            answer = await emulator.answer_response_url(hook_id, args, token)
        return _json(answer.status, answer.body, answer.headers)

    @app.get("/_emulator/calls")
    async def control_calls(method: str | None = None) -> dict[str, Any]:
        return {"calls": [call.to_dict() for call in emulator.calls(method)]}

    @app.get("/_emulator/messages")
    async def control_messages(channel: str) -> dict[str, Any]:
        return {"messages": emulator.messages(channel)}

    @app.post("/_emulator/messages")
    async def control_add_message(request: Request) -> JSONResponse:
        try:
            spec = await request.json()
            message = emulator.add_message(
                str(spec["channel"]),
                user=str(spec["user"]),
                text=str(spec["text"]),
                ts=spec.get("ts"),
                thread_ts=spec.get("thread_ts"),
                team=spec.get("team"),
            )
        except (AttributeError, KeyError, ValueError, TypeError) as exc:
            return _json(400, {"ok": False, "error": str(exc)})
        return _json(200, {"ok": True, "message": message})

    @app.post("/_emulator/response_urls")
    async def control_new_response_url() -> dict[str, Any]:
        return {"ok": True, "response_url": emulator.new_response_url()}

    @app.get("/_emulator/thread")
    async def control_thread(channel: str, ts: str) -> dict[str, Any]:
        return {"messages": emulator.thread(channel, ts)}

    @app.post("/_emulator/fail")
    async def control_fail(request: Request) -> JSONResponse:
        try:
            spec = await request.json()
            retry_after = spec.get("retry_after")
            emulator.fail_next(
                spec.get("method"),
                status=int(spec.get("status", 500)),
                times=int(spec.get("times", 1)),
                retry_after=None if retry_after is None else int(retry_after),
                error=spec.get("error"),
            )
        except (AttributeError, ValueError, TypeError) as exc:
            return _json(400, {"ok": False, "error": str(exc)})
        return _json(200, {"ok": True})

    @app.post("/_emulator/slow")
    async def control_slow(request: Request) -> JSONResponse:
        try:
            spec = await request.json()
            emulator.slow_next(
                spec.get("method"), seconds=float(spec["seconds"]), times=int(spec.get("times", 1))
            )
        except (AttributeError, KeyError, ValueError, TypeError) as exc:
            return _json(400, {"ok": False, "error": str(exc)})
        return _json(200, {"ok": True})

    @app.post("/_emulator/reset")
    async def control_reset() -> dict[str, Any]:
        emulator.reset_calls()
        emulator.clear_faults()
        return {"ok": True}

    return app
