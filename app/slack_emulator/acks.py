"""Check what an app answers Slack's requests with: the body of its acknowledgement.

A slash command or an interaction may be answered with a message (an ephemeral reply:
``text``/``blocks``), and a ``view_submission`` with a ``response_action``: ``update`` or
``push`` with a ``view``, ``errors`` with ``{block_id: message}``, or ``clear`` (bolt-js's
types for them: ViewUpdateResponseAction, ViewPushResponseAction, ViewErrorsResponseAction,
ViewClearResponseAction, e.g.
https://docs.slack.dev/tools/bolt-js/reference/interfaces/ViewErrorsResponseAction). Slack
refuses a malformed one (the user sees an error in the modal or nothing at all); here the same
Block Kit and text checks as for the Web API find it.
"""

from __future__ import annotations

from typing import Any

from app.slack_emulator.block_kit import TextRules, check_message, check_view
from app.slack_emulator.problems import INVALID_ARGUMENTS, Problem

__all__ = ["ack_problems"]

_RESPONSE_ACTIONS = frozenset({"update", "push", "errors", "clear"})


def ack_problems(
    body: Any,
    *,
    kind: str,
    submitted_view: dict[str, Any] | None = None,
    rules: TextRules | None = None,
) -> list[Problem]:
    """What Slack would refuse in ``body``, the JSON an app answered a ``kind`` request with
    (``view_submission``, ``block_actions``, ``shortcut``, ``command``...)."""
    rules = rules or TextRules()
    if not isinstance(body, dict):
        return [Problem(INVALID_ARGUMENTS, "", "an acknowledgement body must be a JSON object")]
    if kind == "view_submission":
        return _view_submission_problems(body, submitted_view, rules)
    if "response_action" in body:
        return [
            Problem(
                INVALID_ARGUMENTS,
                "response_action",
                f"only a view_submission may answer with a response_action, not a {kind}",
            )
        ]
    if any(body.get(name) for name in ("text", "blocks", "attachments")):
        return check_message(body, rules=rules)
    return []


def _view_submission_problems(
    body: dict[str, Any], submitted_view: dict[str, Any] | None, rules: TextRules
) -> list[Problem]:
    action = body.get("response_action")
    if action is None:
        if body:
            return [
                Problem(
                    INVALID_ARGUMENTS,
                    "response_action",
                    "a view_submission is answered with nothing or with a response_action",
                )
            ]
        return []
    if action not in _RESPONSE_ACTIONS:
        return [Problem(INVALID_ARGUMENTS, "response_action", f"unknown: {action!r}")]
    if action in ("update", "push"):
        return check_view(body.get("view"), surface="modal", rules=rules)
    if action == "errors":
        return _errors_problems(body.get("errors"), submitted_view)
    return []


def _errors_problems(errors: Any, submitted_view: dict[str, Any] | None) -> list[Problem]:
    """``errors`` maps the block_id of an input block in the submitted view to a message."""
    if not isinstance(errors, dict) or not errors:
        return [Problem(INVALID_ARGUMENTS, "errors", "must map input block_ids to messages")]
    problems: list[Problem] = []
    blocks = (submitted_view or {}).get("blocks") or []
    input_ids = {
        b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("type") == "input"
    }
    for block_id, message in errors.items():
        if not isinstance(message, str) or not message.strip():
            problems.append(Problem(INVALID_ARGUMENTS, f"errors.{block_id}", "needs a message"))
        if blocks and block_id not in input_ids:
            problems.append(
                Problem(
                    INVALID_ARGUMENTS,
                    f"errors.{block_id}",
                    "not the block_id of an input block in the submitted view",
                )
            )
    return problems
