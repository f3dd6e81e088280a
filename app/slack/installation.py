"""Which installation a Slack request belongs to, and who is acting: one reading of Slack's
payloads for every listener (events, commands, actions, views, shortcuts, options).

The installation is the workspace (or, for an org-wide install, the Enterprise Grid org) that
installed ticketbot: it owns the tickets. It is NOT always the team named at the top of a
payload. In a channel shared with another organisation (Slack Connect) an event from the other
side carries that side's workspace in the envelope's `team_id`; the installation that should
handle it is `authorizations[0]` (`team_id`, `enterprise_id`, `is_enterprise_install`).
Interactions name the installation in `view.app_installed_team_id` when they come from a view
(a Slack Connect user's modal has the user's own team in `team.id`, `user.team_id` and
`view.team_id`), else in `team.id`; slash commands in `team_id`. An org-wide install has
`is_enterprise_install: true`, and its `team_id` may be missing or name any workspace of the org.

Sources: Slack's Events API docs (https://api.slack.com/apis/events-api#callback-field,
"authorizations"), https://api.slack.com/enterprise/apps/changes-apis (org-wide apps), and
bolt-python's own reading of the same payloads, which these rules follow
(slack_bolt/request/internals.py `extract_team_id`, `extract_enterprise_id`,
`extract_actor_team_id`; its tests tests/scenario_tests/test_events_shared_channels.py,
test_events_org_apps.py and test_view_submission.py `connect_channel_payload`).

The acting person's own team is what makes a Slack Connect customer an *account*: it is never
a workspace of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Installation:
    """An installation of ticketbot, as a payload names it."""

    team_id: str | None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False

    @property
    def key(self) -> str | None:
        """What identifies it: the org for an org-wide install, else the workspace."""
        return self.enterprise_id if self.is_enterprise_install else self.team_id


@dataclass(frozen=True)
class SlackActor:
    """The person behind a request, with their own workspace and org (None when unknown)."""

    user_id: str | None
    team_id: str | None = None
    enterprise_id: str | None = None


def installation_of(body: Mapping[str, Any]) -> Installation:
    """The installation a signed Slack request (its parsed body) is for."""
    is_org_wide = _is_enterprise_install(body)
    view = body.get("view")
    installed_team = _str(view.get("app_installed_team_id")) if isinstance(view, Mapping) else None
    if installed_team is not None and not is_org_wide:
        # A view: the rest of a Slack Connect user's payload (team, enterprise) is their side.
        return Installation(team_id=installed_team)
    enterprise_id = _enterprise_id(body)
    return Installation(
        team_id=installed_team or _team_id(body),
        enterprise_id=enterprise_id,
        is_enterprise_install=is_org_wide and enterprise_id is not None,
    )


def channel_team_of(body: Mapping[str, Any]) -> str | None:
    """The workspace of the channel an event happened in, when it is one of the installation's
    own: for an org-wide Enterprise Grid install, which of the org's workspaces (a ticket
    belongs to its channel's workspace); otherwise the installation itself.

    An event's `context_team_id` / `context_enterprise_id` name the channel's owning workspace
    and org (bolt-js's EnvelopedEvent, docs.slack.dev/tools/bolt-js/reference/interfaces/
    EnvelopedEvent); older payloads only have the envelope's `team_id` / `enterprise_id`, the
    workspace where the event happened (bolt-python tests/scenario_tests/
    test_events_org_apps.py: `team_id` T111 with `enterprise_id` E111, `event_context`
    "1-message-T111-C111"). A channel owned by another organisation (Slack Connect) names no
    workspace of ours: None.
    """
    installation = installation_of(body)
    if not installation.is_enterprise_install:
        return installation.team_id
    ours = installation.enterprise_id
    context_team = _str(body.get("context_team_id"))
    if context_team is not None and _str(body.get("context_enterprise_id")) == ours:
        return context_team
    if _str(body.get("enterprise_id")) == ours and not body.get("is_ext_shared_channel"):
        return _str(body.get("team_id"))
    return None


def actor_of(body: Mapping[str, Any]) -> SlackActor:
    """Who did it: the user, and the workspace and org they belong to."""
    if body.get("type") == "event_callback":
        return _event_actor(body)
    user = body.get("user")
    if isinstance(user, Mapping):  # interactivity: block_actions, view_submission, shortcuts
        enterprise, team = body.get("enterprise"), body.get("team")
        team = team if isinstance(team, Mapping) else {}
        user_team = _str(user.get("team_id")) or _str(team.get("id"))
        enterprise_id = _str(enterprise.get("id")) if isinstance(enterprise, Mapping) else None
        if enterprise_id is None and user_team == _str(team.get("id")):
            enterprise_id = _str(team.get("enterprise_id"))  # the user's own team's org
        return SlackActor(_str(user.get("id")), user_team, enterprise_id)
    # a slash command (form fields)
    return SlackActor(
        user_id=_str(body.get("user_id")),
        team_id=_str(body.get("team_id")),
        enterprise_id=_str(body.get("enterprise_id")),
    )


# -- the installation ------------------------------------------------------------------------


def _authorization(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations:
        first = authorizations[0]
        return first if isinstance(first, Mapping) else None
    return None


def _team_id(body: Mapping[str, Any]) -> str | None:
    team = body.get("team")
    if isinstance(team, Mapping):
        return _str(team.get("id"))
    if isinstance(team, str) and body.get("type") != "event_callback":
        return _str(team)
    authorization = _authorization(body)
    if authorization is not None:
        return _str(authorization.get("team_id"))
    if body.get("type") == "event_callback" and body.get("is_ext_shared_channel") is True:
        return None  # the envelope's team may be the other organisation's: unknown
    if _str(body.get("team_id")):
        return _str(body["team_id"])
    user = body.get("user")
    if isinstance(user, Mapping):
        return _str(user.get("team_id"))
    return None


def _enterprise_id(body: Mapping[str, Any]) -> str | None:
    enterprise = body.get("enterprise")
    if isinstance(enterprise, Mapping):
        return _str(enterprise.get("id"))
    if isinstance(enterprise, str):
        return _str(enterprise)
    authorization = _authorization(body)
    if authorization is not None:
        return _str(authorization.get("enterprise_id"))
    if _str(body.get("enterprise_id")):
        return _str(body["enterprise_id"])
    team = body.get("team")
    if isinstance(team, Mapping):
        return _str(team.get("enterprise_id"))
    return None


def _is_enterprise_install(body: Mapping[str, Any]) -> bool:
    authorization = _authorization(body)
    source = authorization if authorization is not None else body
    return source.get("is_enterprise_install") in (True, "true")


# -- the actor of an event -------------------------------------------------------------------


def _event_actor(body: Mapping[str, Any]) -> SlackActor:
    event = body.get("event") if isinstance(body.get("event"), Mapping) else {}
    assert isinstance(event, Mapping)
    inner = event.get("message") if isinstance(event.get("message"), Mapping) else event
    assert isinstance(inner, Mapping)
    user_id = _str(inner.get("user")) or _str(event.get("user"))
    # `user_team` (Slack Connect) or `team`: the writer's own workspace, or in a Grid org
    # sometimes the org (an E id). Reactions and Home events carry neither.
    said = _str(inner.get("user_team")) or _str(inner.get("team"))
    if said is None:
        said = _str(event.get("user_team")) or _str(event.get("team"))
    if said is None:
        if body.get("is_ext_shared_channel") is True:
            return SlackActor(user_id=user_id)
        installation = installation_of(body)
        return SlackActor(user_id, installation.team_id, installation.enterprise_id)
    if said.startswith("E"):
        if said == _str(body.get("enterprise_id")):
            return SlackActor(user_id, _str(body.get("team_id")), said)
        if said == _str(body.get("context_enterprise_id")):
            return SlackActor(user_id, _str(body.get("context_team_id")), said)
        return SlackActor(user_id, None, said)
    if said == _str(body.get("team_id")):
        enterprise = _str(body.get("enterprise_id"))
    elif body.get("is_ext_shared_channel") is True:
        enterprise = None
    else:
        enterprise = installation_of(body).enterprise_id
    return SlackActor(user_id, said, enterprise)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
