"""Every action id and block id ticketbot puts in Slack, in one place."""

from enum import StrEnum


class ActionId(StrEnum):
    ASSIGN_TO_ME = "ticket_assign_to_me"
    SET_PRIORITY = "ticket_set_priority"
    RESOLVE = "ticket_resolve"
    WAIT_ON_CUSTOMER = "ticket_wait_on_customer"
    DISCARD = "ticket_discard"
    OPEN_IN_CHANNEL = "ticket_open_in_channel"
    # CSAT: one button per rating (`csat_rate_1` … `csat_rate_5`) and the comment button.
    CSAT_RATE_PREFIX = "csat_rate_"
    CSAT_ADD_COMMENT = "csat_add_comment"
    CSAT_COMMENT_INPUT = "csat_comment_input"


class BlockId(StrEnum):
    TRIAGE_ACTIONS = "triage_actions"
    CSAT_RATINGS = "csat_ratings"
    CSAT_COMMENT = "csat_comment"


class CallbackId(StrEnum):
    """Modal (view) callback ids."""

    CSAT_COMMENT = "csat_comment"
