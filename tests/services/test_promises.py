"""CONTRACT §8 for the core: saved means stored, refused means nothing, one event stores once, rights are checked."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from bot import commands, services
from bot.app import App
from storage.models import AskRow, CheckinRow, CheckinValueRow, GoalChangeRow, MeasureRow

AT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)


def _count(app: App, table: type) -> int:
    with app.uow.begin() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _stored(app: App) -> tuple[int, int, int]:
    return _count(app, CheckinRow), _count(app, CheckinValueRow), _count(app, AskRow)


def say(app: App, person: str, line: str, **extra: object) -> services.Reply:
    return services.run_command(uow=app.uow, person=person, text=line, at=AT, **extra)


def test_a_saved_checkin_is_in_the_database(example: App) -> None:
    """What the user is told was saved can be read back, value for value."""
    reply = say(example, "chen", "/kr update KR2 新客转化率=1.7% ACOS=23% 备注：素材更新 需求：追加5000欧预算")
    assert reply.ok and reply.key == "checkin.saved"
    exported = services.export_all(uow=example.uow, at=AT)
    values = {(c["measure"], c["value"]) for c in exported["checkins"] if c["code"] == "KR2"}
    assert values == {("新客转化率", 1.7), ("ACOS", 23.0)}
    assert [(a["kind"], a["amount"], a["unit"]) for a in exported["asks"]] == [("money", 5000.0, "EUR")]


@pytest.mark.parametrize(
    ("person", "line", "key"),
    [
        ("zhao", "/kr update KR2 1.8%", "checkin.not_owner"),
        ("chen", "/kr update KR9 1.8%", "code.unknown"),
        ("chen", "/kr update KR2 abc", "checkin.bad_value"),
        ("chen", "/kr update KR2 5000欧", "checkin.bad_value"),
        ("lin", "/kr update O1 5000美元", "checkin.bad_value"),
        ("chen", "/kr update KR2 新客转化率=1.8% 库存=5", "measure.unknown"),
        ("chen", "/kr update KR2 新客转化率=1.8% 新客转化率=1.9%", "checkin.measure_twice"),
        ("nobody", "/kr update KR2 1.8%", "person.unknown"),
        ("boss", "/kr update KR2 1.8%", "checkin.not_owner"),
    ],
)
def test_a_refused_checkin_leaves_nothing(example: App, person: str, line: str, key: str) -> None:
    """Every refusal says what was wrong, and not a row of it is stored — values, check-in or ask."""
    before = _stored(example)
    reply = say(example, person, f"{line} 需求：追加1000欧预算")
    assert not reply.ok
    assert reply.key == key
    assert _stored(example) == before


def test_a_database_that_cannot_take_it_fails_loudly(example: App) -> None:
    """When the database refuses the write, the edge gets an error (so a platform retries), never 'saved'."""
    with example.uow.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("CREATE TRIGGER disk_is_full BEFORE INSERT ON checkin_values BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
        else:
            connection.execute(text(
                "CREATE FUNCTION disk_full() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
            ))
            connection.execute(text(
                "CREATE TRIGGER disk_is_full BEFORE INSERT ON checkin_values FOR EACH ROW EXECUTE FUNCTION disk_full()"
            ))
    before = _stored(example)
    with pytest.raises(DBAPIError):
        say(example, "chen", "/kr update KR2 1.8%", event_key="slack:Ev1")
    assert _stored(example) == before


def test_one_event_delivered_twice_stores_once(example: App) -> None:
    """A platform retry with the same event id is answered as a repeat and stores nothing more."""
    first = say(example, "chen", "/kr update KR2 1.8%", event_key="slack:Ev42")
    second = say(example, "chen", "/kr update KR2 1.8%", event_key="slack:Ev42")
    assert first.key == "checkin.saved"
    assert second.key == "checkin.duplicate" and second.ok
    assert _stored(example)[0] == 1
    other = say(example, "chen", "/kr update KR2 1.9%", event_key="slack:Ev43")
    assert other.key == "checkin.saved"
    assert _stored(example)[0] == 2


def test_concurrent_deliveries_of_one_event_store_once(example: App) -> None:
    """Two replicas racing on the same event: the unique key lets one through, the other answers as a repeat."""
    replies: list[services.Reply] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        replies.append(say(example, "chen", "/kr update KR2 1.8%", event_key="feishu:ev-race"))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _stored(example)[0] == 1
    assert sorted(r.key for r in replies).count("checkin.saved") == 1


def test_a_delegate_named_by_the_owner_may_update(example: App, tmp_path) -> None:
    """`delegates` in the OKR file lets someone else report for the owner; nobody else may."""
    from tests.conftest import EXAMPLE_ZH, IMPORTED_AT

    source = EXAMPLE_ZH.read_text(encoding="utf-8").replace(
        "            owner: chen\n            accountable: lin\n",
        "            owner: chen\n            delegates: [zhao]\n            accountable: lin\n",
        1,
    )
    services.import_okrs(uow=example.uow, text=source, filename="delegated.yaml", at=IMPORTED_AT)
    assert say(example, "zhao", "/kr update KR2 1.8%").ok
    assert not say(example, "sun", "/kr update KR2 1.8%").ok


@pytest.mark.parametrize(
    ("person", "allowed"),
    [("lin", True), ("chen", False), ("zhao", False), ("boss", False)],
)
def test_only_the_accountable_or_an_admin_changes_a_goal(example: App, person: str, allowed: bool) -> None:
    """KR2's accountable is lin (also an admin); its owner chen, another member and the boss may not change it."""
    reply = say(example, person, "/kr change KR2 target=2.2% reason: 竞品降价，提高目标")
    assert reply.ok is allowed
    with example.uow.begin() as session:
        target = session.scalar(select(MeasureRow.target).where(MeasureRow.code == "KR2", MeasureRow.name == "新客转化率"))
    assert target == (2.2 if allowed else 2.0)
    assert _count(example, GoalChangeRow) == (1 if allowed else 0)


def test_a_goal_change_needs_a_reason(example: App) -> None:
    """The method asks why before anything moves."""
    reply = say(example, "lin", "/kr change KR2 target=2.2%")
    assert reply.key == "change.reason_required"
    assert _count(example, GoalChangeRow) == 0


@pytest.mark.parametrize(("person", "allowed"), [("boss", True), ("lin", True), ("chen", False), ("sun", False)])
def test_only_the_boss_or_an_admin_decides_an_ask(example: App, person: str, allowed: bool) -> None:
    """A member cannot approve their own or anyone's ask; the boss and admins can, once."""
    from bot.core.errors import NotAllowed

    say(example, "chen", "/kr update KR2 1.8% 需求：追加5000欧预算")
    ask_id = services.export_all(uow=example.uow, at=AT)["asks"][0]["id"]
    if allowed:
        reply = services.decide_ask(uow=example.uow, person=person, ask_id=ask_id, approve=True, at=AT)
        assert reply.key == "ask.decided" and reply.params["asker"] == "chen"
        again = services.decide_ask(uow=example.uow, person="boss", ask_id=ask_id, approve=False, at=AT)
        assert again.key == "ask.already"
        status = "approved"
    else:
        with pytest.raises(NotAllowed):
            services.decide_ask(uow=example.uow, person=person, ask_id=ask_id, approve=True, at=AT)
        status = "open"
    assert services.export_all(uow=example.uow, at=AT)["asks"][0]["status"] == status


def test_objective_owner_reports_the_headline(example: App) -> None:
    """`/kr update O1 17.5万欧` sets O1's own first measure, for its owner only."""
    assert say(example, "lin", "/kr update O1 17.5万欧").ok
    assert not say(example, "chen", "/kr update O1 17.5万欧").ok
    values = [c for c in services.export_all(uow=example.uow, at=AT)["checkins"] if c["code"] == "O1"]
    assert [(c["measure"], c["value"]) for c in values] == [("新客GMV", 175000.0)]


def test_update_without_code_lists_the_senders_krs(example: App) -> None:
    """`/kr update` alone (the form, on chat platforms) tells the CLI user what they own."""
    reply = say(example, "chen", "/kr update")
    assert reply.ok and [r["code"] for r in reply.params["rows"]] == ["KR2", "KR4"]


def test_parsed_update_goes_through_the_same_service(example: App) -> None:
    """The command object from any edge lands in the same place as the typed text."""
    update = commands.parse_command(text="/kr update KR3 入欧备货=300万件 补货响应=3天")
    reply = services.record_checkin(uow=example.uow, person="sun", update=update, at=AT)
    assert reply.ok
    values = {c["measure"]: c["value"] for c in services.export_all(uow=example.uow, at=AT)["checkins"]}
    assert values == {"入欧备货": 3_000_000.0, "补货响应": 72.0}
