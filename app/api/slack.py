"""The one Slack endpoint: Events API, slash commands and interactivity all arrive here.

Nothing a client sends may get a 500, so a request reaches Bolt only once it is known to be
Slack's and shaped as Slack sends it: its size is capped before it is read (`body_limit`, 413),
its signature is checked before anything parses it (401), then its body must parse as Slack
sends it (400): a JSON object (events, url_verification), or a form (slash commands) whose
`payload` field, if any, is a JSON object (interactivity). Each refusal logs one warning line.
Bolt checks the signature again and parses the body its own way; what passes here, it can parse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from slack_sdk.signature import Clock, SignatureVerifier

from app.api.errors import error_response

logger = logging.getLogger(__name__)

router = APIRouter(tags=["slack"])

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# Slack's rule, as SignatureVerifier applies it: a request signed more than 5 minutes before (or
# after) now is refused.
FRESH_SECONDS = 5 * 60


@router.post(
    "/slack/events",
    summary="Slack requests (signed by Slack; unsigned or stale requests get 401)",
    include_in_schema=False,
)
async def slack_events(request: Request) -> Response:
    runtime = request.app.state.runtime
    body = await request.body()  # at most SLACK_MAX_BODY_BYTES: BodyLimitMiddleware
    secret = runtime.settings.slack_signing_secret.get_secret_value()
    unsigned = signature_problem(secret, body, request.headers)
    if unsigned is not None:
        return _refuse(401, "The request is not signed by Slack.", unsigned)
    malformed = body_problem(body, request.headers.get("content-type"))
    if malformed is not None:
        return _refuse(400, "The request body is not what Slack sends.", malformed)
    return await runtime.slack_handler.handle(request)


@router.get("/slack/install", summary="Add ticketbot to a Slack workspace", include_in_schema=False)
@router.get("/slack/oauth_redirect", include_in_schema=False)
async def slack_install(request: Request) -> Response:
    """Bolt's OAuth flow: the install page (which sets the state cookie) and Slack's redirect
    back with a code. Only when ticketbot installs into several workspaces (SLACK_CLIENT_ID);
    with one (SLACK_BOT_TOKEN) there is nothing to install."""
    runtime = request.app.state.runtime
    if not runtime.settings.installs_with_oauth:
        return error_response(
            404, "This ticketbot serves one workspace (SLACK_BOT_TOKEN); it has no install page."
        )
    return await runtime.slack_handler.handle(request)


def _refuse(status: int, message: str, reason: str) -> Response:
    logger.warning("POST /slack/events refused with %d: %s", status, reason)
    return error_response(status, message)


class SlackSignature(SignatureVerifier):
    """slack_sdk's check, over the body's bytes as Slack signs them: the SDK's own decodes the
    body as UTF-8 first, which raises on a body that is not."""

    def generate_signature(self, *, timestamp: str, body: str | bytes) -> str | None:
        raw = body.encode() if isinstance(body, str) else body
        base = b"v0:" + timestamp.encode() + b":" + raw
        return "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signature_problem(
    secret: str, body: bytes, headers: Mapping[str, str], clock: Clock | None = None
) -> str | None:
    """Why the request is not signed by Slack (missing, malformed, stale or wrong signature),
    or None. The freshness is checked against the wall clock, as Slack and Bolt do: Slack signs
    with its own time, not the app's (which tests may set)."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        return "no signature (X-Slack-Signature and X-Slack-Request-Timestamp are required)"
    if not (timestamp.isascii() and timestamp.isdigit()) or not signature.isascii():
        return "a malformed signature or timestamp"
    verifier = SlackSignature(secret, clock or Clock())
    if verifier.is_valid(body, timestamp, signature):
        return None
    age = int(verifier.clock.now()) - int(timestamp)
    if age > FRESH_SECONDS:
        return f"a stale signature (signed {age} s ago; at most {FRESH_SECONDS} s)"
    if -age > FRESH_SECONDS:
        return f"a signature from the future ({-age} s ahead; at most {FRESH_SECONDS} s)"
    return "a wrong signature"


def body_problem(body: bytes, content_type: str | None) -> str | None:
    """Why the body is not one Slack sends, or None. The content type is read as Bolt reads it
    (up to any `;`), so a body that passes takes the path through Bolt's parser checked here."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    declared = (content_type or "").split(";")[0]
    if declared == JSON:
        return _object_problem(text, "the JSON body")
    if declared.strip().lower() != FORM:
        return f"the content type is {declared or 'missing'}, not {JSON} or {FORM}"
    if text.startswith("{"):
        return "a form body that is JSON"  # Bolt would parse it as JSON
    payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
    if payload is None:
        return None  # a slash command: any form will do
    return _object_problem(payload, "the form's payload field")


def _object_problem(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError as error:  # JSONDecodeError, or a number too long to convert
        return f"{what} is not valid JSON ({error})"
    except RecursionError:
        return f"{what} is nested too deeply"
    if not isinstance(value, dict):
        return f"{what} is a JSON {_JSON_TYPES.get(type(value), 'value')}, not an object"
    problem = envelope_problem(value)
    return f"{what}: {problem}" if problem else None


_JSON_TYPES: dict[type, str] = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

# The envelope fields Bolt reads before any listener runs (to route the request and build its
# context), with the shapes Slack sends; another shape makes Bolt raise.
_IDS_OR_OBJECTS = ("enterprise", "team", "user", "channel")
_OBJECTS = ("event", "view", "message", "previous_message", "item", "assistant_thread")


def envelope_problem(body: dict[str, Any]) -> str | None:
    for name in _IDS_OR_OBJECTS:
        if not isinstance(body.get(name), str | dict | None):
            return f"{name} is neither an id nor an object"
    for name in _OBJECTS:
        if not isinstance(body.get(name), dict | None):
            return f"{name} is not an object"
    for name in ("authorizations", "actions"):
        items = body.get(name, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return f"{name} is not a list of objects"
    if body.get("type") == "block_actions" and not body.get("actions"):
        return "a block_actions payload without actions"
    if body.get("type") == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event_callback without an event and its type"
        if not isinstance(body.get("event_id"), str):
            return "an event_callback without an event_id"
        for item in body.get("authorizations", []):
            if problem := envelope_problem(item):
                return f"authorizations: {problem}"
        if problem := envelope_problem(event):
            return f"event: {problem}"
    return None
