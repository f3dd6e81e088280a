"""The CSAT prompt in the customer's thread, and the modal for a comment. Pure functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.csat.enums import RATINGS, SurveyStatus
from app.csat.models import CsatSurvey
from app.csat.notifications import RATING_FACES
from app.csat.surveys import COMMENT_MAX_CHARS
from app.slack.blocks.parts import context, plain, section
from app.slack.ids import ActionId, BlockId, CallbackId
from app.text_safety import date, escape

RATING_WORDS = {1: "Very bad", 2: "Bad", 3: "OK", 4: "Good", 5: "Great"}


@dataclass(frozen=True)
class CsatPrompt:
    survey_id: int
    ticket_number: str
    subject: str
    requester_user_id: str
    status: SurveyStatus
    rating: int | None
    has_comment: bool
    expires_at: datetime | None

    @classmethod
    def of(cls, survey: CsatSurvey, *, ticket_number: str, subject: str) -> CsatPrompt:
        return cls(
            survey_id=survey.id,
            ticket_number=ticket_number,
            subject=subject,
            requester_user_id=survey.requester_user_id,
            status=survey.status,
            rating=survey.rating,
            has_comment=bool(survey.comment),
            expires_at=survey.expires_at,
        )


def csat_prompt(prompt: CsatPrompt) -> dict[str, Any]:
    """`text` (notification and fallback) and `blocks` for chat.postMessage / chat.update."""
    who = f"<@{prompt.requester_user_id}>"
    ticket = f"*{prompt.ticket_number}* · {escape(prompt.subject)}"
    if prompt.status is SurveyStatus.EXPIRED:
        text = "This survey has closed."
        if prompt.rating is not None:
            text += f" You rated {prompt.ticket_number} {_rating(prompt.rating)}. Thank you!"
        return {"text": text, "blocks": [section(f":lock: {text}")]}
    if prompt.rating is None:
        text = f"{who} your request {prompt.ticket_number} was resolved. How did we do?"
        blocks = [
            section(f"{who} your request {ticket} was resolved. *How did we do?*"),
            _rating_buttons(prompt),
            context(f"Only {who} can answer." + _closes(prompt)),
        ]
        return {"text": text, "blocks": blocks}
    text = f"Thanks, {who}! You rated {prompt.ticket_number} {_rating(prompt.rating)}."
    if prompt.has_comment:
        text += " We got your comment too."
    comment_label = "Edit your comment" if prompt.has_comment else "Add a comment"
    rating_row = _rating_buttons(prompt)
    rating_row["elements"].append(
        {
            "type": "button",
            "action_id": ActionId.CSAT_ADD_COMMENT,
            "text": plain(comment_label, emoji=True),
            "value": str(prompt.survey_id),
        }
    )
    blocks = [
        section(f":pray: {text}"),
        rating_row,
        context("Changed your mind? Tap another face." + _closes(prompt)),
    ]
    return {"text": text, "blocks": blocks}


def comment_modal(*, survey_id: int, ticket_number: str, rating: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.CSAT_COMMENT,
        "private_metadata": json.dumps({"survey_id": survey_id}),
        "title": plain("Your feedback"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [
            section(f"You rated *{ticket_number}* {_rating(rating)}. Anything to add?"),
            {
                "type": "input",
                "block_id": BlockId.CSAT_COMMENT,
                "label": plain("Comment"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.CSAT_COMMENT_INPUT,
                    "multiline": True,
                    "max_length": COMMENT_MAX_CHARS,
                    "placeholder": plain("What went well, or not?"),
                },
            },
        ],
    }


def rating_action_id(rating: int) -> str:
    return f"{ActionId.CSAT_RATE_PREFIX}{rating}"


def rating_from_action_id(action_id: str) -> int | None:
    digits = action_id.removeprefix(ActionId.CSAT_RATE_PREFIX)
    return int(digits) if digits.isdigit() and int(digits) in RATINGS else None


def _rating_buttons(prompt: CsatPrompt) -> dict[str, Any]:
    buttons = []
    for rating in RATINGS:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": rating_action_id(rating),
            "text": plain(RATING_FACES[rating], emoji=True),
            "value": str(prompt.survey_id),
            "accessibility_label": f"{rating} out of 5: {RATING_WORDS[rating]}",
        }
        if rating == prompt.rating:
            button["style"] = "primary"
        buttons.append(button)
    return {"type": "actions", "block_id": BlockId.CSAT_RATINGS, "elements": buttons}


def _rating(rating: int) -> str:
    return f"{RATING_FACES[rating]} {rating}/5"


def _closes(prompt: CsatPrompt) -> str:
    if prompt.expires_at is None:
        return ""
    return f" This survey closes {date(prompt.expires_at, '{date_short}', '%Y-%m-%d')}."
