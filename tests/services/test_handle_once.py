"""handle_once: a delivery's claim and what it stores are one transaction — both or neither — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from storage.models import ProcessedEventRow

AT = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)


def _update(app: App, text: str, key: str) -> services.Reply:
    return services.run_command(uow=app.uow, person="chen", text=text, at=AT, source="slack", event_key=key)


def _claimed(app: App) -> list[str]:
    with app.uow.begin() as session:
        return sorted(session.scalars(select(ProcessedEventRow.event_id)))


def _values(app: App) -> list[float]:
    return [c["value"] for c in services.export_all(uow=app.uow, at=AT)["checkins"]]


def test_stored_and_claimed_together_and_a_redelivery_runs_nothing(example: App) -> None:
    first = services.handle_once(uow=example.uow, platform="slack", event_ids=["e1"], at=AT,
                                 action=lambda: _update(example, "/kr update KR2 1.8%", "k1"))
    again = services.handle_once(uow=example.uow, platform="slack", event_ids=["e1"], at=AT,
                                 action=lambda: pytest.fail("a seen delivery must run nothing"))
    assert first.fresh and first.result is not None and first.result.ok
    assert not again.fresh and again.result is None
    assert _values(example) == [1.8] and _claimed(example) == ["e1"]


def test_a_failure_after_the_check_in_leaves_neither_so_the_retry_is_handled(example: App) -> None:
    def store_then_crash() -> None:
        _update(example, "/kr update KR2 1.7%", "k2")
        raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError):
        services.handle_once(uow=example.uow, platform="feishu", event_ids=["e2", "m2"], at=AT, action=store_then_crash)
    assert _values(example) == [] and _claimed(example) == []
    retry = services.handle_once(uow=example.uow, platform="feishu", event_ids=["e2", "m2"], at=AT,
                                 action=lambda: _update(example, "/kr update KR2 1.7%", "k2"))
    assert retry.fresh and _values(example) == [1.7] and _claimed(example) == ["e2", "m2"]


def test_a_refusal_keeps_nothing_it_began_but_the_delivery_is_claimed(example: App) -> None:
    refused = services.handle_once(uow=example.uow, platform="slack", event_ids=["e3"], at=AT,
                                   action=lambda: _update(example, "/kr update KR3 100件", "k3"))  # KR3 is not chen's
    assert refused.fresh and refused.result is not None and not refused.result.ok
    assert _values(example) == [] and _claimed(example) == ["e3"]


def test_two_deliveries_of_one_event_at_once_store_once(example: App) -> None:
    results: list[services.Once[services.Reply]] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(services.handle_once(uow=example.uow, platform="slack", event_ids=["e4"], at=AT,
                                            action=lambda: _update(example, "/kr update KR2 1.9%", "k4")))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.fresh for r in results) == [False, False, False, True]
    assert _values(example) == [1.9]


def test_old_claims_are_forgotten_now_and_then_and_a_recent_one_still_stops_a_repeat(example: App) -> None:
    """The sweep runs on one delivery in SWEEP_EVERY (not on each request); it forgets only claims past the memory."""
    from storage import events

    old = [f"old-{n}" for n in range(5)]
    assert services.claim_events(uow=example.uow, platform="slack", event_ids=old, at=AT)
    later = AT + services.EVENT_MEMORY / 2
    assert services.claim_event(uow=example.uow, platform="slack", event_id="recent", at=later)
    quiet = next(f"q{n}" for n in range(1000) if not events.sweeps(event_ids=[f"q{n}"]))
    sweeping = next(f"s{n}" for n in range(1000) if events.sweeps(event_ids=[f"s{n}"]))
    past_memory = AT + services.EVENT_MEMORY + (services.EVENT_MEMORY / 4)
    assert services.claim_event(uow=example.uow, platform="slack", event_id=quiet, at=past_memory)
    assert set(old) <= set(_claimed(example))  # a delivery that does not sweep leaves them
    assert services.claim_event(uow=example.uow, platform="slack", event_id=sweeping, at=past_memory)
    assert _claimed(example) == sorted(["recent", quiet, sweeping])  # past the memory: forgotten; the recent one kept
    assert not services.claim_event(uow=example.uow, platform="slack", event_id="recent", at=past_memory)
