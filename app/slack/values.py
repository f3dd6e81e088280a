"""Reading what a button, a menu or a modal carries: small typed values, checked once here.

Ticketbot puts context in a button's `value` and a modal's `private_metadata` as small JSON
(`{"ticket_id": 12}`), a priority menu's option as `"12:high"`, a survey's buttons as its id.
Anything else (a stale button, a forged value) reads as None, and the listener answers that the
button no longer points anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.tickets.enums import Priority


def int_or_none(value: object) -> int | None:
    if not isinstance(value, str | int | float):  # None, a list, an object: not a number
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):  # OverflowError: JSON's Infinity
        return None


def json_int(raw: object, key: str) -> int | None:
    """`{"<key>": 12}` in a button value or private_metadata, as an int; None otherwise."""
    try:
        decoded = json.loads(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return None
    return int_or_none(decoded.get(key)) if isinstance(decoded, dict) else None


def first_action(body: Mapping[str, Any]) -> dict[str, Any]:
    """The action a block_actions payload reports (Slack sends one per click)."""
    actions = body.get("actions") or [{}]
    action = actions[0] if isinstance(actions, list) and actions else {}
    return action if isinstance(action, dict) else {}


def ticket_id_of(body: Mapping[str, Any]) -> int | None:
    """The ticket a triage-card or Home button points at."""
    return json_int(first_action(body).get("value"), "ticket_id")


def priority_choice_of(body: Mapping[str, Any]) -> tuple[int | None, Priority | None]:
    """The ticket and priority a priority menu's option (`"12:high"`) names."""
    selected = (first_action(body).get("selected_option") or {}).get("value", "")
    ticket_id, _, value = str(selected).partition(":")
    try:
        priority: Priority | None = Priority(value)
    except ValueError:
        priority = None
    return int_or_none(ticket_id), priority


def survey_id_of(body: Mapping[str, Any]) -> int | None:
    """The survey a CSAT button points at (its value is the survey's id)."""
    return int_or_none(first_action(body).get("value"))


def view_of(body: Mapping[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    return view if isinstance(view, dict) else {}


def state_value(view: Mapping[str, Any], block_id: str, action_id: str, key: str) -> Any:
    """What a submitted modal's input holds (`value`, `selected_option`, `selected_user`...)."""
    values = (view.get("state") or {}).get("values") or {}
    return ((values.get(block_id) or {}).get(action_id) or {}).get(key)
