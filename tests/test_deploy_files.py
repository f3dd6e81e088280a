"""The files a deployer uses: Slack app manifest, compose file, Dockerfile, and `alembic check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_manifest_subscribes_to_what_the_app_handles():
    manifest = yaml.safe_load((ROOT / "slack_manifest.yml").read_text())
    settings = manifest["settings"]

    # Scopes are checked against the code in tests/test_slack_scopes.py.
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
        "reaction_added",
        "app_home_opened",
        "app_uninstalled",  # an OAuth install's token is forgotten
        "tokens_revoked",
        "member_left_channel",  # an account's contacts leaving its channels
    }
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/ticket" and command["should_escape"] is True
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        command["url"],
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["socket_mode_enabled"] is False


def _without_transport(manifest: dict) -> dict:
    """The manifest less what differs between HTTP and Socket Mode: URLs and the switch."""
    settings = manifest["settings"]
    settings["event_subscriptions"].pop("request_url", None)
    settings["interactivity"].pop("request_url", None)
    settings.pop("socket_mode_enabled")
    for command in manifest["features"]["slash_commands"]:
        command.pop("url", None)
    manifest["oauth_config"].pop("redirect_urls", None)  # where the browser reaches us
    return manifest


def test_the_socket_mode_manifest_is_the_same_app_without_urls():
    """Slack's manifest reference: with `socket_mode_enabled: true` no request URL is needed
    (https://docs.slack.dev/reference/app-manifest#settings)."""
    http_text = (ROOT / "slack_manifest.yml").read_text()
    socket_text = (ROOT / "slack_manifest.socket.yml").read_text()
    socket = yaml.safe_load(socket_text)

    assert socket["settings"]["socket_mode_enabled"] is True
    assert "url:" not in socket_text and "example.com" not in socket_text
    assert _without_transport(socket) == _without_transport(yaml.safe_load(http_text))


def test_compose_runs_postgres_and_ticketbot():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    assert services["ticketbot"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["ticketbot"]["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "healthcheck" in services["db"]


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "FROM python:3.11-slim" in dockerfile
    assert "\nUSER ticketbot" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "TICKETBOT_MIGRATIONS_DIR=/app/migrations" in dockerfile


def test_alembic_check_is_clean(database_url):
    """The alembic command line itself, as a developer runs it, on this test's database."""
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "No new upgrade operations detected." in result.stdout + result.stderr
