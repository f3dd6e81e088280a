"""The control API mints response_urls for a driver in another process (`ticketbot dev send`)."""

from __future__ import annotations

import httpx

from app.slack_emulator import SlackEmulator


async def test_minted_response_url_accepts_and_records_posts(emulator: SlackEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.base_url) as control:
        minted = await control.post("/_emulator/response_urls")
        other = await control.post("/_emulator/response_urls")
        url = minted.json()["response_url"]
        answer = await control.post(url, json={"text": "Assigned T-1 to you."})

    assert minted.status_code == 200
    assert minted.json()["ok"] is True
    assert url.startswith(emulator.base_url + "/")
    assert other.json()["response_url"] != url
    assert answer.status_code == 200
    [call] = emulator.calls("response_url")
    assert call.args == {"text": "Assigned T-1 to you."}
