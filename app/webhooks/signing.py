"""Webhook signatures, both ways (pure).

A request is signed over `f"{timestamp}.{body}"` with HMAC-SHA256 and the shared secret, and
carries `X-Ticketbot-Timestamp: <unix seconds>` and `X-Ticketbot-Signature: v1=<hex digest>`.
The timestamp is inside the signature, so a captured request cannot be replayed after the
tolerance (5 minutes) has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from app.errors import NotAuthenticated

SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"

TIMESTAMP_HEADER = "X-Ticketbot-Timestamp"
SIGNATURE_HEADER = "X-Ticketbot-Signature"
EVENT_HEADER = "X-Ticketbot-Event"
DELIVERY_HEADER = "X-Ticketbot-Delivery"


def new_secret() -> str:
    """A fresh signing secret (256 random bits). The whole string is the HMAC key."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Ticketbot-Signature` value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(
    *,
    secret: str,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> None:
    """Raise NotAuthenticated unless the request is signed with `secret` and recent.

    The header may carry several comma-separated signatures (while a secret is rotated); one
    matching `v1` signature is enough.
    """
    if not timestamp or not signature_header:
        raise NotAuthenticated(
            f"Missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header: sign the request."
        )
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        raise NotAuthenticated(f"{TIMESTAMP_HEADER} must be a Unix time in seconds.") from None
    if abs(now.timestamp() - sent_at) > tolerance_seconds:
        raise NotAuthenticated(
            f"{TIMESTAMP_HEADER} is more than {tolerance_seconds // 60} minutes away from now."
        )
    expected = signature(secret, timestamp.strip(), body)
    offered = [part.strip() for part in signature_header.split(",")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise NotAuthenticated(f"{SIGNATURE_HEADER} does not match the request.")
