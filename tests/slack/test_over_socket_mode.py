"""The flows of the HTTP suite, again over Socket Mode: the same tests, with every Slack request
sent as an envelope over the app's own connection to the emulator and answered by its
acknowledgement (the `transport` fixture, tests/conftest.py), on both databases.

A representative set: intake, a thread reply, reactions, every `/ticket` command family (the
team, channels, triage, show and list, new, SLA, CSAT and stats, help), the triage card's
buttons and select, the new-ticket modal and its validation errors, and the CSAT buttons and
comment modal."""

from __future__ import annotations

import pytest

from tests.conftest import SOCKET_MODE
from tests.csat import test_csat_flow as csat
from tests.csat import test_stats as stats
from tests.home import test_home_tab as home
from tests.sla import test_sla_commands as sla_commands
from tests.slack import test_commands as commands
from tests.tickets import test_create_by_hand as by_hand
from tests.tickets import test_intake as intake
from tests.tickets import test_reactions as reactions
from tests.tickets import test_triage_card as card
from tests.triage import test_ticket_commands as ticket_commands
from tests.triage.test_ticket_commands import team  # noqa: F401  (that module's fixture)

pytestmark = pytest.mark.parametrize("transport", [SOCKET_MODE], indirect=True)

# Events
test_a_message_opens_a_ticket = intake.test_customer_message_opens_a_ticket_with_card_and_auto_reply
test_a_thread_reply_joins_the_conversation = intake.test_thread_is_the_conversation
test_retries_make_one_ticket = intake.test_retries_and_concurrent_deliveries_make_one_ticket
test_edits_and_deletions = intake.test_edits_and_deletions_are_reflected
test_the_ticket_reaction = reactions.test_ticket_reaction_opens_one_ticket_from_any_message
test_the_resolve_reaction = reactions.test_agent_resolves_a_reaction_ticket_with_the_check_mark

# /ticket, every family
test_team_command = commands.test_lead_adds_changes_lists_and_removes_members
test_watch_and_channels = commands.test_watch_with_its_own_triage_channel_then_change_it
test_autoreply = commands.test_autoreply_toggles_in_a_watched_channel
test_help = commands.test_help_lists_the_usage_for_anyone
test_bad_arguments = commands.test_bad_arguments_get_the_problem_and_the_usage
test_assign = ticket_commands.test_assign_me_and_someone_else
test_priority_status_resolve = ticket_commands.test_priority_status_resolve_reopen_close
test_note = ticket_commands.test_note_goes_to_the_triage_thread_only
test_list = ticket_commands.test_list_filters_and_pages
test_new = ticket_commands.test_new_opens_the_create_form
test_sla_targets = sla_commands.test_lead_changes_a_target_and_the_team_sees_it
test_sla_show = sla_commands.test_show_prints_the_ticket_and_its_sla_ledger
test_stats = stats.test_stats_command
test_csat_settings = csat.test_only_leads_change_csat_settings

# Buttons, selects and modals
test_card_assign_to_me = card.test_assign_to_me_updates_ticket_and_card
test_card_priority_and_resolve = card.test_priority_select_and_resolve
test_card_refuses_a_non_agent = card.test_non_agent_is_refused_and_nothing_changes
test_home_tab_actions = home.test_assign_and_resolve_from_the_home_tab
test_message_shortcut_modal = by_hand.test_message_shortcut_opens_the_modal_prefilled
test_modal_submission = by_hand.test_a_ticket_made_from_a_message_follows_its_thread
test_modal_validation_errors = by_hand.test_the_modals_validation_errors
test_csat_rating_click = csat.test_rating_thanks_in_place_and_the_last_click_counts
test_csat_only_the_requester = csat.test_only_the_requester_can_rate
test_csat_comment_modal = csat.test_comment_modal
