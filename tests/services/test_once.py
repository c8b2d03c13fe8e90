"""CONTRACT §8: every change is made once — decisions, goal changes, tasks — whoever races it, however often."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import services
from bot.app import App
from storage.models import AskRow, GoalChangeRow, TaskRow
from tests.fakes.okr_helpers import LATER, count, exported, new_ask, say

TRIALS = 10


# ---------------------------------------------------------------- every change once: the decision race


def race(*actions: Callable[[], services.Reply]) -> list[services.Reply]:
    """Run the actions in threads released at the same moment; their replies in order."""
    barrier = threading.Barrier(len(actions))
    replies: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int, action: Callable[[], services.Reply]) -> None:
        barrier.wait()
        try:
            replies[index] = action()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return replies


def decide(app: App, person: str, ask_id: int, approve: bool) -> Callable[[], services.Reply]:
    """One click on Approve or Decline."""
    return lambda: services.decide_ask(uow=app.uow, person=person, ask_id=ask_id, approve=approve, at=LATER)


@pytest.mark.parametrize("same", [False, True], ids=["approve-vs-decline", "both-approve"])
def test_two_decisions_at_once_one_wins_the_asker_hears_once_the_loser_is_told(example: App, same: bool) -> None:
    """Boss Approve against admin Decline (or both Approve), 10 times over: one decision stored, one notice."""
    names = {"boss": "王总", "lin": "林雪"}
    for _ in range(TRIALS):
        ask_id = new_ask(example)
        replies = race(decide(example, "boss", ask_id, True), decide(example, "lin", ask_id, same))
        won = [r for r in replies if r.key == "ask.decided"]
        lost = [r for r in replies if r.key == "ask.already"]
        assert (len(won), len(lost)) == (1, 1), [r.key for r in replies]
        assert sum(len(r.notices) for r in replies) == 1  # the asker is told once
        stored = next(a for a in exported(example)["asks"] if a["id"] == ask_id)
        assert stored["status"] == won[0].params["status"] == lost[0].params["status"]
        assert lost[0].params["by"] == won[0].params["by"] in names.values()
        with example.uow.begin() as session:
            assert names[session.get(AskRow, ask_id).decided_by] == won[0].params["by"]


def test_the_loser_is_told_who_decided_in_both_languages(example: App) -> None:
    """"already approved by 王总": the zh and en words name the decision and the decider."""
    from bot.render import render_reply

    ask_id = new_ask(example)
    services.decide_ask(uow=example.uow, person="boss", ask_id=ask_id, approve=True, at=LATER)
    late = services.decide_ask(uow=example.uow, person="lin", ask_id=ask_id, approve=False, at=LATER)
    assert late.key == "ask.already" and not late.notices
    assert "王总" in render_reply(reply=late) and "批准" in render_reply(reply=late)
    english = services.Reply(key=late.key, lang="en", params=late.params)
    assert "already approved by 王总" in render_reply(reply=english)


def test_a_replayed_decision_changes_and_answers_once(example: App) -> None:
    """The same click delivered twice (same platform id): one decision, the replay answered as a repeat, no notice."""
    ask_id = new_ask(example)
    first = services.decide_ask(uow=example.uow, person="boss", ask_id=ask_id, approve=True, at=LATER,
                                event_key="slack:action:1790000000.000001")
    replay = services.decide_ask(uow=example.uow, person="boss", ask_id=ask_id, approve=True, at=LATER,
                                 event_key="slack:action:1790000000.000001")
    assert first.key == "ask.decided" and len(first.notices) == 1
    assert replay.key == "request.repeat" and not replay.notices


# ---------------------------------------------------------------- goal changes and tasks, once


def test_a_replayed_goal_change_is_logged_once_and_tells_once(example: App) -> None:
    """`/kr change` delivered twice with the same platform id: one logged change, the second answered as a repeat."""
    line = "/kr change KR2 target=2.2% reason: 旺季"
    first = say(example, "lin", line, event_key="command:trigger-1")
    replay = say(example, "lin", line, event_key="command:trigger-1")
    assert first.key == "change.saved" and first.notices
    assert replay.key == "request.repeat" and not replay.notices
    assert count(example, GoalChangeRow) == 1
    other = say(example, "lin", "/kr change KR2 target=2.3% reason: 更旺", event_key="command:trigger-2")
    assert other.key == "change.saved" and count(example, GoalChangeRow) == 2


def test_replays_racing_each_other_change_once(example: App) -> None:
    """Three deliveries of one `/kr change` at the same moment: one change logged, one saved answer."""
    line = "/kr change KR2 target=2.2% reason: 旺季"
    replies = race(*[lambda: say(example, "lin", line, event_key="command:trigger-race")] * 3)
    assert sorted(r.key for r in replies) == ["change.saved", "request.repeat", "request.repeat"]
    assert count(example, GoalChangeRow) == 1


def test_two_goal_changes_at_once_never_log_a_stale_old_value(example: App) -> None:
    """Two admins change KR2's target at the same moment, 10 times: the log is a chain, each old the previous new."""
    for trial in range(TRIALS):
        a, b = f"{2.1 + trial / 100:.2f}%", f"{2.6 + trial / 100:.2f}%"
        replies = race(
            lambda a=a: say(example, "lin", f"/kr change KR2 target={a} reason: 甲"),
            lambda b=b: say(example, "lin", f"/kr change KR2 target={b} reason: 乙"),
        )
        assert {r.key for r in replies} <= {"change.saved", "change.conflict"}, [r.key for r in replies]
        assert sum(len(r.notices) > 0 for r in replies) == sum(r.key == "change.saved" for r in replies)
    changes = [c for c in exported(example)["changes"] if c["field"] == "target"]
    saved = [c for c in changes if c["person"] == "lin"]
    olds = [c["old"] for c in saved]
    news = [c["new"] for c in saved]
    assert olds[0] == "2" and olds[1:] == news[:-1], list(zip(olds, news, strict=True))
    assert len(olds) == len(set(olds))


def test_a_task_is_marked_done_once(example: App) -> None:
    """`/kr done` twice, and twice at the same moment: one "done", the others "already done"."""
    first = say(example, "sun", "/kr done KR3 工厂排产完成")
    again = say(example, "sun", "/kr done KR3 工厂排产完成")
    assert first.key == "task.done" and again.key == "task.already_done" and not again.ok
    replies = race(*[lambda: say(example, "sun", "/kr done KR3 海运到港并清关")] * 2)
    assert sorted(r.key for r in replies) == ["task.already_done", "task.done"]
    with example.uow.begin() as session:
        assert session.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.done.is_(True))) == 2
