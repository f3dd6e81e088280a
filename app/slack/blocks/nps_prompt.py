"""The NPS question in a customer's channel, and the modal for the reason. Pure functions.

Eleven buttons (0-10) in one actions block: Block Kit allows up to 25 elements in an actions
block (docs.slack.dev/reference/block-kit/blocks/actions-block)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.accounts.enums import NPS_SCORES, NpsStatus
from app.accounts.models import NpsSurvey
from app.accounts.nps import REASON_MAX_CHARS
from app.slack.blocks.parts import context, plain, section
from app.slack.ids import ActionId, BlockId, CallbackId
from app.text_safety import date, escape

QUESTION = "How likely are you to recommend {us} to a friend or colleague?"


@dataclass(frozen=True)
class NpsPrompt:
    survey_id: int
    contact_user_id: str
    vendor: str  # the name of the team asking (our workspace's)
    status: NpsStatus
    score: int | None
    has_reason: bool
    expires_at: datetime

    @classmethod
    def of(cls, survey: NpsSurvey, *, vendor: str) -> NpsPrompt:
        return cls(
            survey_id=survey.id,
            contact_user_id=survey.contact_user_id,
            vendor=vendor,
            status=survey.status,
            score=survey.score,
            has_reason=bool(survey.reason),
            expires_at=survey.expires_at,
        )


def nps_prompt(prompt: NpsPrompt) -> dict[str, Any]:
    """`text` and `blocks` for chat.postMessage / chat.update."""
    who = f"<@{prompt.contact_user_id}>"
    question = QUESTION.format(us=escape(prompt.vendor) if prompt.vendor else "us")
    if prompt.status is NpsStatus.DECLINED:
        text = f"Understood, {who}: we won't ask you again."
        return {"text": text, "blocks": [section(f":ok_hand: {text}")]}
    if prompt.status is NpsStatus.EXPIRED:
        text = "This question has closed."
        if prompt.score is not None:
            text += f" You answered {prompt.score}/10. Thank you!"
        return {"text": text, "blocks": [section(f":lock: {text}")]}
    if prompt.score is None:
        text = f"{who} a quick question: {question}"
        blocks = [
            section(f"{who} a quick question: *{question}*"),
            _score_buttons(prompt),
            {
                "type": "actions",
                "block_id": BlockId.NPS_MORE,
                "elements": [_decline_button(prompt)],
            },
            context(
                f"0 = not at all likely, 10 = extremely likely. Only {who} can answer."
                + _closes(prompt)
            ),
        ]
        return {"text": text, "blocks": blocks}
    text = f"Thanks, {who}! You answered {prompt.score}/10."
    if prompt.has_reason:
        text += " We got your reason too."
    reason_label = "Change your reason" if prompt.has_reason else "Tell us why"
    more = {
        "type": "actions",
        "block_id": BlockId.NPS_MORE,
        "elements": [
            {
                "type": "button",
                "action_id": ActionId.NPS_ADD_REASON,
                "text": plain(reason_label),
                "value": str(prompt.survey_id),
            },
            _decline_button(prompt),
        ],
    }
    blocks = [
        section(f":pray: {text}"),
        _score_buttons(prompt),
        more,
        context("Changed your mind? Tap another number." + _closes(prompt)),
    ]
    return {"text": text, "blocks": blocks}


def reason_modal(*, survey_id: int, score: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.NPS_REASON,
        "private_metadata": json.dumps({"survey_id": survey_id}),
        "title": plain("Your answer"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [
            section(f"You answered *{score}/10*."),
            {
                "type": "input",
                "block_id": BlockId.NPS_REASON,
                "label": plain("What is the main reason for your score?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.NPS_REASON_INPUT,
                    "multiline": True,
                    "max_length": REASON_MAX_CHARS,
                },
            },
        ],
    }


def score_action_id(score: int) -> str:
    return f"{ActionId.NPS_SCORE_PREFIX}{score}"


def score_from_action_id(action_id: str) -> int | None:
    digits = action_id.removeprefix(ActionId.NPS_SCORE_PREFIX)
    return int(digits) if digits.isdigit() and int(digits) in NPS_SCORES else None


def _score_buttons(prompt: NpsPrompt) -> dict[str, Any]:
    buttons = []
    for score in NPS_SCORES:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": score_action_id(score),
            "text": plain(str(score)),
            "value": str(prompt.survey_id),
            "accessibility_label": f"{score} out of 10",
        }
        if score == prompt.score:
            button["style"] = "primary"
        buttons.append(button)
    return {"type": "actions", "block_id": BlockId.NPS_SCORES, "elements": buttons}


def _decline_button(prompt: NpsPrompt) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ActionId.NPS_DECLINE,
        "text": plain("Don't ask me again"),
        "value": str(prompt.survey_id),
    }


def _closes(prompt: NpsPrompt) -> str:
    return f" This question closes {date(prompt.expires_at, '{date_short}', '%Y-%m-%d')}."
