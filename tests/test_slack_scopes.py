"""slack_manifest.yml asks for exactly the scopes the code needs: no more (admins reject apps
that ask for what they do not use), no less (a call or an event would fail in real Slack).

The needed set is derived from the code: the Web API methods it calls (the outbox's named
methods and every direct `client.<method>(...)` call in app/), the events the listener acts
on and the manifest subscribes to, and the features it uses. Which scope each needs is Slack's
documentation, cited per row.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from slack_sdk.web.async_client import AsyncWebClient

from app.slack.delivery import OUTBOX_METHODS
from app.slack.listeners.events import EVENT_HANDLERS

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

# Web API method -> bot scopes, from each method's page (https://docs.slack.dev/reference/methods/<name>).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    # Called with the app-level token (connections:write), not the bot's: no bot scope
    # (https://docs.slack.dev/reference/methods/apps.connections.open, "No scopes required").
    "apps.connections.open": set(),
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    # "Relevant *:history scope": watched channels are public or private channels.
    "conversations.history": {"channels:history", "groups:history"},
    # https://docs.slack.dev/reference/methods/conversations.replies: "Relevant *:history scope".
    "conversations.replies": {"channels:history", "groups:history"},
    "team.info": {"team:read"},
    "usergroups.users.list": {"usergroups:read"},
    "views.open": set(),
    "views.publish": set(),
    "views.update": set(),
    "views.push": set(),
    # docs.slack.dev/reference/methods/files.getUploadURLExternal, .../files.completeUploadExternal
    # ("Bot token: files:write") and .../files.info ("files:read").
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
    "files.info": {"files:read"},
    # Sign in with Slack: "No scopes required" for the code exchange; userInfo is called with
    # the signed-in person's token, whose user scope is `openid`
    # (docs.slack.dev/reference/methods/openid.connect.token, .../openid.connect.userInfo).
    "openid.connect.token": set(),
    "openid.connect.userInfo": set(),
}
# User scopes: Sign in with Slack asks for `openid` (required) and `profile` (the name shown)
# (docs.slack.dev/authentication/sign-in-with-slack).
SIGN_IN_USER_SCOPES = {"openid", "profile"}
# Event subscription -> scope (https://docs.slack.dev/reference/events/<name>, "Required scopes").
EVENT_SCOPES: dict[str, set[str]] = {
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "reaction_added": {"reactions:read"},
    "app_home_opened": set(),
    # "No scopes required" (docs.slack.dev/reference/events/app_uninstalled, /tokens_revoked).
    "app_uninstalled": set(),
    "tokens_revoked": set(),
    # docs.slack.dev/reference/events/member_left_channel: channels:read for public channels,
    # groups:read for private ones.
    "member_left_channel": {"channels:read", "groups:read"},
}
# Which subscription delivers which event type to the listener.
SUBSCRIPTIONS_OF_EVENT = {
    "message": {"message.channels", "message.groups"},
    "reaction_added": {"reaction_added"},
    "app_home_opened": {"app_home_opened"},
    "app_uninstalled": {"app_uninstalled"},
    "tokens_revoked": {"tokens_revoked"},
    "member_left_channel": {"member_left_channel"},
}


def _source() -> str:
    files = [p for p in APP.rglob("*.py") if "slack_emulator" not in p.parts]
    return "\n".join(p.read_text() for p in files)


def methods_the_code_calls() -> set[str]:
    source = _source()
    named = set(re.findall(r"client\.([a-z]+_[A-Za-z_]+)\(", source))
    direct = {name.replace("_", ".") for name in named if hasattr(AsyncWebClient, name)}
    queued = set(re.findall(r'method="([a-z]+\.[A-Za-z.]+)"', source))
    assert queued <= set(OUTBOX_METHODS), "every queued call goes through a named method"
    return direct | set(OUTBOX_METHODS)


def needed_scopes(manifest: dict) -> set[str]:
    scopes: set[str] = set()
    for method in methods_the_code_calls():
        assert method in METHOD_SCOPES, f"look up the scope of {method} in Slack's docs"
        scopes |= METHOD_SCOPES[method]
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        scopes |= EVENT_SCOPES[event]
    features = manifest["features"]
    if features.get("slash_commands") or features.get("shortcuts"):
        scopes.add("commands")  # https://docs.slack.dev/reference/scopes/commands
    # chat.postMessage's `username` argument needs chat:write.customize
    # (https://docs.slack.dev/reference/methods/chat.postMessage, "username").
    if re.search(r'\["username"\]\s*=', _source()):
        scopes.add("chat:write.customize")
    return scopes


def test_the_manifest_asks_for_exactly_the_scopes_the_code_needs():
    manifest = yaml.safe_load((ROOT / "slack_manifest.yml").read_text())
    asked = set(manifest["oauth_config"]["scopes"]["bot"])

    needed = needed_scopes(manifest)

    assert asked - needed == set(), "asked for but never used"
    assert needed - asked == set(), "used but not asked for"


def test_the_manifests_ask_for_sign_in_user_scopes_only_because_the_dashboard_signs_in():
    assert {"openid.connect.token", "openid.connect.userInfo"} <= methods_the_code_calls()
    for name in ("slack_manifest.yml", "slack_manifest.socket.yml"):
        manifest = yaml.safe_load((ROOT / name).read_text())
        assert set(manifest["oauth_config"]["scopes"]["user"]) == SIGN_IN_USER_SCOPES, name
    manifest = yaml.safe_load((ROOT / "slack_manifest.yml").read_text())
    assert any(
        url.endswith("/web/signin/callback") for url in manifest["oauth_config"]["redirect_urls"]
    )


def test_the_manifest_subscribes_to_every_event_the_listener_acts_on():
    manifest = yaml.safe_load((ROOT / "slack_manifest.yml").read_text())
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])

    expected = set().union(*(SUBSCRIPTIONS_OF_EVENT[kind] for kind in EVENT_HANDLERS))

    assert subscribed == expected


def test_the_code_calls_what_the_table_expects():
    """The derivation finds the calls it should (so it cannot pass by finding nothing)."""
    assert {
        "auth.test",
        "chat.postMessage",
        "conversations.history",
        "team.info",
        "usergroups.users.list",
        "views.open",
    } <= methods_the_code_calls()
