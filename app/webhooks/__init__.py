"""Outbound webhooks (signed event deliveries to subscribers) and inbound webhook sources."""
