"""Process configuration: one pydantic-settings class, read from the environment and `.env`.
Its DATABASE_URL part, `DatabaseSettings`, is all that the database-only commands read.

Settings are built once by the CLI (or a test) and passed down; nothing reads them from a global.
Per-workspace settings that users change at run time live in the database, not here.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.token_cipher import TokenCipher


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


# The manifest's bot scopes (slack_manifest.yml; tests/test_slack_scopes.py keeps them equal).
DEFAULT_BOT_SCOPES = (
    "chat:write",
    "chat:write.customize",
    "channels:history",
    "groups:history",
    "reactions:read",
    "channels:read",
    "groups:read",
    "team:read",
    "usergroups:read",
    "commands",
    "files:write",
    "files:read",
)

# The signals an account's health is scored from, as HEALTH_WEIGHTS names them
# (app/accounts/health.py `Weights` has a field for each; a test holds the two together).
HEALTH_SIGNALS = (
    "csat",
    "csat_trend",
    "nps",
    "breaches",
    "reopens",
    "volume",
    "open_age",
    "quiet",
    "contacts_left",
    "urgent",
)

DEFAULT_NOT_A_REQUEST_PHRASES = (
    "thanks",
    "thank you",
    "thx",
    "ty",
    "ok",
    "okay",
    "k",
    "cool",
    "great",
    "got it",
    "perfect",
    "awesome",
    "sounds good",
    "will do",
    "np",
)
DEFAULT_AUTO_REPLY_TEXT = (
    "Thanks for reaching out! We've opened ticket *{ticket}* for this. "
    "Someone from the team will reply in this thread; add any details here."
)

DEFAULT_OFF_HOURS_REPLY_TEXT = (
    "Our support team is away right now and back {back}. "
    "Your message is in the queue and will be answered then."
)


class SettingsError(Exception):
    """A setting is missing or malformed. The message names the variable and fits on one line."""


class DatabaseSettings(BaseSettings):
    """What the commands that only touch the database read (`migrate`, `apikey`, `webhook`,
    `inbound`): DATABASE_URL. `Settings` extends it, so it is read and checked in one place."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = "sqlite+aiosqlite:///./ticketbot.db"

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        """A URL for ticketbot's async drivers. One that names another driver or none (as
        `postgres://...` from Heroku-style providers, or `sqlite:///x.db`), or uses libpq's
        `sslmode=` that asyncpg does not take, is refused with the URL to write instead."""
        if not value.strip():
            raise ValueError(
                "it is empty; leave it unset for SQLite in ./ticketbot.db, or write"
                " sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:5432/NAME"
            )
        scheme, separator, rest = value.partition("://")
        database = scheme.split("+")[0].lower()
        if not separator or database not in _ASYNC_SCHEMES:
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        wanted_scheme = _ASYNC_SCHEMES[database]
        wanted = f"{wanted_scheme}://{rest}"
        if database != "sqlite":
            wanted = _sslmode_as_ssl(wanted)
        if wanted != value:
            reason = (
                f"ticketbot needs the {wanted_scheme.partition('+')[2]} driver"
                if scheme != wanted_scheme
                else "asyncpg takes ssl=, not sslmode="
            )
            shown = _password_hidden(wanted)
            where = " (your password in place of ***)" if shown != wanted else ""
            raise ValueError(f"{reason}; write {shown} instead{where}")
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                "cannot be read as a database URL; write sqlite+aiosqlite:///PATH"
                " or postgresql+asyncpg://USER:PASSWORD@HOST:5432/NAME"
            ) from None
        return value


# The scheme, with ticketbot's async driver, for each database a URL may name (`postgres://` is
# what Heroku-style providers give).
_ASYNC_SCHEMES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def _sslmode_as_ssl(url: str) -> str:
    """libpq's `sslmode=require` is asyncpg's `ssl=require` (same values)."""
    base, question, query = url.partition("?")
    if not question:
        return url
    parameters = [
        "ssl=" + part.removeprefix("sslmode=") if part.startswith("sslmode=") else part
        for part in query.split("&")
    ]
    return f"{base}?{'&'.join(parameters)}"


def _password_hidden(url: str) -> str:
    scheme, _, rest = url.partition("://")
    head, question, query = rest.partition("?")
    userinfo, at, host_and_path = head.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not at or not colon:
        return url
    return f"{scheme}://{user}:***@{host_and_path}{question}{query}"


class TokenKeySettings(DatabaseSettings):
    """DATABASE_URL and the keys the stored Slack tokens are encrypted with (what
    `rotate-token-key` reads)."""

    # Fernet keys, newest first (app/token_cipher.py); `ticketbot new-token-key` makes one.
    token_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    @field_validator("token_encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, SecretStr):
            return cls._split_keys(value.get_secret_value())
        return value

    @field_validator("token_encryption_keys")
    @classmethod
    def _check_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            TokenCipher.check_key(key.get_secret_value())
        return value

    def token_cipher(self) -> TokenCipher | None:
        keys = [key.get_secret_value() for key in self.token_encryption_keys]
        return TokenCipher(keys) if keys else None


class Settings(TokenKeySettings):
    """Everything the process needs to start. Secrets are `SecretStr` so they never print."""

    # Several workspaces (Slack's OAuth flow at /slack/install): the app's client id and
    # secret, and keys to encrypt the installations' tokens at rest. One workspace: its bot
    # token instead (checked after these, so its absence is reported with the rest).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = Field(default=None, validate_default=True)
    slack_signing_secret: SecretStr
    # The bot scopes an install asks for: the manifest's (tests/test_slack_scopes.py keeps
    # them equal).
    slack_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_BOT_SCOPES)
    )
    # Where Slack sends the installer back (https://<host>/slack/oauth_redirect); unset, Slack
    # uses the app's only redirect URL.
    slack_redirect_uri: str | None = None
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    # With token rotation on in the app's settings, a bot token is refreshed this long before
    # it expires (Slack's tokens then live 12 hours).
    slack_token_refresh_minutes: int = Field(default=120, ge=1, le=600)
    # Socket Mode (no public address): Slack's requests come over a WebSocket ticketbot opens
    # with this app-level token (xapp-..., scope connections:write). Setting it turns Socket
    # Mode on; SLACK_SOCKET_MODE=true without it is refused.
    slack_app_token: SecretStr | None = None
    slack_socket_mode: bool = False
    slack_api_url: str = "https://slack.com/api/"
    # Sign in with Slack (the web dashboard at /web): Slack's OpenID Connect consent page, and
    # the address people reach ticketbot at (https://<host>, for the redirect URL
    # <host>/web/signin/callback, which must be among the app's redirect URLs); unset, the
    # address of the request is used.
    slack_openid_authorize_url: str = "https://slack.com/openid/connect/authorize"
    public_url: str | None = None
    web_session_secret: SecretStr | None = None
    web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    support_leads: Annotated[list[str], NoDecode] = Field(default_factory=list)
    triage_channel_id: str | None = None
    scheduler_interval_seconds: float = Field(default=15.0, gt=0)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.CONSOLE

    # Ticket intake.
    support_agents_usergroup_id: str | None = None
    ticket_grouping_window_seconds: float = Field(default=120.0, ge=0)
    ticket_reaction: str = "ticket"
    resolve_reaction: str = "white_check_mark"
    not_a_request_phrases: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_NOT_A_REQUEST_PHRASES)
    )
    auto_reply_text: str = DEFAULT_AUTO_REPLY_TEXT
    off_hours_reply_text: str = DEFAULT_OFF_HOURS_REPLY_TEXT
    # Hour (0-23, workspace time zone) of the daily digest in each triage channel; -1: none.
    digest_hour: int = Field(default=9, ge=-1, le=23)
    # Customer accounts (app/accounts): the hour (workspace time zone) each day's health is
    # scored, the most points each signal may cost (`breaches=30,quiet=20`; app/accounts/
    # health.py lists them and their defaults), and when an account is at risk: under this
    # score, or fallen this many points in a week.
    account_health_hour: int = Field(default=6, ge=0, le=23)
    # The weekly report (last week's numbers and a chart) goes to the triage channel on
    # Mondays at this hour of the workspace's zone; -1 turns it off.
    weekly_report_hour: int = Field(default=8, ge=-1, le=23)
    health_weights: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    account_at_risk_below: int = Field(default=60, ge=0, le=100)
    account_falling_points: int = Field(default=15, ge=1, le=100)
    # NPS (app/accounts/nps.py): a contact is asked at most once in this many days; one
    # reminder this long after the question if unanswered (0: none); it closes after this.
    nps_interval_days: int = Field(default=90, ge=1)
    nps_reminder_after_seconds: float = Field(default=3 * 86400.0, ge=0)
    nps_expire_after_seconds: float = Field(default=14 * 86400.0, gt=0)
    # Catch-up (app/flows/catch_up.py): on start and every interval (0: on start only), read
    # back what Slack holds and no event brought, at most this far back (0: no catch-up),
    # this many messages a page (Slack recommends at most 200; app/slack/delivery.py keeps
    # pages of up to 200 replies and their thread's parent).
    catch_up_interval_seconds: float = Field(default=900.0, ge=0)
    catch_up_max_age_hours: float = Field(default=24.0, ge=0)
    catch_up_page_size: int = Field(default=100, ge=1, le=200)

    # CSAT: the prompt goes out this long after a resolution (leads may change it per workspace),
    # one reminder follows if unrated (0: none), and the survey closes after the expiry.
    csat_delay_seconds: int = Field(default=600, ge=0)
    csat_reminder_after_seconds: int = Field(default=24 * 3600, ge=0)
    csat_expire_after_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    outbox_max_attempts: int = Field(default=24, ge=1)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    outbox_batch_size: int = Field(default=20, ge=1, le=500)
    outbox_concurrency: int = Field(default=4, ge=1, le=64)
    outbox_workers: int = Field(default=2, ge=1, le=8)
    outbox_lease_seconds: float = Field(default=60.0, gt=0)
    slack_http_timeout_seconds: float = Field(default=10.0, gt=0)
    # Pace Slack calls under Slack's published rate limits (app/slack/pacing.py), shared by every
    # replica through the database. Off only for benchmarks that measure raw throughput.
    slack_pacing: bool = True
    # Outbound webhooks: each POST's timeout, and their own retry schedule (backoff up to the
    # cap between attempts, for up to the retry window after the event; a day by default).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_window_seconds: int = Field(default=24 * 3600, gt=0)
    webhook_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=100, ge=1)
    database_pool_size: int = Field(default=10, ge=1)
    # Request bodies over these are refused with 413 before they are read: a signature covers
    # the body, so an unsigned one would otherwise be held whole before it is refused. Slack's
    # requests get their own, smaller limit. Slack publishes no size for them, only for their
    # parts: message text is truncated at 40,000 characters (api.slack.com/changelog/
    # 2018-04-truncating-really-long-messages), a message has at most 50 blocks and a modal or
    # Home tab 100 (docs.slack.dev/reference/block-kit/blocks), private_metadata at most 3,000
    # characters (docs.slack.dev/reference/views/modal-views). An edit of a 40,000-character
    # message carries its text four times (text and blocks, before and after): about 170 KB of
    # plain text. A new 40,000-character message in a non-Latin script, each character
    # \u-escaped, is about 480 KB and still fits in 512 KiB (its edit would not).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    slack_max_body_bytes: int = Field(default=512 * 1024, ge=1024)

    @field_validator("health_weights", mode="before")
    @classmethod
    def _health_weights(cls, value: object) -> object:
        """`breaches=30,quiet=20`: the most points those signals may cost (0-100 each)."""
        if not isinstance(value, str):
            return value
        weights: dict[str, float] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            name, equals, points = part.partition("=")
            name = name.strip().lower()
            if not equals or name not in HEALTH_SIGNALS:
                raise ValueError(
                    f"`{part}` is not a health weight: use name=points with a name among"
                    f" {', '.join(sorted(HEALTH_SIGNALS))}"
                )
            try:
                weights[name] = float(points)
            except ValueError:
                raise ValueError(f"`{part}`: the points must be a number") from None
            if not 0 <= weights[name] <= 100:
                raise ValueError(f"`{part}`: the points must be between 0 and 100")
        return weights

    @field_validator("support_leads", mode="before")
    @classmethod
    def _split_user_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("not_a_request_phrases", mode="before")
    @classmethod
    def _split_phrases(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("ticket_reaction", "resolve_reaction")
    @classmethod
    def _reaction_name(cls, value: str) -> str:
        name = value.strip().strip(":")
        if not name:
            raise ValueError("must be an emoji name like ticket or white_check_mark")
        return name

    @field_validator("support_leads")
    @classmethod
    def _check_user_ids(cls, value: list[str]) -> list[str]:
        for user_id in value:
            if user_id[:1] not in ("U", "W") or not user_id.isalnum():
                raise ValueError(f"{user_id!r} is not a Slack user id (like U0123ABCD)")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_signing_secret")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("slack_client_secret")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_unless_oauth(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        """SLACK_BOT_TOKEN is required unless the app installs with OAuth (SLACK_CLIENT_ID),
        and its absence is reported as missing, beside any other missing setting."""
        if value is not None and not value.get_secret_value().strip():
            value = None
        if value is None and not info.data.get("slack_client_id"):
            raise PydanticCustomError("missing", "Field required")
        return value

    @field_validator("slack_client_id", "slack_redirect_uri")
    @classmethod
    def _blank_text_is_unset(cls, value: str | None) -> str | None:
        return value.strip() if value is not None and value.strip() else None

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _one_way_to_install(self) -> Settings:
        credentials = self.slack_client_id is not None or self.slack_client_secret is not None
        if credentials and (self.slack_client_id is None or self.slack_client_secret is None):
            raise ValueError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together")
        if self.installs_with_oauth and not self.token_encryption_keys:
            raise ValueError(
                "installing into several workspaces stores their tokens encrypted:"
                " TOKEN_ENCRYPTION_KEYS is not set (make a key with `ticketbot new-token-key`)"
            )
        if self.installs_with_oauth and self.support_agents_usergroup_id:
            raise ValueError(
                "SUPPORT_AGENTS_USERGROUP_ID names one workspace's user group, so it needs"
                " SLACK_BOT_TOKEN (one workspace); with several installed, add agents with"
                " `/ticket team add @someone agent` in each"
            )
        return self

    @property
    def installs_with_oauth(self) -> bool:
        """Several workspaces, each installed through Slack's OAuth flow, each with its own
        bot token (stored encrypted); otherwise one workspace and SLACK_BOT_TOKEN. With the
        bot token set, the app's client id and secret serve Sign in with Slack only."""
        return self.slack_client_id is not None and self.slack_bot_token is None

    @property
    def web_sign_in(self) -> bool:
        """The web dashboard signs people in with Slack (OpenID Connect), which needs the
        app's client id and secret."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    def web_session_key(self) -> str:
        """What signs the dashboard's session cookies: WEB_SESSION_SECRET, or else a key
        derived from the signing secret (changing either signs everyone out)."""
        if self.web_session_secret is not None:
            return self.web_session_secret.get_secret_value()
        secret = self.slack_signing_secret.get_secret_value().encode()
        return hmac.new(secret, b"ticketbot web session", hashlib.sha256).hexdigest()

    def token_cipher(self) -> TokenCipher | None:
        keys = [key.get_secret_value() for key in self.token_encryption_keys]
        return TokenCipher(keys) if keys else None

    @field_validator("slack_app_token")
    @classmethod
    def _check_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError(
                "must be an app-level token (xapp-...), made under Basic Information >"
                " App-Level Tokens with the connections:write scope"
            )
        return value

    @model_validator(mode="after")
    def _socket_mode_needs_a_token(self) -> Settings:
        if self.slack_socket_mode and self.slack_app_token is None:
            raise ValueError(
                "SLACK_SOCKET_MODE needs SLACK_APP_TOKEN (an app-level token, xapp-..., with"
                " the connections:write scope)"
            )
        return self

    @property
    def uses_socket_mode(self) -> bool:
        """Slack's requests come over Socket Mode (as well as to the HTTP endpoint)."""
        return self.slack_app_token is not None

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def load_token_keys() -> list[str]:
    """TOKEN_ENCRYPTION_KEYS (and DATABASE_URL), read and checked as `load_settings` does."""
    try:
        settings = TokenKeySettings()
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
    return [key.get_secret_value() for key in settings.token_encryption_keys]


def load_database_settings() -> DatabaseSettings:
    """DATABASE_URL alone, read and checked as `load_settings` does; no Slack settings needed."""
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        variable = "_".join(str(part) for part in error["loc"]).upper() or "settings"
        if error["type"] == "missing":
            problems.append(f"{variable} is not set")
        elif not error["loc"]:  # a rule over several settings: its message names them
            problems.append(error["msg"].removeprefix("Value error, "))
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{variable} is invalid: {message}")
    return "; ".join(problems)
