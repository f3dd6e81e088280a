"""Every action id and block id ticketbot puts in Slack, in one place."""

from enum import StrEnum


class ActionId(StrEnum):
    ASSIGN_TO_ME = "ticket_assign_to_me"
    SET_PRIORITY = "ticket_set_priority"
    RESOLVE = "ticket_resolve"
    WAIT_ON_CUSTOMER = "ticket_wait_on_customer"
    DISCARD = "ticket_discard"
    OPEN_IN_CHANNEL = "ticket_open_in_channel"


class BlockId(StrEnum):
    TRIAGE_ACTIONS = "triage_actions"
