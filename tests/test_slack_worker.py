"""The Slack worker process: it does the slow half of Slack requests, comes back when killed, drains on stop, counts in /metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import App
from bot.metrics import counted_since, counter_totals
from tests.conftest import ROOT
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender
from tests.served import free_port
from tests.test_slack import CHEN, Bot, served_bot

UPDATES = ("checkins", (("source", "slack"),))
UPDATE_OK = ("commands", (("command", "update"), ("outcome", "ok")))


@pytest.fixture
def worker_bot(example: App) -> Iterator[Bot]:
    """The served bot with its Slack worker process, as `krbot run --http` has it."""
    with served_bot(example=example, worker=True) as served:
        yield served


def wait_until(*, check: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll `check()` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_the_slow_half_runs_in_the_worker_and_is_counted_in_this_process(worker_bot: Bot) -> None:
    before = counter_totals()
    answer = worker_bot.command(user=CHEN, text="update KR2 1.8%", trigger="w-1")
    assert "KR2" in answer["text"] and "1.8%" in answer["text"]
    assert [(c["code"], c["value"], c["person"]) for c in worker_bot.checkins()] == [("KR2", 1.8, "chen")]
    worker = worker_bot.platform.worker
    assert worker is not None and worker.alive() and worker.pid not in (None, os.getpid())
    assert not [t for t in threading.enumerate() if t.name.startswith("slack-lazy")], "a lazy listener ran in the web process"
    wait_until(check=lambda: counted_since(before=before, after=counter_totals()).get(UPDATES) == 1)
    assert counted_since(before=before, after=counter_totals()).get(UPDATE_OK) == 1


def test_a_killed_worker_is_replaced_at_once_and_answers_again(worker_bot: Bot) -> None:
    worker = worker_bot.platform.worker
    assert worker is not None
    worker_bot.command(user=CHEN, text="list", trigger="w-before")  # the worker is up and idle, waiting for jobs
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until(check=lambda: worker.pid != first and worker.alive())  # no request needed to bring it back
    assert worker.restarts == 1
    assert worker_bot.slack.client.get(worker_bot.served.url + "/healthz").status_code == 200
    answer = worker_bot.command(user=CHEN, text="update KR2 1.9%", trigger="w-again")
    assert "1.9%" in answer["text"]
    assert [c["value"] for c in worker_bot.checkins()] == [1.9]


def test_work_handed_to_a_worker_that_dies_is_done_by_the_next_one_and_stored_once(worker_bot: Bot) -> None:
    worker = worker_bot.platform.worker
    assert worker is not None
    worker_bot.command(user=CHEN, text="list", trigger="w-up")  # the worker is up
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGSTOP)  # it holds still: what is handed over now waits in its pipe
    sent = 6
    for n in range(sent):
        acked = worker_bot.slack.command(user_id=CHEN, text=f"update KR2 {1.5 + n / 10:.1f}%",
                                         response_url=worker_bot.fake.response_url(name=f"crash-{n}"), trigger_id=f"crash-{n}")
        assert acked.status_code == 200
    time.sleep(0.3)
    assert worker_bot.checkins() == [] and worker.pending == sent
    os.kill(first, signal.SIGKILL)
    wait_until(check=lambda: worker.pending == 0, timeout=30)
    assert worker.restarts == 1 and worker.pid != first
    assert sorted(c["value"] for c in worker_bot.checkins()) == [1.5, 1.6, 1.7, 1.8, 1.9, 2.0]
    assert sorted(c.args["name"] for c in worker_bot.fake.of("response_url") if c.args["name"].startswith("crash-")) == [
        f"crash-{n}" for n in range(sent)
    ]


def test_stopping_lets_the_worker_finish_everything_it_was_handed(worker_bot: Bot) -> None:
    sent = 12
    for n in range(sent):
        acked = worker_bot.slack.command(user_id=CHEN, text=f"update KR2 {1.5 + n / 10:.1f}%",
                                         response_url=worker_bot.fake.response_url(name=f"drain-{n}"), trigger_id=f"drain-{n}")
        assert acked.status_code == 200
    worker_bot.platform.stop()  # returns once the worker has finished
    assert worker_bot.platform.worker is not None and worker_bot.platform.worker.pending == 0
    assert len(worker_bot.checkins()) == sent
    assert sorted(c.args["name"] for c in worker_bot.fake.of("response_url")) == sorted(f"drain-{n}" for n in range(sent))


def _descendants(*, pid: int) -> set[int]:
    """The live processes under `pid`: its children, theirs, and so on (from /proc; zombies left out)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(*, pids: set[int]) -> set[int]:
    """Those of `pids` still running (not gone, not zombies)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_krbot_run_http_acks_in_the_web_process_and_answers_from_its_worker(example: App, db_url: str) -> None:
    """The CLI's wiring: one child process does the answering; /metrics in the web process counts what it did."""
    fake = FakeSlack().start()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "FEISHU_", "KRBOT_"))}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url,
               PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--http", "--port", str(port), "--db", db_url],
                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode() if server.stdout else ""
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        helpers = _descendants(pid=server.pid)
        assert helpers, "no worker process under krbot run --http"
        sender = SlackSender(url=url)
        acked = sender.command(user_id=CHEN, text="list", response_url=fake.response_url(name="cli"), trigger_id="cli-1")
        assert acked.status_code == 200 and acked.text == ""
        answered = fake.wait_for("response_url", timeout=20)
        assert "KR2" in answered[0].args["text"]
        wait_until(check=lambda: 'krbot_commands_total{command="listkrs",outcome="ok"} 1.0' in httpx.get(url + "/metrics").text)
        sender.client.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=40)
        fake.stop()
    assert server.returncode == 0  # SIGTERM (`docker stop`) ends it cleanly, the worker with it
    wait_until(check=lambda: not _running(pids=helpers))  # the worker went with it
