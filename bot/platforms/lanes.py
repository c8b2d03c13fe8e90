"""How many platform requests run their database work at once: one lane on SQLite (one writer), several elsewhere.

On SQLite every check-in queues on the one write lock; twenty request threads taking turns on Python's GIL stretch
each lock holder's turn twentyfold, and the last in line waits for all. One lane, first come first served, runs each
request at full speed in arrival order: the same throughput, and the tail is the queue, not a convoy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")
SQLITE_LANES = 1
SERVER_LANES = 16  # PostgreSQL: row locks, network waits; enough to overlap them, few enough not to thrash the GIL


class Lanes:
    """A first-come-first-served limit on request threads for one database, made on the first request (in the loop)."""

    def __init__(self, *, dialect: str) -> None:
        default = SQLITE_LANES if dialect == "sqlite" else SERVER_LANES
        self.total = int(os.environ.get("KRBOT_REQUEST_LANES") or default)
        self._limiter: CapacityLimiter | None = None

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(*args)` in a worker thread once a lane is free."""
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.total)
        return await to_thread.run_sync(function, *args, limiter=self._limiter)
