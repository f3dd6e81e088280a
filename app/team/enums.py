from enum import StrEnum


class Role(StrEnum):
    """What a team member may do. Leads triage and configure; agents answer and triage."""

    LEAD = "lead"
    AGENT = "agent"


class AutoAssignMode(StrEnum):
    """How a watched channel's new tickets find an assignee (per channel, off by default)."""

    OFF = "off"
    ROUND_ROBIN = "round_robin"  # the next available agent after the last one picked
    LEAST_LOADED = "least_loaded"  # the available agent with the fewest open tickets
