"""A webhook delivery is tried by one process at a time: its claim's lease outlives the longest try of a drain, and
is renewed while a try is in flight, so a receiver slower than the lease never gets it from a second drainer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.core.webhooks import KIND
from bot.outbox import Message
from bot.webhook_post import TIMEOUT, WAIT_CAP
from bot.webhooks import IN_DRAIN, LEASE, LONGEST_CLAIM, TRIES_IN_DRAIN, Drainer
from storage import ledger
from tests.fakes.okr_helpers import say
from tests.fakes.webhook_receiver import Receiver, quiet, webhook_rows

SHORT = timedelta(seconds=1)  # a lease the receiver below outlasts three times over


def test_the_lease_outlives_the_longest_try_of_a_drain() -> None:
    """A drain tries a delivery at most twice (once more after a Retry-After waited out), each try bounded by its
    deadline after its turn at the gate: the lease is twice all of that together."""
    assert TRIES_IN_DRAIN == IN_DRAIN.tries + IN_DRAIN.rate_limited_waits == 2
    longest = TRIES_IN_DRAIN * (TIMEOUT + WAIT_CAP) + IN_DRAIN.rate_limited_waits * WAIT_CAP
    assert LONGEST_CLAIM > longest and LEASE.total_seconds() >= 2 * LONGEST_CLAIM
    assert LEASE > timedelta(seconds=TIMEOUT) * 4
    assert Drainer(uow=None).lease == LEASE  # type: ignore[arg-type]


def test_a_receiver_slower_than_the_lease_never_gets_it_from_a_second_drainer(hooked: App, receiver: Receiver) -> None:
    receiver.delay = 3.5  # answers after three and a half leases
    writer = quiet(hooked)
    assert say(writer, "chen", "/kr update KR2 1.7%").ok
    first, second = Drainer(uow=quiet(hooked).uow, lease=SHORT), Drainer(uow=quiet(hooked).uow, lease=SHORT)
    firsts: list[Counter[str]] = []
    thread = threading.Thread(target=lambda: firsts.append(first.drain()))
    thread.start()
    end = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < end:
        time.sleep(0.01)
    assert len(receiver.requests) == 1, "the first drainer never reached the receiver"
    seconds: Counter[str] = Counter()
    while thread.is_alive():  # the second drainer tries all along the slow answer, well past the lease
        seconds.update(second.drain())
        time.sleep(0.1)
    thread.join()
    assert firsts == [Counter({"sent": 1})] and seconds["sent"] == 0, (firsts, seconds)
    assert len(receiver.requests) == 1
    [row] = webhook_rows(hooked)
    assert (row.status, row.attempts) == ("sent", 1)

    # The control: a claim nobody renews (its process died) is taken over by that same second drainer after the lease.
    receiver.delay = 0.0
    assert say(writer, "chen", "/kr update KR2 1.8%").ok
    [queued] = webhook_rows(hooked, "queued")
    item = Message(workspace_id=queued.workspace_id, kind=KIND, target=queued.target, period=queued.period,
                   slot=datetime.now(UTC))
    assert ledger.claim(uow=hooked.uow, item=item, worker="a-dead-process", now=datetime.now(UTC) - 2 * SHORT,
                        lease=SHORT) is not None
    assert second.drain()["sent"] == 1
    assert [body["id"] for body in receiver.delivered()] == [row.period, queued.period]
