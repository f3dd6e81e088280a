"""Block Kit and text validation for what an app sends: messages and views.

The emulator refuses with these what Slack refuses (and more: see :mod:`.mrkdwn`); the app's
own tests may call them directly::

    assert message_problems({"text": "New ticket", "blocks": blocks}) == []
    assert view_problems(modal, surface="modal") == []

Each problem reads ``<where>: <what>``, e.g. ``blocks[2].elements[0].text: must be plain_text``.

**Structure** is checked by slack_sdk's own models: ``Block.parse(block).to_dict()`` and
``View(**view)`` run the models' ``JsonValidator``s (lengths, counts, enums) recursively; the
limits they know are not written again here. On top of them, each rule cited where it is:

* a block or element type the models do not know is refused (``Block.parse`` returns None);
* fields Slack takes only as ``plain_text`` must be ``plain_text``;
* at most 50 blocks in a message (the models check views: 100);
* ``action_id`` unique within its block, ``block_id`` unique within the message or view;
* a context block holds only images and text objects;
* a modal has a ``title`` and ``blocks``, and a ``submit`` when it has an input block.

**Unknown or misspelled fields** are found by comparing the input with the models' round trip
(``to_dict()``): the models keep every field they know and drop the rest (their constructors
swallow unknown keyword arguments), so a key present in the input but missing from the round
trip is one Slack's models do not know. Checked against every block and element type
ticketbot sends (section with text, fields and accessory; context; actions with buttons,
static selects and overflow menus; header; divider; input with plain_text_input,
static/users/conversations selects and their multi_ variants; rich_text), the round trip keeps
every documented field, values included, so the comparison gives no false positives there. Two
things it cannot see, handled separately: options inside selects (the models keep them as
raw dicts; each is run through ``Option`` itself) and empty values (the models drop empty
strings and lists, so those keys are not compared). A field newer than the installed
slack_sdk would be refused: stricter than Slack, never looser, until slack_sdk is upgraded.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST
from slack_sdk.models.blocks import (
    Block,
    BlockElement,
    ConfirmObject,
    Option,
    OptionGroup,
    TextObject,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.blocks.block_elements import ConversationFilter
from slack_sdk.models.views import View

from app.slack_emulator.mrkdwn import mrkdwn_problems, plain_text_problems
from app.slack_emulator.problems import (
    BROADCAST_MENTION,
    INVALID_ARGUMENTS,
    INVALID_BLOCKS,
    INVALID_BLOCKS_FORMAT,
    NO_TEXT,
    Problem,
)

__all__ = [
    "MESSAGE_BLOCKS_MAX",
    "TextRules",
    "check_message",
    "check_view",
    "message_problems",
    "mrkdwn_problems",
    "plain_text_problems",
    "view_problems",
]

# Up to 50 blocks in a message, 100 in a modal or Home tab
# (https://docs.slack.dev/reference/block-kit/blocks). slack_sdk's View knows the 100.
MESSAGE_BLOCKS_MAX = 50

# What slack_sdk's models raise on input they cannot take.
_MODEL_ERRORS = (SlackObjectFormationError, TypeError, KeyError, AttributeError, ValueError)

_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
# Menus whose options' text must be plain_text (radio buttons and checkboxes may use mrkdwn):
# https://docs.slack.dev/reference/block-kit/composition-objects/option-object
_MENUS_WITH_OPTIONS = frozenset(
    {"static_select", "external_select", "multi_static_select", "multi_external_select", "overflow"}
)
_OPTION_KEYS = frozenset({"options", "initial_option", "initial_options"})
# Fields Slack takes only as a plain_text object: (where it sits, field). "*" is any element.
# Each from the field's description on its reference page.
_PLAIN_TEXT_ONLY: dict[tuple[str, str], str] = {
    # https://docs.slack.dev/reference/block-kit/blocks/header-block
    ("header", "text"): "a header's text",
    # "A text object that defines the button's text. Can only be of type: plain_text."
    # (https://docs.slack.dev/reference/block-kit/block-elements/button-element)
    ("button", "text"): "a button's text",
    # every element's placeholder (e.g.
    # https://docs.slack.dev/reference/block-kit/block-elements/select-menu-element)
    ("*", "placeholder"): "a placeholder",
    # "label ... in the form of a text object that must have type of plain_text"; "hint ... It
    # must be a text object with a type of plain_text"
    # (https://docs.slack.dev/reference/block-kit/blocks/input-block)
    ("input", "label"): "an input's label",
    ("input", "hint"): "an input's hint",
    # title, confirm and deny
    # (https://docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object)
    ("confirm", "title"): "a confirmation dialog's title",
    ("confirm", "confirm"): "a confirmation dialog's confirm button",
    ("confirm", "deny"): "a confirmation dialog's deny button",
    # the option-object page above (menus), and an option group's label
    # (https://docs.slack.dev/reference/block-kit/composition-objects/option-group-object)
    ("menu option", "text"): "an option's text in a select or overflow menu",
    ("option_groups", "label"): "an option group's label",
}
# The view fields that must be plain_text: "Must be a plain_text text element" (title), "A
# plain_text element" (close, submit): https://docs.slack.dev/reference/views/modal-views
_VIEW_PLAIN_TEXT = ("title", "submit", "close")
# A context block's elements are image elements and text objects
# (https://docs.slack.dev/reference/block-kit/blocks/context-block)
_CONTEXT_ELEMENT_TYPES = frozenset({"image", "plain_text", "mrkdwn"})
_EMPTY_ALLOWED = EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST
_TEXT_OBJECT_KEYS = frozenset(
    {"text", "label", "hint", "placeholder", "title", "description", "confirm", "deny"}
)


@dataclasses.dataclass(frozen=True)
class TextRules:
    """Which of the stricter-than-Slack text checks run (see :mod:`.mrkdwn`)."""

    text_fallback: bool = True
    escaping: bool = True
    allow_broadcasts: bool = False


# -- public API ----------------------------------------------------------------------------------


def message_problems(
    payload: dict[str, Any],
    *,
    text_fallback: bool = True,
    escaping: bool = True,
    allow_broadcasts: bool = False,
) -> list[str]:
    """What Slack (or the emulator) would refuse in a message: ``text``, ``blocks``.

    ``payload`` is what goes to chat.postMessage / chat.update / chat.postEphemeral, a
    response_url or a command's reply. ``[]`` means it passes.
    """
    rules = TextRules(text_fallback, escaping, allow_broadcasts)
    return [str(problem) for problem in check_message(payload, rules=rules)]


def view_problems(
    view: dict[str, Any],
    *,
    surface: str,
    escaping: bool = True,
    allow_broadcasts: bool = False,
) -> list[str]:
    """What Slack (or the emulator) would refuse in a view; ``surface`` is ``"modal"``
    (views.open, views.push, views.update) or ``"home"`` (views.publish)."""
    rules = TextRules(escaping=escaping, allow_broadcasts=allow_broadcasts)
    return [str(problem) for problem in check_view(view, surface=surface, rules=rules)]


def check_message(
    payload: dict[str, Any], *, rules: TextRules = TextRules(), blocks: bool = True
) -> list[Problem]:
    """:func:`message_problems` with each problem's error (``invalid_blocks``, ``no_text``...).

    ``blocks=False`` skips the Block Kit checks (the text checks still look inside blocks).
    """
    problems: list[Problem] = []
    given = payload.get("blocks")
    parsed_blocks: list[Any] = []
    if given is not None and given != "":
        if isinstance(given, str):
            try:
                given = json.loads(given)
            except ValueError:
                return [Problem(INVALID_BLOCKS_FORMAT, "blocks", "not valid JSON")]
        if not isinstance(given, list):
            return [Problem(INVALID_BLOCKS_FORMAT, "blocks", "must be an array of blocks")]
        parsed_blocks = given
        if blocks:
            problems += _blocks_problems(parsed_blocks, "blocks", limit=MESSAGE_BLOCKS_MAX)
        problems += _text_problems_in(parsed_blocks, "blocks", rules)
    if parsed_blocks and rules.text_fallback and not _has_text(payload):
        # slack_sdk warns when a message has no top-level text: "It's a best practice to
        # always provide a `text` argument when posting a message ... used in places where
        # content cannot be rendered such as: system push notifications, assistive technology"
        # (python-slack-sdk, slack_sdk/web/internal_utils.py,
        # _warn_if_message_text_content_is_missing). The emulator refuses instead.
        problems.append(
            Problem(
                NO_TEXT,
                "text",
                "a message with blocks needs a top-level text fallback "
                "(notifications and screen readers show it)",
            )
        )
    text = payload.get("text")
    if isinstance(text, str):
        problems += mrkdwn_problems(
            text, "text", escaping=rules.escaping, allow_broadcasts=rules.allow_broadcasts
        )
    return problems


def check_view(
    view: Any, *, surface: str, rules: TextRules = TextRules(), blocks: bool = True
) -> list[Problem]:
    """:func:`view_problems` with each problem's error (``invalid_arguments``...)."""
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return [Problem(INVALID_ARGUMENTS, "view", "not valid JSON")]
    if not isinstance(view, dict):
        return [Problem(INVALID_ARGUMENTS, "view", "must be a view object")]
    problems: list[Problem] = []
    if view.get("type") != surface:
        problems.append(
            Problem(
                INVALID_ARGUMENTS, "view.type", f"must be {surface!r}, not {view.get('type')!r}"
            )
        )
    given_blocks = view.get("blocks")
    if not isinstance(given_blocks, list):
        # "blocks ... Required" (https://docs.slack.dev/reference/views/modal-views and
        # https://docs.slack.dev/reference/views/home-tab-views)
        problems.append(Problem(INVALID_ARGUMENTS, "view.blocks", "required: an array of blocks"))
        given_blocks = []
    if surface == "modal":
        # "title ... Required"; "submit is required when an input block is within the blocks
        # array" (https://docs.slack.dev/reference/views/modal-views)
        if not view.get("title"):
            problems.append(Problem(INVALID_ARGUMENTS, "view.title", "a modal needs a title"))
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in given_blocks)
        if has_input and not view.get("submit"):
            problems.append(
                Problem(INVALID_ARGUMENTS, "view.submit", "a modal with an input block needs one")
            )
    for field in _VIEW_PLAIN_TEXT:
        value = view.get(field)
        if isinstance(value, dict) and value.get("type") != "plain_text":
            problems.append(Problem(INVALID_ARGUMENTS, f"view.{field}", "must be plain_text"))
    problems += _view_model_problems(view)
    if blocks:
        problems += _blocks_problems(given_blocks, "view.blocks", limit=None)
    problems += _text_problems_in(
        {k: v for k, v in view.items() if k in ("blocks", *_VIEW_PLAIN_TEXT)}, "view", rules
    )
    # A bad view is an invalid argument to views.*: Slack answers invalid_arguments with
    # messages (https://docs.slack.dev/reference/methods/views.open#errors).
    return [
        dataclasses.replace(p, error=INVALID_ARGUMENTS)
        if p.error in (INVALID_BLOCKS, INVALID_BLOCKS_FORMAT)
        else p
        for p in problems
    ]


# -- blocks --------------------------------------------------------------------------------------


def _has_text(payload: dict[str, Any]) -> bool:
    # slack_sdk accepts `markdown_text` in place of `text` (same helper as above).
    return any(
        isinstance(payload.get(name), str) and payload[name].strip()
        for name in ("text", "markdown_text")
    )


def _blocks_problems(blocks: list[Any], where: str, *, limit: int | None) -> list[Problem]:
    problems: list[Problem] = []
    if limit is not None and len(blocks) > limit:
        problems.append(
            Problem(INVALID_BLOCKS, where, f"{len(blocks)} blocks; a message holds at most {limit}")
        )
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        path = f"{where}[{index}]"
        if not isinstance(block, dict):
            problems.append(Problem(INVALID_BLOCKS_FORMAT, path, "must be a block object"))
            continue
        problems += _unique(_block_problems(block, path))
        # "block_id should be unique for each message or view and each iteration of a message or
        # view" (https://docs.slack.dev/reference/block-kit/blocks/input-block, and every
        # block's page)
        block_id = block.get("block_id")
        if isinstance(block_id, str) and block_id:
            if block_id in seen_block_ids:
                problems.append(
                    Problem(INVALID_BLOCKS, f"{path}.block_id", f"{block_id!r} is used twice")
                )
            seen_block_ids.add(block_id)
    return problems


def _block_problems(block: dict[str, Any], path: str) -> list[Problem]:
    problems = _model_problems(block, path)
    problems += _rule_problems(block, path)
    return problems


def _model_problems(block: dict[str, Any], path: str) -> list[Problem]:
    """slack_sdk's verdict on one block, located as deep as a sub-object's model can say."""
    located = _sub_object_problems(block, path, in_rich_text=block.get("type") == "rich_text")
    try:
        parsed = Block.parse(block)
    except _MODEL_ERRORS as exc:
        return located or [Problem(INVALID_BLOCKS, path, _reason(exc))]
    if parsed is None:
        return [
            Problem(INVALID_BLOCKS, f"{path}.type", f"unknown block type {block.get('type')!r}")
        ]
    try:
        rendered = parsed.to_dict()
    except _MODEL_ERRORS as exc:
        return located or [Problem(INVALID_BLOCKS, path, _reason(exc))]
    # A sub-object its own model refused is also missing from the round trip: say it once.
    dropped = [
        problem
        for problem in _unknown_fields(block, rendered, path)
        if not any(seen.where.startswith(problem.where) for seen in located)
    ]
    return located + dropped


def _model_for(key: str, node: dict[str, Any]) -> Callable[[], Any] | None:
    """How slack_sdk renders ``node`` (found under ``key``), or None if it has no model."""
    node_type = node.get("type")
    if node_type in _TEXT_TYPES:
        return lambda: _render(TextObject.parse(dict(node)), node)
    if key in ("accessory", "element", "elements"):
        return lambda: _render(BlockElement.parse(dict(node)), node)
    if key in _OPTION_KEYS:
        return lambda: Option(**node).to_dict("block")
    if key == "option_groups":
        return lambda: OptionGroup(**node).to_dict("block")
    if key == "confirm" and node_type is None:
        return lambda: ConfirmObject(**node).to_dict("block")
    if key == "dispatch_action_config":
        return lambda: DispatchActionConfig(**node).to_dict()
    if key == "filter":
        return lambda: ConversationFilter(**node).to_dict()
    return None


class _UnknownType(Exception):
    pass


def _render(parsed: Any, node: dict[str, Any]) -> Any:
    if parsed is None:
        raise _UnknownType(f"unknown element type {node.get('type')!r}")
    return parsed.to_dict()


def _sub_object_problems(node: dict[str, Any], path: str, *, in_rich_text: bool) -> list[Problem]:
    """Each sub-object run through its own model, deepest problems first.

    A parent whose child fails fails too, for the same reason: only the child is reported.
    """
    problems: list[Problem] = []
    if in_rich_text:
        return problems  # rich text is checked by the block's round trip as a whole
    for key, child, child_path in _children(node, path):
        deeper = _sub_object_problems(child, child_path, in_rich_text=False)
        if deeper:
            problems += deeper
            continue
        if key in _TEXT_OBJECT_KEYS and "type" not in child and key != "confirm":
            problems.append(
                Problem(
                    INVALID_BLOCKS, child_path, "a text object needs a type (plain_text or mrkdwn)"
                )
            )
            continue
        model = _model_for(key, child)
        if model is None:
            continue
        try:
            rendered = model()
        except _UnknownType as exc:
            problems.append(Problem(INVALID_BLOCKS, f"{child_path}.type", str(exc)))
        except _MODEL_ERRORS as exc:
            problems.append(Problem(INVALID_BLOCKS, child_path, _reason(exc)))
        else:
            problems += _unknown_fields(child, rendered, child_path)
    return problems


def _children(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """``(key, sub-object, path)`` for each dict directly under ``node`` (lists flattened)."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield key, value, f"{path}.{key}"
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield key, item, f"{path}.{key}[{index}]"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _unknown_fields(given: Any, rendered: Any, path: str) -> list[Problem]:
    """Fields of ``given`` that the models' round trip ``rendered`` dropped or misread."""
    if isinstance(given, dict):
        if not isinstance(rendered, dict):
            return [Problem(INVALID_BLOCKS, path, f"not understood (type {given.get('type')!r}?)")]
        problems: list[Problem] = []
        for key, value in given.items():
            if _empty(value):
                continue
            if key not in rendered:
                problems.append(Problem(INVALID_BLOCKS, f"{path}.{key}", "unknown field"))
            else:
                problems += _unknown_fields(value, rendered[key], f"{path}.{key}")
        return problems
    if isinstance(given, list):
        if not isinstance(rendered, list):
            return [Problem(INVALID_BLOCKS, path, "not understood")]
        return [
            problem
            for index, (item, out) in enumerate(zip(given, rendered, strict=False))
            for problem in _unknown_fields(item, out, f"{path}[{index}]")
        ]
    if isinstance(given, str) and isinstance(rendered, dict):
        return [Problem(INVALID_BLOCKS, path, "must be a text object, not a string")]
    if path.endswith(".type") and given != rendered:
        return [Problem(INVALID_BLOCKS, path, f"{given!r} is not a type Slack knows here")]
    return []


_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")
_MISSING = re.compile(r"missing \d+ required (?:keyword-only |positional )?arguments?: (.+)$")


def _reason(exc: Exception) -> str:
    message = str(exc)
    if match := _UNEXPECTED.search(message):
        return f"unknown field {match.group(1)!r}"
    if match := _MISSING.search(message):
        return f"missing required field {match.group(1)}"
    if isinstance(exc, KeyError):
        return f"missing required field {message}"
    return message


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# -- rules the models do not check ---------------------------------------------------------------


def _rule_problems(block: dict[str, Any], path: str) -> list[Problem]:
    problems: list[Problem] = []
    block_type = str(block.get("type"))
    if block_type == "context":
        for index, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and element.get("type") not in _CONTEXT_ELEMENT_TYPES:
                problems.append(
                    Problem(
                        INVALID_BLOCKS,
                        f"{path}.elements[{index}]",
                        f"a context block holds only images and text objects, not "
                        f"{element.get('type')!r}",
                    )
                )
    seen_action_ids: set[str] = set()
    for node, node_path, container, key in _walk(block, path, block_type, ""):
        node_type = node.get("type")
        for name, value in node.items():
            # "Usually, Block Kit components do not allow an empty array for a property value,
            # but there are some exceptions" (python-slack-sdk, slack_sdk/models/basic_objects.py,
            # EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST lists them); its models drop empty arrays
            # instead of refusing them.
            if value == [] and {"type": node_type, "property": name} not in _EMPTY_ALLOWED:
                problems.append(Problem(INVALID_BLOCKS, f"{node_path}.{name}", "must not be empty"))
        label = _PLAIN_TEXT_ONLY.get((container, key)) or _PLAIN_TEXT_ONLY.get(("*", key))
        if node_type in _TEXT_TYPES and label and node_type != "plain_text":
            problems.append(Problem(INVALID_BLOCKS, node_path, f"must be plain_text ({label})"))
        action_id = node.get("action_id")
        if node is not block and isinstance(action_id, str):
            # "action_id ... Should be unique among all other action_ids in the containing
            # block" (https://docs.slack.dev/reference/block-kit/block-elements/button-element)
            if action_id in seen_action_ids:
                problems.append(
                    Problem(
                        INVALID_BLOCKS,
                        f"{node_path}.action_id",
                        f"{action_id!r} is used twice in this block",
                    )
                )
            seen_action_ids.add(action_id)
    return problems


def _walk(
    node: dict[str, Any], path: str, container: str, key: str
) -> Iterator[tuple[dict[str, Any], str, str, str]]:
    """Every object in a block: ``(object, path, what contains it, its key there)``.

    ``container`` is the type of the typed object holding it (``button``, ``input``...), or
    for untyped holders their role (``confirm``, ``option_groups``, ``menu option``).
    """
    yield node, path, container, key
    node_type = node.get("type")
    for child_key, child, child_path in _children(node, path):
        if isinstance(node_type, str):
            holder = node_type
            if child_key in _OPTION_KEYS and node_type in _MENUS_WITH_OPTIONS:
                holder = "menu"
        elif key == "confirm":
            holder = "confirm"
        elif key == "option_groups":
            # Groups exist only in menus: their options are menu options.
            holder = "menu" if child_key == "options" else "option_groups"
        elif container == "menu" and key in _OPTION_KEYS:
            holder = "menu option"
        else:
            holder = container
        yield from _walk(child, child_path, holder, child_key)


# -- text inside blocks and views ----------------------------------------------------------------


def _text_problems_in(node: Any, path: str, rules: TextRules) -> list[Problem]:
    """The :mod:`.mrkdwn` checks on every text object, input value and rich text element."""
    problems: list[Problem] = []
    options = {"escaping": rules.escaping, "allow_broadcasts": rules.allow_broadcasts}
    for item, item_path, in_rich_text in _objects(node, path, in_rich_text=False):
        item_type = item.get("type")
        text = item.get("text")
        if item_type == "mrkdwn" and isinstance(text, str):
            problems += mrkdwn_problems(text, f"{item_path}.text", **options)
        elif item_type == "plain_text" and isinstance(text, str):
            problems += plain_text_problems(text, f"{item_path}.text", **options)
        elif in_rich_text and item_type == "text" and isinstance(text, str):
            # Rich text is not parsed either: it carries text as people read it.
            problems += plain_text_problems(text, f"{item_path}.text", **options)
        elif (
            in_rich_text and item_type in ("broadcast", "usergroup") and not rules.allow_broadcasts
        ):
            # A rich text broadcast or user group element notifies like <!here> / <!subteam^>.
            problems.append(
                Problem(BROADCAST_MENTION, item_path, f"broadcast mention ({item_type})")
            )
        value = item.get("initial_value")
        if isinstance(value, str) and str(item_type).endswith("_input"):
            # Text inputs show initial_value as it is (no parsing), like plain_text.
            problems += plain_text_problems(value, f"{item_path}.initial_value", **options)
    return problems


def _objects(
    node: Any, path: str, *, in_rich_text: bool
) -> Iterator[tuple[dict[str, Any], str, bool]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _objects(item, f"{path}[{index}]", in_rich_text=in_rich_text)
        return
    if not isinstance(node, dict):
        return
    in_rich_text = in_rich_text or node.get("type") == "rich_text"
    yield node, path, in_rich_text
    for key, value in node.items():
        if isinstance(value, dict | list):
            yield from _objects(value, f"{path}.{key}", in_rich_text=in_rich_text)


# -- views ---------------------------------------------------------------------------------------


def _view_model_problems(view: dict[str, Any]) -> list[Problem]:
    """slack_sdk's View on everything but the blocks (each is checked on its own)."""
    problems: list[Problem] = []
    blocks = view.get("blocks")
    if isinstance(blocks, list) and not 0 < len(blocks) <= View.blocks_max_length:
        # The View model's own rule (_validate_blocks_length), with its own limit.
        problems.append(
            Problem(
                INVALID_ARGUMENTS,
                "view.blocks",
                f"views must contain between 1 and {View.blocks_max_length} blocks, "
                f"not {len(blocks)}",
            )
        )
    rest = {key: value for key, value in view.items() if key != "blocks"}
    try:
        # One divider stands in for the blocks, so the View's validators judge the rest.
        rendered = View(**rest, blocks=[{"type": "divider"}]).to_dict()
    except _MODEL_ERRORS as exc:
        return [*problems, Problem(INVALID_ARGUMENTS, "view", _reason(exc))]
    rendered.pop("blocks", None)
    return problems + _unknown_fields(rest, rendered, "view")
