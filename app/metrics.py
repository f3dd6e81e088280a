"""Prometheus metrics. Each app owns its registry, so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "ticketbot_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_request_seconds = Histogram(
            "ticketbot_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.slack_requests = Counter(
            "ticketbot_slack_requests_total",
            "Authenticated Slack requests, by type (event type, command, interaction type).",
            ["type"],
            registry=self.registry,
        )
        self.slack_duplicates = Counter(
            "ticketbot_slack_duplicate_events_total",
            "Slack events received again (retries) and skipped.",
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "ticketbot_outbox_messages",
            "Outbox rows by status (read from the database at scrape time).",
            ["status"],
            registry=self.registry,
        )
        self.outbox_oldest_pending_seconds = Gauge(
            "ticketbot_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered outbox row.",
            registry=self.registry,
        )
        self.outbox_deliveries = Counter(
            "ticketbot_outbox_delivery_attempts_total",
            "Outbox delivery attempts, by kind and outcome (delivered, retry, rejected).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.outbox_delivery_latency = Histogram(
            "ticketbot_outbox_delivery_latency_seconds",
            "From the outbox row's commit to its successful delivery.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.catch_up_recovered = Counter(
            "ticketbot_catch_up_recovered_total",
            "Messages Slack never delivered as events, read back by catch-up and taken in,"
            " by what they became (ticket: a new ticket; reply: part of an existing one).",
            ["kind"],
            registry=self.registry,
        )

    def observe_delivery(self, kind: str, outcome: str, latency_seconds: float | None) -> None:
        self.outbox_deliveries.labels(kind=kind, outcome=outcome).inc()
        if outcome == "delivered" and latency_seconds is not None:
            self.outbox_delivery_latency.labels(kind=kind).observe(max(latency_seconds, 0.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
