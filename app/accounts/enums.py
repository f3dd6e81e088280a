from enum import StrEnum


class LinkKind(StrEnum):
    """What ties tickets to an account."""

    SLACK_TEAM = "slack_team"  # a Slack Connect organisation's workspace (or Grid org) id
    CHANNEL = "channel"  # a channel of ours where only this customer writes
    DOMAIN = "domain"  # an email domain (requests that arrive with an email address)


class Tier(StrEnum):
    """How much the account is worth to the team; a lead sets it."""

    STRATEGIC = "strategic"
    ENTERPRISE = "enterprise"
    GROWTH = "growth"
    STANDARD = "standard"


class NpsStatus(StrEnum):
    """Where an NPS question stands: asked (buttons live; a score may still change) until it
    closes, or the person asked never to be asked again."""

    SENT = "sent"
    EXPIRED = "expired"
    DECLINED = "declined"  # "Don't ask me again"


class NpsOptOutKind(StrEnum):
    PERSON = "person"  # a Slack user id
    CHANNEL = "channel"  # a Slack channel id
    ACCOUNT = "account"  # an account id


NPS_SCORES = range(0, 11)
DETRACTOR_MAX = 6
PROMOTER_MIN = 9


class Consent(StrEnum):
    """What a customer said to "May we quote you?"."""

    ASKED = "asked"  # not answered yet
    NAMED = "named"  # yes, with their name
    ANONYMOUS = "anonymous"  # yes, without their name
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # said yes, then took it back: the quote is gone


CONSENTED = frozenset({Consent.NAMED, Consent.ANONYMOUS})
