"""Testimonials end to end, on both databases: a 5/5 CSAT with a comment asks "May we quote
you?" in the customer's thread; only they may answer; a consented quote is in the API and the
CSV (anonymous ones without the person); a withdrawn consent removes it everywhere."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from app.accounts.enums import Consent
from app.accounts.models import Testimonial
from app.apikeys.scopes import Scope
from app.slack.ids import ActionId, BlockId, CallbackId
from tests.api.helpers import api_client, api_key
from tests.csat.test_csat_flow import CUSTOMER, prompt_after_delay, rate, setup
from tests.support.server import RunningApp, wait_until

BYSTANDER = "UBYSTANDER"


def consent_question(emulator, root: str) -> dict[str, Any] | None:
    for message in emulator.thread("CSUPPORT", root):
        if any(b.get("block_id") == BlockId.QUOTE_CONSENT for b in message.get("blocks") or []):
            return message
    return None


async def choose(sender, message: dict[str, Any], consent: Consent, user: str):
    action_id = f"{ActionId.QUOTE_PREFIX}{consent.value}"
    [block] = [b for b in message["blocks"] if b.get("block_id") == BlockId.QUOTE_CONSENT]
    [button] = [e for e in block["elements"] if e["action_id"] == action_id]
    return await sender.send_block_actions(
        [{"action_id": action_id, "block_id": BlockId.QUOTE_CONSENT, "value": button["value"]}],
        user_id=user,
        channel_id="CSUPPORT",
        message=message,
    )


async def comment(sender, emulator, prompt: dict[str, Any], words: str) -> None:
    row = next(b for b in prompt["blocks"] if b.get("block_id") == BlockId.CSAT_RATINGS)
    button = next(e for e in row["elements"] if e["action_id"] == ActionId.CSAT_ADD_COMMENT)
    await sender.send_block_actions(
        [{"action_id": ActionId.CSAT_ADD_COMMENT, "value": button["value"]}],
        user_id=CUSTOMER,
        channel_id="CSUPPORT",
        message=prompt,
    )
    [opened] = emulator.calls("views.open")
    modal = opened.args["view"]
    assert modal["callback_id"] == CallbackId.CSAT_COMMENT
    state = {
        BlockId.CSAT_COMMENT: {
            ActionId.CSAT_COMMENT_INPUT: {"type": "plain_text_input", "value": words}
        }
    }
    sent = await sender.send_view_submission(
        {
            "callback_id": modal["callback_id"],
            "private_metadata": modal["private_metadata"],
            "blocks": modal["blocks"],
            "state": {"values": state},
        },
        user_id=CUSTOMER,
    )
    assert sent.status_code == 200 and not sent.content


async def stored(app: RunningApp) -> list[Testimonial]:
    async with app.runtime.session_factory() as session:
        return list(await session.scalars(select(Testimonial)))


async def test_a_quote_needs_consent_and_disappears_when_withdrawn(
    running_app, sender, emulator, clock
):
    await setup(running_app)
    root, prompt = await prompt_after_delay(running_app, sender, emulator, clock)
    assert (await rate(sender, prompt, 5)).status_code == 200
    rated = await wait_until(
        lambda: (p := _prompt(emulator, root)) and "rated" in p["text"] and p, message="rated"
    )
    await comment(sender, emulator, rated, "Fast, kind and right first time. =1+1")

    asked = await wait_until(lambda: consent_question(emulator, root), message="May we quote you?")
    assert "May we quote you?" in asked["text"]
    [testimonial] = await stored(running_app)
    assert testimonial.consent is Consent.ASKED

    reader = await api_key(running_app, Scope.ACCOUNTS_READ)
    async with api_client(running_app, reader) as api:
        assert (await api.get("/api/testimonials")).json() == {"items": []}  # no consent yet

    # Only the customer may answer.
    assert (await choose(sender, asked, Consent.NAMED, BYSTANDER)).status_code == 200
    assert (await stored(running_app))[0].consent is Consent.ASKED
    assert (await choose(sender, asked, Consent.ANONYMOUS, CUSTOMER)).status_code == 200
    async with api_client(running_app, reader) as api:
        [quote] = (await api.get("/api/testimonials")).json()["items"]
        assert quote["quote"] == "Fast, kind and right first time. =1+1"
        assert (quote["anonymous"], quote["person"], quote["source"]) == (True, None, "csat")
        assert quote["consent_wording"].startswith("May we quote your words")
        exported = await api.get("/api/testimonials.csv")
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [row["quote"] for row in rows] == ["Fast, kind and right first time. =1+1"]
        assert rows[0]["person"] == ""

    thanked = await wait_until(
        lambda: (m := consent_question(emulator, root)) and "Thank you" in m["text"] and m,
        message="the question redrawn with a way to withdraw",
    )
    assert (await choose(sender, thanked, Consent.WITHDRAWN, CUSTOMER)).status_code == 200
    [testimonial] = await stored(running_app)
    assert (testimonial.consent, testimonial.quote) == (Consent.WITHDRAWN, None)
    async with api_client(running_app, reader) as api:
        assert (await api.get("/api/testimonials")).json() == {"items": []}
        rows = list(csv.DictReader(io.StringIO((await api.get("/api/testimonials.csv")).text)))
        assert rows == []


def _prompt(emulator, root: str) -> dict[str, Any] | None:
    for message in emulator.thread("CSUPPORT", root):
        if any(b.get("block_id") == BlockId.CSAT_RATINGS for b in message.get("blocks") or []):
            return message
    return None
