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
PLATFORM_ERRORS = Counter("krbot_platform_api_errors", "Chat platform API errors", ["platform"], registry=REGISTRY)
PLATFORM_RETRIES = Counter("krbot_platform_api_retries", "Chat platform API calls retried", ["platform"], registry=REGISTRY)
REQUEST_LATENCY = Histogram(
    "krbot_http_request_seconds", "HTTP request latency by route", ["route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
