"""The Slack worker: a second process that does the slow half of each Slack request, so the web process only acks.

In HTTP mode Bolt acks in the web process and hands every lazy listener (store the check-in, open the
modal, answer on response_url) to this worker, the way Bolt's AWS Lambda adapter re-invokes itself for
lazy work: the request as Slack sent it plus the lazy function's name. The worker runs the same Bolt app
on the same database, so its answers are the ones the web process would have given.

Each job stays pending in the web process until the worker says it is done. When the worker dies, a new
one starts at once and gets every pending job again (at most MAX_ATTEMPTS times; check-ins are keyed by
their Slack ids, so a job run twice stores once). What the worker counts is added to the web process's
/metrics. Pipes, not multiprocessing queues: a queue's lock stays taken when its reader is killed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.lazy_listener import LazyListenerRunner

from bot.metrics import add_counts, counted_since, counter_totals

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

WORKER_THREADS = 4  # lazy listeners the worker runs at once
WORKER_NICENESS = 10  # added to the worker's nice value: the slow half can wait a few milliseconds, the ack cannot
MAX_ATTEMPTS = 3  # a job whose worker died this many times with it is given up (and logged)
STOP_PATIENCE = 30.0  # seconds the worker may take to finish what it was handed when krbot stops
PRELOAD = ["bot.app", "bot.platforms.slack"]  # what the forkserver imports before it forks workers
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


@dataclass
class _Pending:
    """A job the worker has not finished yet, and how many workers were handed it."""

    job: Job
    attempts: int = 0


@dataclass
class _Generation:
    """One worker process, the pipe its jobs go down, the pipe its answers come up, and the thread that writes jobs."""

    process: Any
    jobs: Connection
    results: Connection
    outbox: queue.SimpleQueue[int | None] = field(default_factory=queue.SimpleQueue)
    reader: threading.Thread | None = None


class WorkerRunner(LazyListenerRunner):
    """Bolt's lazy-listener runner in the web process: each lazy listener becomes a job for the worker process."""

    def __init__(self, *, spec: WorkerSpec, logger: logging.Logger) -> None:
        """A runner for `spec`'s worker; the process starts with launch() or the first job."""
        self.logger = logger
        self._spec = spec
        self._mp = multiprocessing.get_context("forkserver")  # forked from a clean, single-threaded server process
        self._mp.set_forkserver_preload(PRELOAD)  # ...which imported krbot once, so a new worker is up in milliseconds
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._numbers = count(1)
        self._current: _Generation | None = None
        self._stopping = False
        self.restarts = 0

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        """Bolt's hook: hand one lazy listener to the worker (starting it if it is not running)."""
        context = {key: value for key, value in request.context.items() if key not in BoltContext.standard_property_names}
        body = request.raw_body if isinstance(request.raw_body, str) else str(request.raw_body)
        job = Job(body=body, headers=dict(request.headers), context=context, function=request.lazy_function_name or "")
        with self._lock:
            number = next(self._numbers)
            self._pending[number] = _Pending(job=job)
            generation = self._current or self._launch()
            generation.outbox.put(number)

    def launch(self) -> None:
        """Start the worker process now (before the first request), unless it runs already."""
        with self._lock:
            self._stopping = False
            if self._current is None:
                self._launch()

    def alive(self) -> bool:
        """True while a worker process runs."""
        current = self._current
        return current is not None and current.process.is_alive()

    @property
    def pid(self) -> int | None:
        """The current worker's process id, once started."""
        current = self._current
        return None if current is None else int(current.process.pid)

    @property
    def pending(self) -> int:
        """Jobs handed over and not finished yet."""
        with self._lock:
            return len(self._pending)

    def shutdown(self, *, patience: float = STOP_PATIENCE) -> None:
        """Let the worker finish every job it was handed (up to `patience` seconds), then stop it."""
        with self._lock:
            self._stopping = True
            current, self._current = self._current, None
        if current is None:
            return
        current.outbox.put(None)
        current.process.join(timeout=patience)
        if current.process.is_alive():
            log.error("slack worker still busy after %.0f s; stopping it", patience)
            current.process.terminate()
            current.process.join(timeout=5)
        if current.reader is not None:
            current.reader.join(timeout=5)  # the last answers read before counting what is left
        with self._lock:
            if self._pending:
                log.error("slack worker stopped with %d job(s) unfinished", len(self._pending))
                self._pending.clear()

    # ------------------------------------------------------------ inside the web process

    def _launch(self) -> _Generation:
        """Start a worker process with its two pipes and threads (the lock is held)."""
        jobs_out, jobs_in = self._mp.Pipe(duplex=False)
        results_out, results_in = self._mp.Pipe(duplex=False)
        process = self._mp.Process(
            target=work, kwargs={"spec": self._spec, "jobs": jobs_out, "results": results_in},
            name="krbot-slack-worker", daemon=True,
        )
        process.start()
        jobs_out.close()  # the worker's ends: closed here, so either side sees the other go
        results_in.close()
        generation = _Generation(process=process, jobs=jobs_in, results=results_out)
        threading.Thread(target=self._write, args=(generation,), name="slack-worker-jobs", daemon=True).start()
        generation.reader = threading.Thread(target=self._read, args=(generation,), name="slack-worker-results", daemon=True)
        generation.reader.start()
        self._current = generation
        return generation

    def _write(self, generation: _Generation) -> None:
        """Send each job handed to this generation down its pipe; None sends the stop."""
        while (number := generation.outbox.get()) is not None:
            with self._lock:
                pending = self._pending.get(number)
                if pending is None:
                    continue  # done already (a re-send after the worker finished it)
                pending.attempts += 1
            try:
                generation.jobs.send((number, pending.job))
            except (OSError, ValueError):
                return  # the worker is gone: _read starts the next one, which gets every pending job
            except Exception:  # noqa: BLE001 - a job that cannot be pickled is logged and dropped, not retried
                log.exception("slack job %s could not be handed to the worker", number)
                with self._lock:
                    self._pending.pop(number, None)
        with contextlib.suppress(OSError, ValueError):
            generation.jobs.send(None)
        generation.jobs.close()

    def _read(self, generation: _Generation) -> None:
        """Take the worker's answers (a job done, what it counted); when it dies, start the next and re-send."""
        while True:
            try:
                number, counts = generation.results.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                self._pending.pop(number, None)
            if counts:
                add_counts(counts=counts)
        generation.results.close()
        generation.process.join(timeout=5)
        generation.outbox.put(None)  # ends this generation's writer
        with self._lock:
            if self._stopping or self._current is not generation:
                return
            self.restarts += 1
            log.error("slack worker exited with %s; starting a new one", generation.process.exitcode)
            for number, pending in sorted(self._pending.items()):
                if pending.attempts >= MAX_ATTEMPTS:
                    log.error("slack job %s given up after %d workers died with it", number, pending.attempts)
                    del self._pending[number]
            successor = self._launch()
            for number in sorted(self._pending):
                successor.outbox.put(number)


def work(*, spec: WorkerSpec, jobs: Connection, results: Connection) -> None:
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

    def run(number: int, job: Job) -> None:
        nonlocal reported
        try:
            platform.app.dispatch(job.request())  # Bolt logs a listener's failure itself
        finally:
            with lock:
                now = counter_totals()
                counted, reported = counted_since(before=reported, after=now), now
                results.send((number, counted))

    with ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="slack-worker") as pool:
        while True:
            try:
                message = jobs.recv()
            except EOFError:
                break  # the web process is gone: finish what was taken, then exit
            if message is None:
                break
            pool.submit(run, *message)
    results.close()
