from enum import StrEnum


class SurveyStatus(StrEnum):
    """Where a survey stands. A rating does not change the status: a rated survey stays `sent`
    (the requester may change their mind) until it expires."""

    SCHEDULED = "scheduled"  # waiting out the delay after the resolution
    CANCELLED = "cancelled"  # the ticket reopened before the prompt went out
    SENT = "sent"  # the prompt is in the customer's thread, buttons live
    EXPIRED = "expired"  # the survey closed; the buttons are gone


class OptOutKind(StrEnum):
    CHANNEL = "channel"  # a Slack channel id
    ACCOUNT = "account"  # a Slack Connect team id, or an account name in lower case


LOW_RATING_MAX = 2
SATISFIED_MIN = 4
RATINGS = range(1, 6)
