"""The Slack worker: a second process that does the slow half of each Slack request, so the web process only acks.

In HTTP mode Bolt acks in the web process and hands every lazy listener (store the check-in, open the
modal, answer on response_url) to this worker, the way Bolt's AWS Lambda adapter re-invokes itself for
lazy work: the request as Slack sent it plus the lazy function's name. The worker runs the same Bolt app
on the same database, so its answers are the ones the web process would have given; its counters are
added to the web process's /metrics.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.lazy_listener import LazyListenerRunner

from bot.metrics import add_counts, counted_since, counter_totals

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

WORKER_THREADS = 4  # lazy listeners the worker runs at once
STOP_PATIENCE = 30.0  # seconds the worker may take to finish what it was handed when krbot stops
WORKER_NICENESS = 10  # added to the worker's nice value: the slow half can wait a few milliseconds, the ack cannot
LAZY_ONLY = "x-slack-bolt-lazy-only"
LAZY_FUNCTION = "x-slack-bolt-lazy-function-name"


@dataclass(frozen=True, slots=True)
class Job:
    """One lazy listener to run: the request as Slack sent it, what the ack left in its context, and the function's name."""

    body: str
    headers: dict[str, Any]
    context: dict[str, Any]
    function: str

    def request(self) -> BoltRequest:
        """The request again, marked (as Bolt's Lambda adapter marks it) to run only this lazy function."""
        headers = {**self.headers, LAZY_ONLY: ["1"], LAZY_FUNCTION: [self.function]}
        return BoltRequest(body=self.body, headers=headers, context=dict(self.context), mode="http")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What the worker process needs to build the same Slack app: settings, database and clock (picklable)."""

    settings: Settings
    database_url: str
    clock: Callable[[], datetime] | None


class WorkerRunner(LazyListenerRunner):
    """Bolt's lazy-listener runner in the web process: each lazy listener becomes a Job on the worker's queue."""

    def __init__(self, *, spec: WorkerSpec, logger: logging.Logger) -> None:
        """A runner for `spec`'s worker; the process starts with launch() or the first job."""
        self.logger = logger
        self._spec = spec
        self._mp = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or sockets inherited
        self._jobs: Any = None
        self._counts: Any = None
        self._process: Any = None
        self._relay: threading.Thread | None = None
        self._lock = threading.Lock()
        self.restarts = 0

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        """Bolt's hook: queue one lazy listener for the worker (and bring the worker up if it is not)."""
        self.launch()
        context = {key: value for key, value in request.context.items() if key not in BoltContext.standard_property_names}
        body = request.raw_body if isinstance(request.raw_body, str) else str(request.raw_body)
        self._jobs.put(Job(body=body, headers=dict(request.headers), context=context, function=request.lazy_function_name or ""))

    def launch(self) -> None:
        """Start the worker process, or start it again if it died (what it had taken is lost; what is queued is kept)."""
        if self._process is not None and self._process.is_alive():
            return
        with self._lock:
            if self._process is not None and self._process.is_alive():
                return
            if self._jobs is None:
                self._jobs, self._counts = self._mp.Queue(), self._mp.Queue()
            if self._process is not None:
                self.restarts += 1
                log.error("slack worker exited with %s; starting a new one", self._process.exitcode)
            self._process = self._mp.Process(
                target=work, kwargs={"spec": self._spec, "jobs": self._jobs, "counts": self._counts},
                name="krbot-slack-worker", daemon=True,
            )
            self._process.start()
            if self._relay is None:
                self._relay = threading.Thread(target=self._add_counts, name="slack-worker-counts", daemon=True)
                self._relay.start()

    def alive(self) -> bool:
        """True while the worker process runs."""
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The worker's process id, once started."""
        return None if self._process is None else int(self._process.pid)

    def shutdown(self, *, patience: float = STOP_PATIENCE) -> None:
        """Let the worker finish what it was handed (up to `patience` seconds), then stop it and the counts relay."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            self._jobs.put(None)
            process.join(timeout=patience)
            if process.is_alive():
                log.error("slack worker still busy after %.0f s; stopping it", patience)
                process.terminate()
                process.join(timeout=5)
        if self._relay is not None:
            self._counts.put(None)
            self._relay.join(timeout=5)
            self._relay = None
        for queue in (self._jobs, self._counts):
            if queue is not None:
                queue.close()
                queue.join_thread()
        self._jobs = self._counts = None  # their locks are released now, not left to the interpreter's exit

    def _add_counts(self) -> None:
        """Add what the worker counted (check-ins, commands, API errors) to this process's counters."""
        for counts in iter(self._counts.get, None):
            add_counts(counts=counts)


def work(*, spec: WorkerSpec, jobs: Any, counts: Any) -> None:
    """The worker process: the same Slack app on the same database, running each job handed over, until told to stop."""
    from bot.app import build_app
    from bot.logs import configure_logging
    from bot.platforms.slack import SlackPlatform

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the web process decides when to stop
    os.nice(WORKER_NICENESS)  # when CPU is short, acks (in the web process) go first
    settings = spec.settings
    configure_logging(fmt=settings.log_format, level=settings.log_level, secrets=settings.secrets())
    app = build_app(database_url=spec.database_url, migrate=False, settings=settings)
    platform = SlackPlatform(settings=settings, uow=app.uow, http=True, clock=spec.clock, verify=False)
    reported = counter_totals()
    lock = threading.Lock()

    def run(job: Job) -> None:
        nonlocal reported
        try:
            platform.app.dispatch(job.request())  # Bolt logs a listener's failure itself
        finally:
            with lock:
                now = counter_totals()
                counted, reported = counted_since(before=reported, after=now), now
            if counted:
                counts.put(counted)

    _stop_with_parent(jobs=jobs)
    with ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="slack-worker") as pool:
        for job in iter(jobs.get, None):
            pool.submit(run, job)
    counts.close()
    counts.join_thread()


def _stop_with_parent(*, jobs: Any) -> None:
    """Finish and exit if the web process dies without saying stop (no orphaned worker)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        jobs.put(None)

    threading.Thread(target=watch, name="slack-worker-parent", daemon=True).start()
