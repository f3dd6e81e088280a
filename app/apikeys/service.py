"""Creating, listing, revoking and checking API keys.

A key reads `tb_<prefix>_<secret>`. The prefix is not secret: it names the key in lists and the
audit trail, and finds its row. The whole key is stored only as a SHA-256 hash: keys carry 256
random bits, so nobody can guess one from its hash, and a slow password hash would only cost
time on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.apikeys.models import ApiKey
from app.apikeys.scopes import Scope, grants
from app.errors import InvalidInput, NotAllowed, NotAuthenticated, NotFound
from app.tickets.actors import Actor
from app.tickets.enums import ActorKind

KEY_MARK = "tb"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32
# `last_used_at` is a hint for people auditing keys: write it at most this often per key, so
# reads do not each cost a write (SQLite has one writer).
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its secret form, which exists only here: it is never stored."""

    key: ApiKey
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_actor(key: ApiKey) -> Actor:
    """Who the audit trail names for changes made with this key."""
    return Actor(ActorKind.API_KEY, key.display_prefix)


async def create_api_key(
    *,
    session: AsyncSession,
    name: str,
    scopes: Sequence[Scope],
    now: datetime,
    workspace_id: int | None = None,
) -> CreatedKey:
    name = name.strip()
    if not name:
        raise InvalidInput("An API key needs a name.")
    if len(name) > 255:
        raise InvalidInput("An API key's name is at most 255 characters.")
    if not scopes:
        raise InvalidInput("An API key needs at least one scope.")
    prefix = await _unused_prefix(session)
    token = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(
        prefix=prefix,
        name=name,
        key_hash=hash_token(token),
        scopes=[scope.value for scope in Scope if scope in set(scopes)],
        created_at=now,
        workspace_id=workspace_id,
    )
    session.add(key)
    await session.flush()
    return CreatedKey(key=key, token=token)


async def _unused_prefix(session: AsyncSession) -> str:
    for _ in range(10):
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        if await session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            return prefix
    raise RuntimeError("could not find an unused API key prefix")  # 36^8 prefixes: never


async def list_api_keys(*, session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


async def find_api_key(*, session: AsyncSession, ref: str) -> ApiKey:
    """A key by its prefix (`tb_ab12cd34` or `ab12cd34`), its whole token, or its id."""
    ref = ref.strip()
    parts = ref.split("_", 2)
    prefix = parts[1] if len(parts) >= 2 and parts[0] == KEY_MARK else ref
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix.lower()))
    if key is None and ref.isdigit():
        key = await session.get(ApiKey, int(ref))
    if key is None:
        raise NotFound(f"No API key {ref!r}.")
    return key


async def revoke_api_key(*, session: AsyncSession, ref: str, now: datetime) -> ApiKey:
    """Revoke a key for good; revoking it again keeps the first revocation time."""
    key = await find_api_key(session=session, ref=ref)
    if key.revoked_at is None:
        key.revoked_at = now
    return key


async def authenticate(*, session: AsyncSession, token: str, now: datetime) -> ApiKey:
    """The live key this token is, or NotAuthenticated saying what is wrong with it."""
    mark, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if mark != KEY_MARK or len(prefix) != PREFIX_LENGTH or not secret:
        raise NotAuthenticated("The API key is malformed; it looks like tb_<prefix>_<secret>.")
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.key_hash, hash_token(token)):
        raise NotAuthenticated("The API key is not valid.")
    if key.revoked_at is not None:
        raise NotAuthenticated(f"The API key {key.display_prefix} was revoked.")
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_GRANULARITY:
        key.last_used_at = now
    return key


def check_scope(key: ApiKey, scope: Scope) -> None:
    if not grants(key.scopes, scope):
        raise NotAllowed(f"This API key lacks the {scope.value} scope needed here.")
