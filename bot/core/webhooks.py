"""Outbound webhooks as data: who is told of an event, each event's body, and its signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.core import model

KIND = "webhook"  # the ledger's kind of a webhook delivery
SIGNATURE = "X-Krbot-Signature"
TIMESTAMP = "X-Krbot-Timestamp"
DELIVERY = "X-Krbot-Delivery"
EVENT = "X-Krbot-Event"


def target_of(*, url: str) -> str:
    """The ledger's target of a receiver: its URL's SHA-1, shortened (URLs may be longer than the column)."""
    return "webhook:" + hashlib.sha1(url.encode()).hexdigest()[:12]  # noqa: S324 - a name, not a secret


def subscribers(*, webhooks: Iterable[model.Webhook], event: model.WebhookEvent) -> list[model.Webhook]:
    """The webhooks told of `event`, each receiver once."""
    seen: dict[str, model.Webhook] = {}
    for hook in webhooks:
        if event in hook.events:
            seen.setdefault(hook.url, hook)
    return list(seen.values())


def envelope(*, delivery: str, event: model.WebhookEvent, workspace: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of one delivery: its id (the same on every retry), the event, the workspace, when, and what."""
    return {"id": delivery, "event": event.value, "workspace": workspace, "at": at.isoformat(), "data": data}


def body_bytes(*, body: dict[str, Any]) -> bytes:
    """The body as sent: compact UTF-8 JSON (the bytes the signature covers)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body), the X-Krbot-Signature header (§9)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def checkin_data(*, checkin: model.Checkin, okrs: model.Okrs, checkin_id: int | None, source: str) -> dict[str, Any]:
    """A stored check-in: code, person, values with their measure units, the owner's words, where it came from."""
    target = okrs.owner_of(code=checkin.code)
    units = {m.name: m.unit for m in target.measures} if target is not None else {}
    return {
        "checkin": checkin_id,
        "code": checkin.code,
        "person": checkin.person,
        "at": checkin.at.isoformat(),
        "values": {name: {"value": value, "unit": units.get(name)} for name, value in checkin.values.items()},
        "note": checkin.note,
        "next": checkin.next_step,
        "risk": checkin.risk,
        "confidence": checkin.confidence,
        "source": source,
    }


def ask_data(*, ask: model.Ask, decision: str, who: str, at: datetime) -> dict[str, Any]:
    """A decided ask: which, for what, how much, the decision and who made it."""
    return {
        "ask": ask.id,
        "code": ask.code,
        "person": ask.person,
        "kind": ask.kind.value,
        "text": ask.text,
        "amount": ask.amount,
        "unit": ask.unit,
        "decision": decision,
        "who": who,
        "at": at.isoformat(),
    }


def change_data(*, change: model.GoalChange) -> dict[str, Any]:
    """A logged goal change: which field of which measure, old and new, why and who."""
    return {
        "code": change.code,
        "measure": change.measure,
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "reason": change.reason,
        "who": change.person,
        "at": change.at.isoformat(),
    }


def digest_data(*, period: str, channel: str, objectives: Iterable[Any]) -> dict[str, Any]:
    """A posted digest: its period, the channel, and each objective's completion, forecast and status."""
    return {
        "period": period,
        "channel": channel,
        "channels": [channel],
        "summary": [
            {
                "code": o.code,
                "title": o.title,
                "completion": o.completion,
                "forecast": o.forecast_completion,
                "status": o.status.value,
            }
            for o in objectives
        ],
    }
