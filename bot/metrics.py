"""Prometheus metrics: what an operator watches — check-ins, commands, deliveries, platform errors, latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

CHECKINS = Counter("krbot_checkins_stored", "Check-ins stored", ["source"], registry=REGISTRY)
COMMANDS = Counter("krbot_commands", "Chat commands handled, by command and outcome", ["command", "outcome"], registry=REGISTRY)
DELIVERIES = Counter(
    "krbot_deliveries", "Scheduled messages (reminders, chasers, digests) by kind and result", ["kind", "status"],
    registry=REGISTRY,
)
SOURCE_PULLS = Counter("krbot_source_pulls", "Data-source pulls, by kind (sql, url) and outcome (ok, failed)", ["kind", "outcome"], registry=REGISTRY)
WEBHOOKS = Counter(
    "krbot_webhook_deliveries", "Outbound webhook tries by event and outcome (sent, retry: queued again, failed: given up)",
    ["event", "outcome"], registry=REGISTRY,
)
PLATFORM_ERRORS = Counter("krbot_platform_api_errors", "Chat platform API errors", ["platform"], registry=REGISTRY)
PLATFORM_RETRIES = Counter("krbot_platform_api_retries", "Chat platform API calls retried", ["platform"], registry=REGISTRY)
REQUEST_LATENCY = Histogram(
    "krbot_http_request_seconds", "HTTP request latency by route", ["route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

COUNTERS = {
    "checkins": CHECKINS, "commands": COMMANDS, "deliveries": DELIVERIES,
    "platform_errors": PLATFORM_ERRORS, "platform_retries": PLATFORM_RETRIES, "webhooks": WEBHOOKS,
}
Counts = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def counter_totals() -> Counts:
    """Every counter's value in this process, by (counter, labels): what the Slack worker reports to the web process."""
    totals: Counts = {}
    for name, counter in COUNTERS.items():
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    totals[(name, tuple(sorted(sample.labels.items())))] = sample.value
    return totals


def counted_since(*, before: Counts, after: Counts) -> Counts:
    """What was counted between two totals (only what changed)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)}


def add_counts(*, counts: Counts) -> None:
    """Add what another process counted to this process's counters, so one /metrics shows both."""
    for (name, labels), value in counts.items():
        COUNTERS[name].labels(**dict(labels)).inc(value)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
