"""Flows: the cross-domain sequences of a ticket's life (open it, answer it, change its status,
assign it, close it by itself), and the only place that calls several domains.

Adapters (Slack, the REST API, inbound webhooks, the scheduler's handlers) call a flow or a
single domain's service; domains (sla, csat, webhooks, home, team, directory, ...) never call a
flow. The import contract in pyproject.toml keeps it so.
"""
