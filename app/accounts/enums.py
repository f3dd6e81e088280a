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
