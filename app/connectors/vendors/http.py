"""One HTTP call to a vendor, its failures classified the same way for every vendor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from app.connectors.vendors.base import Failure, FarSideError
from app.outbox.delivery import retry_after_seconds

# Enough of a refusal's body to say why in the sync log.
EXCERPT_CHARS = 300

RetryAfter = Callable[[httpx.Response], float | None]


def retry_after_header(response: httpx.Response) -> float | None:
    """RFC 9110 `Retry-After`: seconds, or an HTTP date."""
    return retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))


async def call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json: Any = None,
    params: Mapping[str, str] | None = None,
    retry_after: RetryAfter = retry_after_header,
    creates: bool = False,
) -> Any:
    """The answer's JSON body (None when empty); FarSideError otherwise. `creates`: a timeout
    may have created the record, so the error says so (`maybe_done`)."""
    try:
        response = await http.request(method, url, headers=dict(headers), json=json, params=params)
    except httpx.TimeoutException as exc:
        raise FarSideError(
            Failure.UNAVAILABLE, f"timed out ({type(exc).__name__})", maybe_done=creates
        ) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise FarSideError(Failure.REFUSED, f"bad base URL: {exc}") from None
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise FarSideError(Failure.UNAVAILABLE, f"could not reach it: {reason}") from None
    status = response.status_code
    if 200 <= status < 300:
        return response.json() if response.content else None
    said = f"answered {status}" + (f": {_excerpt(response)}" if response.content else "")
    if status in (401, 403):
        raise FarSideError(Failure.AUTH, said, status_code=status)
    if status == 429:
        raise FarSideError(
            Failure.RATE_LIMITED, said, status_code=status, retry_after=retry_after(response)
        )
    if status == 408 or status >= 500:
        raise FarSideError(
            Failure.UNAVAILABLE, said, status_code=status, retry_after=retry_after(response)
        )
    if status in (404, 410):
        raise FarSideError(Failure.NOT_FOUND, said, status_code=status)
    raise FarSideError(Failure.REFUSED, said, status_code=status)


def _excerpt(response: httpx.Response) -> str:
    return " ".join(response.text.split())[:EXCERPT_CHARS]
