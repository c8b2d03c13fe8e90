"""How many platform requests run their database work at once: one lane on SQLite (one writer), several elsewhere.

On SQLite every check-in queues on the one write lock; twenty request threads taking turns on Python's GIL stretch
each lock holder's turn twentyfold, and the last in line waits for all. One lane, first come first served, runs each
request at full speed in arrival order: the same throughput, and the tail is the queue, not a convoy.

A lane is a thread of its own fed from a queue: it takes the next request as soon as it is done with one, without
waiting for the event loop to hand it over (the loop only reads requests in and writes answers out).

Every request's database work is due `REQUEST_SECONDS` after it came in, the wait for a lane included
(bot/services/deadlines.py): a request that finds its time spent when its lane comes is answered at once
("nothing was saved"), and one whose database stops answering is cut at its deadline, so Slack and Feishu get an
answer within their 3 s whatever the database does.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.services.deadlines import REQUEST_SECONDS, deadline

T = TypeVar("T")
SQLITE_LANES = 1
SERVER_LANES = 16  # PostgreSQL: row locks, network waits; enough to overlap them, few enough not to thrash the GIL


class Lanes:
    """A first-come-first-served pool of request threads for one database."""

    def __init__(self, *, dialect: str) -> None:
        default = SQLITE_LANES if dialect == "sqlite" else SERVER_LANES
        self.total = int(os.environ.get("KRBOT_REQUEST_LANES") or default)
        self._threads = ThreadPoolExecutor(max_workers=self.total, thread_name_prefix="krbot-lane")

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(*args)` in a lane once one is free, in the order the requests came; its database work is due
        `REQUEST_SECONDS` from now."""
        due = time.monotonic() + REQUEST_SECONDS
        return await asyncio.get_running_loop().run_in_executor(self._threads, _within, due, function, args)


def _within(due: float, function: Callable[..., T], args: tuple[object, ...]) -> T:
    """`function(*args)` with this thread's database work due at `due` (time.monotonic())."""
    with deadline(at=due):
        return function(*args)


_SHARED: weakref.WeakKeyDictionary[Any, Lanes] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def lanes_of(*, engine: Any) -> Lanes:
    """The lanes of one database, shared by every platform of the process (Slack and Feishu queue in one line)."""
    with _SHARED_LOCK:
        lanes = _SHARED.get(engine)
        if lanes is None:
            lanes = _SHARED[engine] = Lanes(dialect=engine.dialect.name)
        return lanes
