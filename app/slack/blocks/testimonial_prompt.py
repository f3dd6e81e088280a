""" "May we quote you?" under a customer's kind words. Pure functions."""

from __future__ import annotations

from typing import Any

from app.accounts.enums import Consent
from app.accounts.models import Testimonial
from app.slack.blocks.parts import context, plain, section
from app.slack.ids import ActionId, BlockId
from app.text_safety import escape, quote

ANSWERS = {
    Consent.NAMED: "Yes, with my name",
    Consent.ANONYMOUS: "Yes, anonymously",
    Consent.DECLINED: "No, thanks",
}


def consent_action_id(consent: Consent) -> str:
    return f"{ActionId.QUOTE_PREFIX}{consent.value}"


def consent_from_action_id(action_id: str) -> Consent | None:
    value = action_id.removeprefix(ActionId.QUOTE_PREFIX)
    return next((c for c in Consent if c.value == value and c is not Consent.ASKED), None)


def testimonial_prompt(testimonial: Testimonial) -> dict[str, Any]:
    who = f"<@{testimonial.person_user_id}>"
    consent = testimonial.consent
    if consent is Consent.WITHDRAWN:
        text = f"Done, {who}: your quote is withdrawn and deleted."
        return {"text": text, "blocks": [section(f":wastebasket: {text}")]}
    if consent is Consent.DECLINED:
        text = f"No problem, {who}: we won't quote you. Thanks again!"
        return {"text": text, "blocks": [section(f":ok_hand: {text}")]}
    if consent in (Consent.NAMED, Consent.ANONYMOUS):
        how = "with your name" if consent is Consent.NAMED else "anonymously"
        text = f"Thank you, {who}! We may quote you {how}."
        return {
            "text": text,
            "blocks": [
                section(f":sparkles: {text}"),
                _buttons(testimonial, [(Consent.WITHDRAWN, "Withdraw my consent")]),
            ],
        }
    words = quote(escape(testimonial.quote or ""))
    text = f"{who} thank you for your kind words. May we quote you?"
    buttons = [(c, label) for c, label in ANSWERS.items()]
    return {
        "text": text,
        "blocks": [
            section(f"{who} thank you for your kind words:\n{words}"),
            section(f"*May we quote you?* {escape(testimonial.consent_wording)}"),
            _buttons(testimonial, buttons),
            context(f"Only {who} can answer."),
        ],
    }


def _buttons(testimonial: Testimonial, answers: list[tuple[Consent, str]]) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": BlockId.QUOTE_CONSENT,
        "elements": [
            {
                "type": "button",
                "action_id": consent_action_id(consent),
                "text": plain(label),
                "value": str(testimonial.id),
                **({"style": "primary"} if consent is Consent.NAMED else {}),
            }
            for consent, label in answers
        ],
    }
