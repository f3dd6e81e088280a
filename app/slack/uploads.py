"""A chart image into Slack, with Slack's current upload flow (docs.slack.dev/reference/methods/
files.getUploadURLExternal, "Usage info": get an upload URL and a file id, POST the bytes to
that URL, then files.completeUploadExternal shares the file), as two outbox rows so that the
share, the only step anyone sees, happens once:

1. `files.getUploadURLExternal` (this module's `upload_chart`): draws the PNG from the chart's
   data in the row, gets a URL and a file id, sends the bytes; delivered with the file id. A
   retry uploads again under a new id: an upload never completed is never shown.
2. `files.completeUploadExternal`, held back until the first is delivered and given its file
   id: shares the file with its message in the channel. If an attempt may have reached Slack
   (no answer), files.info says whether the file is shared there already.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.charts import Chart, png
from app.reports.weekly import COMPLETE_UPLOAD, UPLOAD_CHART

__all__ = ["COMPLETE_UPLOAD", "UPLOAD_CHART", "completion", "shared_already", "upload_chart"]

UPLOAD_TIMEOUT_SECONDS = 30.0


class UploadRefused(Exception):
    """The upload URL did not take the bytes (Slack answers 200 when it has them)."""


async def upload_chart(client: AsyncWebClient, payload: dict[str, Any]) -> dict[str, Any]:
    """Steps 1 and 2 of the flow; the file id to complete. Raises what the calls raise."""
    chart = Chart.from_data(payload["chart"])
    image = await png(chart)
    started = await client.files_getUploadURLExternal(
        filename=str(payload["filename"]),
        length=len(image),
        alt_txt=chart.alt_text[:1000],
    )
    timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(str(started["upload_url"]), data=image) as answer,
    ):
        if answer.status != 200:
            raise UploadRefused(f"the upload URL answered {answer.status}")
    return {"file_id": started["file_id"]}


def completion(payload: dict[str, Any]) -> dict[str, Any]:
    """files.completeUploadExternal's arguments from the row (its file id filled in from the
    upload row's result)."""
    args = {key: value for key, value in payload.items() if key not in ("file_id", "title")}
    args["files"] = [{"id": payload["file_id"], "title": payload.get("title") or ""}]
    return args


async def shared_already(client: AsyncWebClient, payload: dict[str, Any]) -> bool:
    """Whether an earlier attempt shared the file in the channel (files.info's `shares`)."""
    try:
        info = await client.files_info(file=str(payload["file_id"]))
    except SlackApiError as exc:
        if exc.response.get("error") == "file_not_found":  # never completed
            return False
        raise
    shares = (info.get("file") or {}).get("shares") or {}
    channel = payload.get("channel_id")
    return any(channel in (shares.get(kind) or {}) for kind in ("public", "private"))
