from enum import StrEnum


class Role(StrEnum):
    """What a team member may do. Leads triage and configure; agents answer and triage."""

    LEAD = "lead"
    AGENT = "agent"
