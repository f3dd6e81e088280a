"""What a newcomer meets first: settings checked up front with one line, ports checked before any
work, `--version`, each command's help naming its settings, `migrate` saying what it did, and a
`.env.example` that lists every setting."""

from __future__ import annotations

import argparse
import io
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from dotenv import dotenv_values

from app.cli import _parser, main
from app.config import Settings
from app.schema import alembic_config, head_revisions
from tests.reports.test_ledger_migration import downgrade_to
from tests.test_cli import clean_environment, free_port, run

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
ENV_NAME_PREFIX = str(Settings.model_config.get("env_prefix") or "")
HEAD = ", ".join(sorted(head_revisions()))

DATABASE_COMMANDS = [
    ["migrate"],
    ["apikey", "list"],
    ["webhook", "list"],
    ["inbound", "list"],
    ["connector", "list"],
]


def env_name(field: str) -> str:
    return (ENV_NAME_PREFIX + field).upper()


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting in the environment, and a working directory without a .env."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


@contextmanager
def occupied_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


# -- 1. DATABASE_URL -------------------------------------------------------------------------

BAD_DATABASE_URLS = [
    (
        "postgres://app:s3cr3t@db.example.com:5432/app",
        "ticketbot needs the asyncpg driver; write postgresql+asyncpg://app:***@db.example.com"
        ":5432/app instead (your password in place of ***)",
    ),
    (
        "postgresql://app@db.example.com/app?sslmode=require",
        "ticketbot needs the asyncpg driver; write"
        " postgresql+asyncpg://app@db.example.com/app?ssl=require instead",
    ),
    (
        "sqlite:///x.db",
        "ticketbot needs the aiosqlite driver; write sqlite+aiosqlite:///x.db instead",
    ),
    ("", "it is empty; leave it unset for SQLite in ./ticketbot.db, or write"),
    ("mysql://x", "must start with sqlite+aiosqlite:// or postgresql+asyncpg://"),
    ("postgresql+asyncpg://app@db:port/app", "cannot be read as a database URL"),
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("value,problem", BAD_DATABASE_URLS)
def test_database_commands_name_a_bad_database_url_in_one_line(
    command, value, problem, no_settings, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", value)

    code, out, err = run_main(command, capsys)

    assert (code, out, len(err)) == (2, "", 1), err
    assert err[0].startswith(f"ticketbot: configuration error: DATABASE_URL is invalid: {problem}")
    assert "s3cr3t" not in err[0]
    assert list(no_settings.iterdir()) == []  # no database made on the way


def test_serve_suggests_the_same_database_url(no_settings, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgres://app@db.example.com/app")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")

    code, _, err = run_main(["serve"], capsys)

    assert (code, err) == (
        2,
        [
            "ticketbot: configuration error: DATABASE_URL is invalid: ticketbot needs the"
            " asyncpg driver; write postgresql+asyncpg://app@db.example.com/app instead"
        ],
    )


# -- 2. --port -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "dev"])
@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_an_invalid_port_is_refused_in_one_line(command, port, no_settings, capsys):
    code, out, err = run_main([command, "--port", port], capsys)

    assert (code, out, err) == (
        2,
        "",
        [f"ticketbot: --port: {port} is not a port number (1 to 65535)"],
    )


def test_serve_reports_a_port_in_use_before_migrating_or_calling_slack(
    no_settings, monkeypatch, capsys
):
    with socket.socket() as slack, occupied_port() as port:
        slack.bind(("127.0.0.1", 0))
        slack.listen()
        slack.setblocking(False)
        monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{slack.getsockname()[1]}/api/")
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
        monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{no_settings / 'tb.db'}")

        code, _, err = run_main(["serve", "--host", "127.0.0.1", "--port", str(port)], capsys)

        with pytest.raises(BlockingIOError):
            slack.accept()  # nobody asked "Slack" anything
    assert (code, err) == (
        1,
        [
            f"ticketbot: --port {port}: 127.0.0.1:{port} is already in use; stop what listens"
            " there or choose another --port"
        ],
    )
    assert not (no_settings / "tb.db").exists()  # not migrated


@pytest.mark.parametrize("option", ["--port", "--emulator-port"])
def test_dev_reports_a_port_in_use_before_starting(option, no_settings, capsys):
    other = "--emulator-port" if option == "--port" else "--port"
    with occupied_port() as port:
        code, _, err = run_main(["dev", option, str(port), other, str(free_port())], capsys)

    assert (code, err) == (
        1,
        [
            f"ticketbot: {option} {port}: 127.0.0.1:{port} is already in use; stop what listens"
            f" there or choose another {option}"
        ],
    )
    assert list(no_settings.iterdir()) == []  # no ticketbot-dev.db


# -- 3. --version ----------------------------------------------------------------------------


def test_version_is_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])

    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"ticketbot {version('ticketbot')}\n"


# -- 4. --help -------------------------------------------------------------------------------

SERVE_SETTINGS = ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
SETTINGS_BY_COMMAND = {
    "serve": SERVE_SETTINGS,
    "migrate": ("DATABASE_URL",),
    "apikey": ("DATABASE_URL",),
    "webhook": ("DATABASE_URL",),
    "inbound": ("DATABASE_URL",),
    "connector": ("DATABASE_URL", "TOKEN_ENCRYPTION_KEYS"),
    "dev": (),
    "demo": (),
    "new-token-key": (),
    "rotate-token-key": ("DATABASE_URL", "TOKEN_ENCRYPTION_KEYS"),
}


def command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield (*path, name)
                yield from command_paths(subparser, (*path, name))


def test_every_command_is_covered_by_the_help_test():
    assert {path[0] for path in command_paths(_parser())} == set(SETTINGS_BY_COMMAND)


@pytest.mark.parametrize("path", sorted(command_paths(_parser())), ids=" ".join)
def test_help_says_what_a_command_does_and_which_settings_it_needs(path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    text = capsys.readouterr().out

    assert exit_.value.code == 0
    description = text.split("\n\n")[1]
    assert not description.startswith(("positional arguments", "options")), text
    words = " ".join(text.split())
    needed = SETTINGS_BY_COMMAND[path[0]]
    if needed:
        assert "Settings: " in words
        for name in needed:
            assert name in words
        for name in set(SERVE_SETTINGS) - set(needed):
            assert name not in words
    else:
        assert "Settings: none." in words


# -- 5. migrate ------------------------------------------------------------------------------


async def test_migrate_creates_the_schema_from_a_dotenv_with_only_the_database(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite+aiosqlite:///./from-dotenv.db\n")

    code, stdout, stderr = await run(["migrate"], tmp_path, clean_environment())

    assert (code, stdout, stderr) == (0, f"Created the database schema at revision {HEAD}.\n", "")
    assert (tmp_path / "from-dotenv.db").exists()


async def test_migrate_says_the_schema_is_up_to_date(tmp_path, database_url):
    code, stdout, stderr = await run(
        ["migrate"], tmp_path, clean_environment(DATABASE_URL=database_url)
    )

    assert (code, stdout, stderr) == (
        0,
        f"Database schema is at the newest revision ({HEAD}).\n",
        "",
    )


async def test_migrate_says_from_which_revision_it_upgraded(tmp_path, database_url):
    script = ScriptDirectory.from_config(alembic_config(database_url))
    (head,) = head_revisions()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    await downgrade_to(database_url, previous)

    code, stdout, stderr = await run(
        ["migrate"], tmp_path, clean_environment(DATABASE_URL=database_url)
    )

    assert (code, stdout, stderr) == (
        0,
        f"Upgraded the database schema from {previous} to {head}.\n",
        "",
    )


# -- 6. .env.example -------------------------------------------------------------------------


def env_example_lines() -> dict[str, tuple[bool, str]]:
    """Each setting `.env.example` names: whether its line is commented out, and its value."""
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        commented = line.startswith("#")
        name, equals, raw = line.lstrip("# ").partition("=")
        if not equals or not name.isupper() or " " in name:
            continue
        assert name not in found, f"{name} is listed twice"
        value = dotenv_values(stream=io.StringIO(f"{name}={raw}\n"))[name]
        found[name] = (commented, value or "")
    return found


def test_env_example_lists_every_setting_and_nothing_else():
    for field in Settings.model_fields.values():
        assert field.validation_alias is None and field.alias is None  # names map as env_name()

    assert set(env_example_lines()) == {env_name(field) for field in Settings.model_fields}


def test_env_example_leaves_only_required_settings_uncommented_and_shows_the_defaults():
    lines = env_example_lines()
    required = {
        env_name(name) for name, field in Settings.model_fields.items() if field.is_required()
    } | {"SLACK_BOT_TOKEN"}  # required unless installing with OAuth (SLACK_CLIENT_ID)
    assert {name for name, (commented, _) in lines.items() if not commented} == required

    values = {name.lower(): value for name, (_, value) in lines.items()}
    settings = Settings(_env_file=None, **values)  # every value shown is valid
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if field.is_required() or not default:
            continue  # required, or no default: the line shows an example
        assert getattr(settings, name) == default, f"{env_name(name)} does not show its default"
