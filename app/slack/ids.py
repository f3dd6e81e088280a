"""Every action id and block id ticketbot puts in Slack, in one place."""

from enum import StrEnum


class ActionId(StrEnum):
    ASSIGN_TO_ME = "ticket_assign_to_me"
    SET_PRIORITY = "ticket_set_priority"
    RESOLVE = "ticket_resolve"
    WAIT_ON_CUSTOMER = "ticket_wait_on_customer"
    ESCALATE = "ticket_escalate"
    DISCARD = "ticket_discard"
    OPEN_IN_CHANNEL = "ticket_open_in_channel"
    TICKET_LIST_PAGE = "ticket_list_page"
    # CSAT: one button per rating (`csat_rate_1` … `csat_rate_5`) and the comment button.
    CSAT_RATE_PREFIX = "csat_rate_"
    CSAT_ADD_COMMENT = "csat_add_comment"
    CSAT_COMMENT_INPUT = "csat_comment_input"
    # NPS: one button per score (`nps_score_0` … `nps_score_10`), the reason, never again.
    NPS_SCORE_PREFIX = "nps_score_"
    NPS_ADD_REASON = "nps_add_reason"
    NPS_REASON_INPUT = "nps_reason_input"
    NPS_DECLINE = "nps_decline"
    # "May we quote you?": one button per answer (`quote_named`, `quote_anonymous`, …).
    QUOTE_PREFIX = "quote_"
    # Creating a ticket by hand: the Home tab's button, and the modal's inputs.
    CREATE_TICKET = "ticket_create"
    NEW_TICKET_SUBJECT = "new_ticket_subject_input"
    NEW_TICKET_DESCRIPTION = "new_ticket_description_input"
    NEW_TICKET_PRIORITY = "new_ticket_priority_input"
    NEW_TICKET_REQUESTER = "new_ticket_requester_input"
    NEW_TICKET_CHANNEL = "new_ticket_channel_input"


class BlockId(StrEnum):
    TRIAGE_ACTIONS = "triage_actions"
    CSAT_RATINGS = "csat_ratings"
    CSAT_COMMENT = "csat_comment"
    NPS_SCORES = "nps_scores"
    NPS_MORE = "nps_more"
    NPS_REASON = "nps_reason"
    QUOTE_CONSENT = "quote_consent"
    NEW_TICKET_SUBJECT = "new_ticket_subject"
    NEW_TICKET_DESCRIPTION = "new_ticket_description"
    NEW_TICKET_PRIORITY = "new_ticket_priority"
    NEW_TICKET_REQUESTER = "new_ticket_requester"
    NEW_TICKET_CHANNEL = "new_ticket_channel"


class CallbackId(StrEnum):
    """Modal (view) callback ids."""

    CSAT_COMMENT = "csat_comment"
    NPS_REASON = "nps_reason"
    CREATE_TICKET_MODAL = "create_ticket_modal"
    # Shortcuts (manifest: features.shortcuts): the global one and the one on a message.
    CREATE_TICKET_SHORTCUT = "create_ticket"
    CREATE_TICKET_FROM_MESSAGE = "create_ticket_from_message"
