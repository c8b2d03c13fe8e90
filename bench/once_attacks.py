"""Attacks on "every change once" and "people archived", counted: tried, and held (the promise kept).

Run from the repository root (any checkout; it uses the `bot` package found first on the path):

    .venv/bin/python bench/once_attacks.py [--trials 10] [--db sqlite|postgres|both]

On a fresh database per attack (a SQLite file, and a PostgreSQL schema at KRBOT_TEST_POSTGRES_URL) with the shared
example imported, it fires, through the services every edge calls and with real threads released by a barrier:
boss Approve against admin Decline, both Approve, two goal changes at once, the same request three times (a
decision, a goal change, a task done), and every command of a person removed from the OKR file. A trial holds when
exactly one decision is stored, the asker is told once, the loser is told who decided, the goal-change log is a
chain, a replay changes nothing twice, and the removed person is refused as unknown.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text

sys.path.insert(0, os.getcwd())

from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from storage.scratch import postgres_schema  # noqa: E402

EXAMPLE = Path("examples/q4-europe.zh.yaml")
POSTGRES_URL = os.environ.get("KRBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 16, 8, 0, tzinfo=UTC)


@contextlib.contextmanager
def database(kind: str) -> Iterator[Any]:
    """A wired app on a fresh database with the example imported."""
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/krbot.db"
        else:
            url = stack.enter_context(postgres_schema(url=POSTGRES_URL, prefix="bench"))
        app = build_app(database_url=url)
        services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), at=AT)
        try:
            yield app
        finally:
            app.uow.engine.dispose()


def race(*actions: Callable[[], Any]) -> list[Any]:
    """The actions' results (or exceptions), run in threads released together."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except Exception as error:  # noqa: BLE001 - an exception is an outcome here
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def keyed(function: Callable[..., Any], key: str, **kwargs: Any) -> Any:
    """Call with the request's platform key where the function takes one."""
    if "event_key" in inspect.signature(function).parameters:
        kwargs["event_key"] = key
    return function(**kwargs)


def say(app: Any, person: str, line: str, at: datetime = AT, **extra: Any) -> Any:
    """A chat command through the path every edge uses."""
    return services.run_command(uow=app.uow, person=person, text=line, at=at, **extra)


def new_ask(app: Any, n: int) -> int:
    """chen asks; the ask's id."""
    services.run_command(uow=app.uow, person="chen", text=f"/kr update KR2 1.7% 需求：追加{5000 + n}欧预算", at=AT)
    return max(a["id"] for a in services.export_all(uow=app.uow, at=LATER)["asks"])


def decision_race(app: Any, trials: int, same: bool) -> int:
    """Trials where one decision won, the asker was told once and the loser told who decided."""
    held = 0
    for n in range(trials):
        ask_id = new_ask(app, n)
        replies = race(
            lambda ask_id=ask_id: services.decide_ask(uow=app.uow, person="boss", ask_id=ask_id, approve=True, at=LATER),
            lambda ask_id=ask_id: services.decide_ask(uow=app.uow, person="lin", ask_id=ask_id, approve=same, at=LATER),
        )
        keys = sorted(getattr(r, "key", repr(r)) for r in replies)
        told = sum(len(getattr(r, "notices", ())) for r in replies)
        loser = next((r for r in replies if getattr(r, "key", "") == "ask.already"), None)
        names = loser is not None and loser.params.get("by") in ("王总", "林雪")
        held += keys == ["ask.already", "ask.decided"] and told == 1 and names
    return held


def goal_race(app: Any, trials: int) -> int:
    """Trials after which the goal-change log is still a chain (each old value the previous new one)."""
    held = 0
    for n in range(trials):
        before = [c for c in services.export_all(uow=app.uow, at=LATER)["changes"] if c["field"] == "target"]
        race(
            lambda n=n: say(app, "lin", f"/kr change KR2 target={2.1 + n / 100:.2f}% reason: a"),
            lambda n=n: say(app, "lin", f"/kr change KR2 target={2.6 + n / 100:.2f}% reason: b"),
        )
        changes = [c for c in services.export_all(uow=app.uow, at=LATER)["changes"] if c["field"] == "target"]
        chain = [c["old"] for c in changes[len(before):]]
        previous = [before[-1]["new"] if before else "2"] + [c["new"] for c in changes[len(before):]][:-1]
        held += chain == previous
    return held


def replays(app: Any, trials: int) -> dict[str, int]:
    """Held replays (three deliveries of one request, the platform key the same) per kind of change."""
    held = {"decision": 0, "goal change": 0, "task done": 0}
    for n in range(trials):
        ask_id = new_ask(app, 100 + n)
        replies = race(*[lambda n=n, ask_id=ask_id: keyed(services.decide_ask, f"k-ask-{n}", uow=app.uow, person="boss",
                                                          ask_id=ask_id, approve=True, at=LATER)] * 3)
        held["decision"] += sum(len(getattr(r, "notices", ())) for r in replies) == 1
        count = len(services.export_all(uow=app.uow, at=LATER)["changes"])
        race(*[lambda n=n: say(app, "lin", f"/kr change KR2 target={3 + n / 100:.2f}% reason: r", event_key=f"k-goal-{n}")] * 3)
        held["goal change"] += len(services.export_all(uow=app.uow, at=LATER)["changes"]) == count + 1
    for n in range(trials):  # the task set not done again by hand, then "done" three times at once
        with app.uow.begin() as session:
            session.execute(text("UPDATE tasks SET done = false"))
        replies = race(*[lambda n=n: say(app, "sun", "/kr done KR3 工厂排产完成", event_key=f"k-task-{n}")] * 3)
        held["task done"] += [getattr(r, "key", "") for r in replies].count("task.done") == 1
    return held


def without(person: str, heir: str) -> str:
    """The example file without one person, what they held handed to `heir`."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["people"] = [p for p in data["people"] if p["id"] != person]

    def hand(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: hand(v) for k, v in node.items()}
        if isinstance(node, list):
            return [hand(v) for v in node]
        return heir if node == person else node

    return yaml.safe_dump(hand(data), allow_unicode=True)


REMOVED_COMMANDS = (
    "/kr change KR2 target=2.2% reason: x", "/kr change O1 due=2026-12-20 reason: x", "/kr update O1 17.5万欧",
    "/kr list", "/kr status KR2", "/kr report", "/kr away 2026-12-20..2027-01-03", "/kr done KR3 1", "/kr paths",
    "/kr matrix", "/kr plan KR3", "/kr update",
)


def removed(app: Any) -> tuple[int, int]:
    """(tried, held): everything a removed admin and a removed boss try, refused as from a stranger."""
    ask_id = new_ask(app, 900)
    tried = held = 0
    for person, heir, chat in (("lin", "zhao", "U0LIN00001"), ("boss", "lin", "U0BOSS0001")):
        services.import_okrs(uow=app.uow, text=without(person, heir), filename="okrs.yaml", at=LATER)
        attempts: list[Callable[[], Any]] = [
            (lambda line=line, person=person: say(app, person, line, at=LATER)) for line in REMOVED_COMMANDS
        ]
        attempts += [
            lambda person=person: services.decide_ask(uow=app.uow, person=person, ask_id=ask_id, approve=True, at=LATER),
            lambda chat=chat: services.find_person(uow=app.uow, platform="slack", user_id=chat),
        ]
        for attempt in attempts:
            tried += 1
            try:
                outcome = attempt()
            except Exception as error:  # noqa: BLE001
                held += getattr(error, "key", "") == "person.unknown"
                continue
            held += outcome is None or getattr(outcome, "key", "") == "person.unknown"
        services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename="okrs.yaml", at=LATER)
    return tried, held


def main() -> None:
    """Print the table: attack, database, tried, held."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print(f"{'attack':<48} {'db':<9} tried  held")
    for kind in kinds:
        rows: list[tuple[str, int, int]] = []
        with database(kind) as app:
            rows.append(("boss Approve vs admin Decline at once", args.trials, decision_race(app, args.trials, False)))
        with database(kind) as app:
            rows.append(("boss and admin both Approve at once", args.trials, decision_race(app, args.trials, True)))
        with database(kind) as app:
            rows.append(("two goal changes at once (log stays a chain)", args.trials, goal_race(app, args.trials)))
        with database(kind) as app:
            for name, held in replays(app, args.trials).items():
                rows.append((f"{name} delivered 3× at once (same key)", args.trials, held))
        with database(kind) as app:
            tried, held = removed(app)
            rows.append(("removed admin / boss: commands, decide, chat id", tried, held))
        for name, tried, held in rows:
            print(f"{name:<48} {kind:<9} {tried:>5} {held:>5}")


if __name__ == "__main__":
    main()
