"""Outbound webhooks (§9) on SQLite and PostgreSQL: each event told once, signed, only when committed, retried."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from bot import services
from bot.app import App
from bot.webhooks import Drainer, install
from tests.fakes.okr_helpers import AT, LATER, new_ask, reimport, say
from tests.fakes.webhook_receiver import (
    QUICK,
    SECRET_ENV,
    Receiver,
    okr_file_with_webhooks,
    quiet,
    webhook_rows,
)


def _settle(app: App) -> None:
    """Wait for the drain each commit started in the background."""
    assert install(uow=app.uow).wait(timeout=15)


def test_checkins_decisions_and_goal_changes_are_each_told_once_and_signed(hooked: App, receiver: Receiver) -> None:
    """Chat, a CSV import, a decision, /kr change and a re-import each reach the receiver once, signed, with their data."""
    assert say(hooked, "chen", "/kr update KR2 新客转化率=1.7% ACOS=22% 备注：新品词起量 下一步：加预算 风险：竞品降价").ok
    ask_id = new_ask(hooked)
    assert services.decide_ask(uow=hooked.uow, person="boss", ask_id=ask_id, approve=True, at=AT).key == "ask.decided"
    again = services.decide_ask(uow=hooked.uow, person="lin", ask_id=ask_id, approve=False, at=AT)
    assert again.key == "ask.already"
    assert say(hooked, "lin", "/kr change KR2 target=2.2% reason: 竞品降价，提高目标").ok
    csv = "code,measure,value,person,at\nKR3,入欧备货,120万件,sun,2026-10-02T09:00\nKR2,ACOS,21%,chen,2026-10-02T10:00\n"
    assert services.import_checkins(uow=hooked.uow, text=csv, filename="h.csv", now=LATER)["checkins"] == 2
    reimport(hooked, okr_file_with_webhooks(urls=[receiver.url]).replace("target: 6000000", "target: 6500000"))
    bodies = receiver.wait_for(8)
    _settle(hooked)  # every drain the commits started has ended: a ninth request would be in already
    assert all(request.valid for request in receiver.requests)
    assert len(receiver.requests) == 8, [b["event"] for b in receiver.delivered()]
    by_event = Counter(body["event"] for body in bodies)
    assert by_event == {"checkin.saved": 4, "ask.decided": 1, "goal.changed": 3}
    assert len({body["id"] for body in bodies}) == 8
    assert all(body["workspace"] == "欧洲事业部" and body["at"] for body in bodies)
    typed = next(b["data"] for b in bodies if b["event"] == "checkin.saved" and b["data"]["note"])
    assert typed["code"] == "KR2" and typed["person"] == "chen"
    assert typed["values"] == {"新客转化率": {"value": 1.7, "unit": "%"}, "ACOS": {"value": 22.0, "unit": "%"}}
    assert (typed["note"], typed["next"], typed["risk"]) == ("新品词起量", "加预算", "竞品降价")
    imported = [b["data"] for b in bodies if b["event"] == "checkin.saved" and b["data"]["source"] == "import"]
    assert sorted((d["code"], d["values"]) for d in imported) == [
        ("KR2", {"ACOS": {"value": 21.0, "unit": "%"}}),
        ("KR3", {"入欧备货": {"value": 1_200_000.0, "unit": "件"}}),
    ]
    decided = next(b["data"] for b in bodies if b["event"] == "ask.decided")
    assert decided | {"at": None} == {
        "ask": ask_id, "code": "KR2", "person": "chen", "kind": "money", "text": decided["text"], "amount": 5000.0,
        "unit": "EUR", "decision": "approved", "who": "boss", "at": None,
    }
    changes = sorted((b["data"] for b in bodies if b["event"] == "goal.changed"), key=lambda d: (d["at"], d["code"]))
    assert [(c["code"], c["measure"], c["field"], c["old"], c["new"], c["who"], c["reason"]) for c in changes] == [
        ("KR2", "新客转化率", "target", "2", "2.2", "lin", "竞品降价，提高目标"),
        ("KR2", "新客转化率", "target", "2.2", "2", None, "import"),  # the file still says 2.0%
        ("KR3", "入欧备货", "target", "6000000", "6500000", None, "import"),
    ]
    assert [row.status for row in webhook_rows(hooked)] == ["sent"] * 8


def test_a_form_is_told_once_even_when_its_submission_comes_twice(hooked: App, receiver: Receiver) -> None:
    """A Slack/Feishu form (same submission delivered twice): one check-in, one checkin.saved; a refused form none."""
    form = {"person": "chen", "code": "KR2", "note": "表单", "next_step": None, "risk": None, "ask_text": None,
            "ask_kind": None, "ask_amount": None, "at": AT, "source": "slack", "event_key": "view-1"}
    for _ in range(2):
        services.record_form(uow=hooked.uow, values={"新客转化率": "1.8%"}, **form)
    reply, problems = services.record_form(uow=hooked.uow, values={"新客转化率": "很多"}, **form | {"event_key": "v2"})
    assert reply is None and problems
    [body] = receiver.wait_for(1)
    _settle(hooked)
    assert len(receiver.requests) == 1 and len(webhook_rows(hooked)) == 1
    assert body["data"]["source"] == "slack" and body["data"]["values"] == {"新客转化率": {"value": 1.8, "unit": "%"}}


def test_two_bosses_deciding_at_once_tell_one_decision(hooked: App, receiver: Receiver) -> None:
    """The boss and an admin click at the same moment on their own engines: one ask.decided, naming the winner."""
    ask_id = new_ask(hooked)
    receiver.wait_for(1)
    _settle(hooked)
    start = threading.Barrier(2)
    replies: dict[str, str] = {}

    def decide(person: str, approve: bool) -> None:
        writer = quiet(hooked)
        start.wait()
        replies[person] = services.decide_ask(uow=writer.uow, person=person, ask_id=ask_id, approve=approve, at=AT).key

    threads = [threading.Thread(target=decide, args=args) for args in (("boss", True), ("lin", False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(replies.values()) == ["ask.already", "ask.decided"]
    assert Drainer(uow=hooked.uow).drain()["sent"] == 1
    decided = [b["data"] for b in receiver.delivered() if b["event"] == "ask.decided"]
    winner = next(person for person, key in replies.items() if key == "ask.decided")
    assert len(decided) == 1 and decided[0]["who"] == winner
    assert decided[0]["decision"] == ("approved" if winner == "boss" else "declined")


def test_a_refused_checkin_sends_nothing(hooked: App, receiver: Receiver) -> None:
    """A value §6 refuses stores nothing, so nothing is queued and the receiver hears nothing."""
    reply = say(hooked, "chen", "/kr update KR2 新客转化率=abc%")
    assert not reply.ok
    assert Drainer(uow=hooked.uow).drain() == Counter()
    assert webhook_rows(hooked) == [] and receiver.requests == []


def test_a_receiver_failing_twice_gets_it_once_more_after_backoff(hooked: App, receiver: Receiver) -> None:
    """Two 500s, then 2xx: three tries of the same id, the third delivered, then never again."""
    receiver.fail_first = 2
    writer = quiet(hooked)
    drainer = Drainer(uow=writer.uow, schedule=QUICK)
    assert say(writer, "chen", "/kr update KR2 1.7%").ok
    outcomes: Counter[str] = Counter()
    end = time.monotonic() + 10
    while not receiver.delivered() and time.monotonic() < end:
        outcomes.update(drainer.drain())
        time.sleep(0.01)
    for _ in range(3):
        outcomes.update(drainer.drain())
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert len({r.body["id"] for r in receiver.requests}) == 1
    assert outcomes["retry"] == 2 and outcomes["sent"] == 1 and outcomes["failed"] == 0
    [row] = webhook_rows(hooked)
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)


def test_a_missing_secret_fails_naming_the_variable(hooked: App, receiver: Receiver,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret in the environment: nothing unsigned goes out, and the ledger says which variable to set."""
    monkeypatch.delenv(SECRET_ENV)
    writer = quiet(hooked)
    drainer = Drainer(uow=writer.uow, schedule=QUICK)
    assert say(writer, "chen", "/kr update KR2 1.7%").ok
    drainer.drain()
    [row] = webhook_rows(hooked)
    assert row.status == "queued" and SECRET_ENV in (row.error or "") and receiver.requests == []


def test_a_retry_after_is_waited_out(hooked: App, receiver: Receiver) -> None:
    """429 with Retry-After: 1 — the next try comes no sooner than a second later, and delivers."""
    receiver.fail_first, receiver.fail_status, receiver.retry_after = 1, 429, "1"
    writer = quiet(hooked)
    drainer = Drainer(uow=writer.uow, schedule=QUICK)
    assert say(writer, "chen", "/kr update KR2 1.7%").ok
    started = time.monotonic()
    while not receiver.delivered() and time.monotonic() - started < 10:
        drainer.drain()
    assert [r.status for r in receiver.requests] == [429, 200]
    assert time.monotonic() - started >= 1.0


def test_two_drainers_at_once_deliver_each_row_once(hooked: App, receiver: Receiver) -> None:
    """Forty check-ins queued, two drainers on their own engines at once: forty deliveries, no id twice."""
    writer = quiet(hooked)
    for n in range(40):
        assert say(writer, "chen", f"/kr update KR2 {1.5 + n / 100:.2f}%").ok
    assert len(webhook_rows(hooked, "queued")) == 40 and receiver.requests == []
    drainers = [Drainer(uow=quiet(hooked).uow) for _ in range(2)]
    counts: list[Counter[str]] = []
    threads = [threading.Thread(target=lambda d=d: counts.append(d.drain())) for d in drainers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [r.body["id"] for r in receiver.requests]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sum(c["sent"] for c in counts) == 40
    assert all(c["sent"] > 0 for c in counts), counts  # both took part
    assert [row.status for row in webhook_rows(hooked)] == ["sent"] * 40
