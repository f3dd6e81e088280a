"""Per-method request rules: the content types each Web API method accepts, its required
arguments, and how Slack answers a request that breaks them.

Content types and required arguments come from Slack's published Web API description,
slackapi/slack-api-specs, web-api/slack_web_openapi_v2.json at commit
dfea73e06d146c368d7f94b52ac90796dc4e27e1 (each operation's ``consumes`` and its parameters'
``required``). Where that spec marks an argument optional that the method's page says is
required, the page wins and is cited next to it.

The rules, each cited where it is applied (:func:`transport_problems`):

* A method whose spec consumes only ``application/x-www-form-urlencoded`` (the read methods:
  conversations.history, team.info, users.info, ...) "does not currently accept
  application/json" (e.g. https://docs.slack.dev/reference/methods/migration.exchange): Slack
  ignores a JSON body, so the call silently loses its arguments. The emulator refuses it
  loudly with ``invalid_arguments``.
* "To make use of sending JSON on write operations, you must provide your token value using an
  Authorization HTTP header" (https://docs.slack.dev/changelog/2017-10-keeping-up-with-the-jsons):
  a JSON body without that header is ``not_authed``.
* Apps may no longer send their token in the query string: "Apps created after February 24,
  2021 may no longer send tokens as query parameters and must instead use an HTTP
  authorization header or send the token in an HTTP POST body"
  (https://api.slack.com/changelog/2020-11-no-more-tokens-in-querystrings-for-newly-created-apps):
  such a token is ignored, so the call is ``not_authed``.
* A POST whose body has no Content-Type is ``missing_post_type``; one whose Content-Type the
  method does not list is ``invalid_post_type`` (common errors on every method's page, e.g.
  https://docs.slack.dev/reference/methods/emoji.list#errors). Slack also takes
  ``multipart/form-data`` and ``text/plain`` bodies; the emulator takes only what the spec lists
  (stricter: ticketbot sends neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.slack_emulator.problems import INVALID_ARGUMENTS, Problem

__all__ = [
    "FORM",
    "JSON",
    "METHOD_SPECS",
    "MethodSpec",
    "RequestShape",
    "Required",
    "argument_problems",
    "transport_problems",
]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_FORM_OR_JSON = frozenset({FORM, JSON})
_FORM_ONLY = frozenset({FORM})

MISSING_POST_TYPE = "missing_post_type"
INVALID_POST_TYPE = "invalid_post_type"
NOT_AUTHED = "not_authed"


@dataclass(frozen=True)
class Required:
    """A required argument (or a choice of them: any one will do) and the error its absence
    gets: the method's documented error where the handler has one, else invalid_arguments."""

    names: tuple[str, ...]
    error: str = INVALID_ARGUMENTS


def _required(*names: str, error: str = INVALID_ARGUMENTS) -> Required:
    return Required(names, error)


@dataclass(frozen=True)
class MethodSpec:
    content_types: frozenset[str]
    required: tuple[Required, ...] = ()

    @property
    def form_only(self) -> bool:
        return JSON not in self.content_types


# Errors named below are each in the method's documented error list
# (https://docs.slack.dev/reference/methods/<method>#errors) and already answered by its handler.
METHOD_SPECS: dict[str, MethodSpec] = {
    "auth.test": MethodSpec(_FORM_OR_JSON),
    "chat.postMessage": MethodSpec(
        _FORM_OR_JSON, (_required("channel", error="channel_not_found"),)
    ),
    # Not in that commit of the spec (newer methods): content types and required arguments
    # from docs.slack.dev/reference/methods/files.getUploadURLExternal and
    # .../files.completeUploadExternal ("Content types: application/x-www-form-urlencoded,
    # application/json"; `filename`, `length` and `files` "Required").
    "files.getUploadURLExternal": MethodSpec(
        _FORM_OR_JSON, (_required("filename"), _required("length", error="missing_argument"))
    ),
    "files.completeUploadExternal": MethodSpec(_FORM_OR_JSON, (_required("files"),)),
    # The spec marks `file` optional (files.info also pages a file's comments); the page
    # names file_not_found for a missing one.
    "files.info": MethodSpec(_FORM_ONLY, (_required("file", error="file_not_found"),)),
    "chat.update": MethodSpec(
        _FORM_OR_JSON,
        (
            _required("channel", error="channel_not_found"),
            _required("ts", error="message_not_found"),
        ),
    ),
    # The spec marks channel and ts optional; "channel ... Required", "ts ... Required"
    # (https://docs.slack.dev/reference/methods/chat.delete).
    "chat.delete": MethodSpec(
        _FORM_OR_JSON,
        (
            _required("channel", error="channel_not_found"),
            _required("ts", error="message_not_found"),
        ),
    ),
    "chat.postEphemeral": MethodSpec(
        _FORM_OR_JSON,
        (
            _required("channel", error="channel_not_found"),
            _required("user", error="user_not_in_channel"),
        ),
    ),
    "chat.getPermalink": MethodSpec(
        _FORM_ONLY,
        (
            _required("channel", error="channel_not_found"),
            _required("message_ts", error="message_not_found"),
        ),
    ),
    "reactions.add": MethodSpec(
        _FORM_OR_JSON,
        (
            _required("channel", error="no_item_specified"),
            _required("name", error="invalid_name"),
            _required("timestamp", error="no_item_specified"),
        ),
    ),
    # channel + timestamp are one of three ways to name the item (file and file_comment are the
    # others), hence optional in the spec; the handler answers no_item_specified without them.
    "reactions.remove": MethodSpec(_FORM_OR_JSON, (_required("name", error="invalid_name"),)),
    # The spec marks channel optional; "channel ... Required"
    # (https://docs.slack.dev/reference/methods/conversations.history).
    "conversations.history": MethodSpec(
        _FORM_ONLY, (_required("channel", error="channel_not_found"),)
    ),
    # The spec marks channel and ts optional; both "Required"
    # (https://docs.slack.dev/reference/methods/conversations.replies).
    "conversations.replies": MethodSpec(
        _FORM_ONLY,
        (
            _required("channel", error="channel_not_found"),
            _required("ts", error="thread_not_found"),
        ),
    ),
    # The spec marks channel optional; "channel ... Required"
    # (https://docs.slack.dev/reference/methods/conversations.info).
    "conversations.info": MethodSpec(
        _FORM_ONLY, (_required("channel", error="channel_not_found"),)
    ),
    # The spec marks user optional; "user ... Required"
    # (https://docs.slack.dev/reference/methods/users.info).
    "users.info": MethodSpec(_FORM_ONLY, (_required("user", error="user_not_found"),)),
    "team.info": MethodSpec(_FORM_ONLY),
    "usergroups.users.list": MethodSpec(
        _FORM_ONLY, (_required("usergroup", error="no_such_subteam"),)
    ),
    "views.open": MethodSpec(_FORM_OR_JSON, (_required("trigger_id"), _required("view"))),
    "views.push": MethodSpec(_FORM_OR_JSON, (_required("trigger_id"), _required("view"))),
    "views.publish": MethodSpec(_FORM_OR_JSON, (_required("user_id"), _required("view"))),
    # The spec marks every argument optional; "view ... Required" and "Either view_id or
    # external_id is required" (https://docs.slack.dev/reference/methods/views.update).
    "views.update": MethodSpec(
        _FORM_OR_JSON, (_required("view"), _required("view_id", "external_id"))
    ),
}


@dataclass(frozen=True)
class RequestShape:
    """How a Web API request arrived, apart from its arguments."""

    http_method: str
    # The media type without parameters, lower case; None when the header is absent.
    content_type: str | None
    has_body: bool
    # Where the token came from: "header", "query", "body", or None.
    token_from: str | None


def transport_problems(method: str, spec: MethodSpec, shape: RequestShape) -> list[Problem]:
    """Content type and token placement (see the module docstring for the sources)."""
    if shape.has_body:
        if shape.content_type is None:
            return [Problem(MISSING_POST_TYPE, "", "the body has no Content-Type")]
        if shape.content_type == JSON and spec.form_only:
            return [
                Problem(
                    INVALID_ARGUMENTS,
                    "",
                    f"{method} does not accept application/json bodies; send form-encoded "
                    "arguments or query parameters",
                )
            ]
        if shape.content_type not in spec.content_types:
            accepted = ", ".join(sorted(spec.content_types))
            return [
                Problem(
                    INVALID_POST_TYPE,
                    "",
                    f"{method} does not accept {shape.content_type} bodies (it takes {accepted})",
                )
            ]
    if shape.token_from == "query":
        return [
            Problem(
                NOT_AUTHED,
                "",
                "a token in the query string is ignored: send it in an Authorization: Bearer "
                "header (or a form-encoded body)",
            )
        ]
    if shape.has_body and shape.content_type == JSON and shape.token_from == "body":
        return [
            Problem(
                NOT_AUTHED,
                "",
                "a JSON body needs its token in an Authorization: Bearer header, not in the body",
            )
        ]
    return []


def _present(value: Any) -> bool:
    return value is not None and value != ""


def argument_problems(spec: MethodSpec, args: dict[str, Any]) -> list[Problem]:
    """One problem per missing required argument, in the table's order."""
    return [
        Problem(
            required.error,
            "",
            "missing required argument: " + " or ".join(required.names),
        )
        for required in spec.required
        if not any(_present(args.get(name)) for name in required.names)
    ]
