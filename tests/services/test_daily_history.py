"""A check-in's answer reads each day's last value per measure (kept in `day_values` as check-ins arrive), and stands
exactly where the whole history would put it: the same values, forecasts, ranges, results and status — across a
daylight-saving change, check-ins stored out of order, an as-of inside a day, a new timezone and an upgraded database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from bot import services
from bot.app import App, build_app
from bot.core import model
from bot.core.progress import KrProgress, kr_progress
from bot.services.context import load_scope
from storage import repository
from storage.db import alembic_config
from storage.models import CheckinRow, CheckinValueRow, DayValueRow
from storage.scratch import postgres_schema
from tests.conftest import EXAMPLE_EN, POSTGRES, POSTGRES_URL

BERLIN = ZoneInfo("Europe/Berlin")  # the example's zone: summer time ends 2026-10-25 at 03:00
FIRST = datetime(2026, 9, 28, tzinfo=BERLIN)  # a few days before the cycle (2026-10-01..12-31) …
SPAN_HOURS = 24 * 100  # … to a few days after it
IMPORTED_AT = datetime(2026, 10, 1, 9, tzinfo=BERLIN)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The English example imported once per backend (each example below replaces one KR's history)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('daily') / 'krbot.db'}"
        elif not POSTGRES:
            pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
        else:
            url = stack.enter_context(postgres_schema(url=POSTGRES_URL))
        app = build_app(database_url=url)
        services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="okrs.yaml", at=IMPORTED_AT)
        yield app
        app.uow.engine.dispose()


def _moment() -> st.SearchStrategy[datetime]:
    """A local moment in or near the cycle, often within two hours of midnight (where a wrong day would show)."""
    near_midnight = st.tuples(st.integers(0, 99), st.integers(-7199, 7199)).map(
        lambda pair: datetime.combine(FIRST.date() + timedelta(days=pair[0]), datetime.min.time(), tzinfo=BERLIN)
        + timedelta(seconds=pair[1])
    )
    anywhere = st.integers(0, SPAN_HOURS * 3600).map(lambda seconds: (FIRST.astimezone(UTC) + timedelta(seconds=seconds)))
    return st.one_of(near_midnight, anywhere).map(lambda moment: moment.astimezone(UTC).replace(microsecond=0))


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, list[tuple[datetime, dict[str, float]]], datetime]:
    """A KR (with a milestone, a guardrail, a measure due early or several targets), check-ins on it and an as-of."""
    code, names = draw(st.sampled_from([
        ("KR1", ["Shop live", "New-customer orders", "GMV"]),
        ("KR3", ["Stock landed in EU", "Restock response"]),
        ("KR4", ["Competitor coverage", "Price response", "Member repeat rate"]),
    ]))
    moments = draw(st.lists(_moment(), min_size=0, max_size=30, unique=True))
    checkins = []
    for moment in moments:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        values = {name: float(draw(st.integers(0, 1))) if name == "Shop live" else draw(st.floats(0, 10_000_000, allow_nan=False))
                  for name in chosen}
        checkins.append((moment, values))
    return code, draw(st.permutations(checkins)), draw(_moment())


def _store(app: App, *, code: str, checkins: list[tuple[datetime, dict[str, float]]], batches: int = 1,
           replace: bool = True) -> None:
    """Replace (or add to) the KR's history with these check-ins, stored in this order in `batches` transactions."""
    if replace:
        with app.uow.begin() as session:
            ids = select(CheckinRow.id).where(CheckinRow.code == code)
            session.execute(delete(CheckinValueRow).where(CheckinValueRow.checkin_id.in_(ids)))
            session.execute(delete(CheckinRow).where(CheckinRow.code == code))
    size = max(1, -(-len(checkins) // batches))
    for start in range(0, len(checkins), size):
        with app.uow.begin() as session:
            scope = load_scope(session=session, workspace=None, at=IMPORTED_AT, code=code)
            owner = scope.okrs.owner_of(code=code).owner  # type: ignore[union-attr]
            repository.add_checkins(session=session, loaded=scope.loaded, items=[
                repository.NewCheckin(checkin=model.Checkin(code=code, person=owner, at=at, values=values))
                for at, values in checkins[start:start + size]
            ])


def _both(app: App, *, code: str, as_of: datetime, timezone: str = "Europe/Berlin") -> dict[str, tuple[object, ...]]:
    """The KR's standing read from its whole history and from each day's last values."""
    with app.uow.begin() as session:
        scope = load_scope(session=session, workspace=None, at=IMPORTED_AT, code=code)
        whole = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=as_of, code=code)
        daily = repository.day_history(session=session, cycle_id=scope.cycle.id, code=code, until=as_of,
                                       timezone=timezone)
    kr = scope.okrs.owner_of(code=code)
    assert isinstance(kr, model.KeyResult)
    return {
        name: _standing(kr_progress(kr=kr, checkins=history, cycle=scope.okrs.cycle, objective_deadline=date(2026, 12, 31),
                                    as_of=as_of.astimezone(ZoneInfo(timezone))))
        for name, history in (("whole", whole), ("daily", daily))
    }


def _standing(progress: KrProgress) -> tuple[object, ...]:
    """Everything a forecast shows of a KR, exactly."""
    measures = tuple(
        (m.value, m.points, m.last_at, m.completion, m.forecast_value, m.forecast_completion, m.gap, m.low_value,
         m.high_value, m.reached, m.guardrail_broken, m.guardrail_trend_broken, m.final, m.met, m.margin, m.data_days)
        for m in progress.measures
    )
    return measures, progress.completion, progress.forecast_completion, progress.status


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=histories(), batches=st.integers(1, 4))
def test_each_days_last_value_gives_the_standing_of_the_whole_history(example: App, case, batches: int) -> None:  # type: ignore[no-untyped-def]
    code, checkins, as_of = case
    _store(example, code=code, checkins=checkins, batches=batches)
    read = _both(example, code=code, as_of=as_of)
    assert read["daily"] == read["whole"]


def test_a_days_burst_of_updates_is_read_as_its_last_value(example: App) -> None:
    """Two hundred updates in one evening, across midnight of the night summer time ends: two values are read."""
    start = datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN)
    burst = [(start + timedelta(minutes=2 * n), {"Competitor coverage": 60.0 + n / 10}) for n in range(200)]
    _store(example, code="KR4", checkins=burst)
    with example.uow.begin() as session:
        scope = load_scope(session=session, workspace=None, at=IMPORTED_AT, code="KR4")
        daily = repository.day_history(session=session, cycle_id=scope.cycle.id, code="KR4",
                                       until=start + timedelta(days=1), timezone="Europe/Berlin")
    # 22:00 to 23:58 on the 24th is the first day; 00:00 to 04:38 (summer time ends at 03:00) the second
    assert [(c.at.astimezone(BERLIN).strftime("%d %H:%M"), c.values) for c in daily] == [
        ("24 23:58", {"Competitor coverage": 60.0 + 59 / 10}),
        ("25 04:38", {"Competitor coverage": 60.0 + 199 / 10}),
    ]


def test_a_new_timezone_moves_the_days(example: App) -> None:
    """Re-imported with the workspace in Shanghai, the same check-ins fall on Shanghai's days, and still read alike."""
    evening = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 16:30 in Berlin, 23:30 in Shanghai: one day in both …
    _store(example, code="KR4", checkins=[
        (evening, {"Competitor coverage": 70.0}),
        (evening + timedelta(hours=1), {"Competitor coverage": 71.0}),  # … then 00:30 of the next day in Shanghai
        (datetime(2026, 11, 20, 9, tzinfo=UTC), {"Competitor coverage": 80.0}),
    ])
    as_of = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert _both(example, code="KR4", as_of=as_of)["daily"] == _both(example, code="KR4", as_of=as_of)["whole"]
    text = EXAMPLE_EN.read_text(encoding="utf-8").replace("timezone: Europe/Berlin", "timezone: Asia/Shanghai", 1)
    services.import_okrs(uow=example.uow, text=text, filename="okrs.yaml", at=IMPORTED_AT)
    try:
        shanghai = _both(example, code="KR4", as_of=as_of, timezone="Asia/Shanghai")
        assert shanghai["daily"] == shanghai["whole"]
        with example.uow.begin() as session:
            scope = load_scope(session=session, workspace=None, at=IMPORTED_AT, code="KR4")
            days = repository.day_history(session=session, cycle_id=scope.cycle.id, code="KR4", until=as_of,
                                          timezone="Asia/Shanghai")
        assert [c.values["Competitor coverage"] for c in days] == [70.0, 71.0, 80.0]  # two days now, not one
    finally:
        services.import_okrs(uow=example.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="okrs.yaml",
                             at=IMPORTED_AT)


def test_an_upgraded_database_reckons_the_days_of_what_it_holds(tmp_path: Path) -> None:
    """A database at the revision before `day_values`, with check-ins in it, upgraded: its forecasts read the same."""
    app = build_app(database_url=f"sqlite:///{tmp_path / 'old.db'}")
    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="okrs.yaml", at=IMPORTED_AT)
    moments = [datetime(2026, 10, 24, 20, tzinfo=UTC) + timedelta(hours=3 * n) for n in range(12)]  # over the change
    _store(app, code="KR4", checkins=[(at, {"Competitor coverage": 60.0 + n, "Member repeat rate": 25.0 + n / 2})
                                      for n, at in enumerate(moments)])
    config = alembic_config(engine=app.uow.engine)
    command.downgrade(config, "0010")  # the table goes, the check-ins stay
    command.upgrade(config, "head")
    read = _both(app, code="KR4", as_of=datetime(2026, 11, 30, tzinfo=UTC))
    assert read["daily"] == read["whole"]
    with app.uow.begin() as session:
        stored = session.scalar(select(func.count()).select_from(DayValueRow))
    assert stored == 2 * len({at.astimezone(BERLIN).date() for at in moments})
    app.uow.engine.dispose()


def test_a_measure_whose_history_joins_another_reads_both(app: App) -> None:
    """`Competitor coverage` renamed without `was:` (its history archived, a new measure begun), then with it: the two
    histories are one measure's, and each day's last value is read from both — the same day included."""
    base = EXAMPLE_EN.read_text(encoding="utf-8")
    renamed = base.replace("              - name: Competitor coverage\n", "              - name: Competitor share\n", 1)
    joined = renamed.replace("              - name: Competitor share\n",
                             "              - name: Competitor share\n                was: Competitor coverage\n", 1)
    assert joined != renamed != base
    services.import_okrs(uow=app.uow, text=base, filename="okrs.yaml", at=IMPORTED_AT)
    first = datetime(2026, 10, 5, 9, tzinfo=UTC)
    _store(app, code="KR4", checkins=[(first + timedelta(days=3 * n), {"Competitor coverage": 60.0 + n}) for n in range(6)])
    services.import_okrs(uow=app.uow, text=renamed, filename="okrs.yaml", at=IMPORTED_AT)
    later = first + timedelta(days=15, hours=5)  # the day of the old measure's last value, later that day
    _store(app, code="KR4", replace=False,
           checkins=[(later + timedelta(days=2 * n), {"Competitor share": 70.0 + n}) for n in range(5)])
    services.import_okrs(uow=app.uow, text=joined, filename="okrs.yaml", at=IMPORTED_AT)
    read = _both(app, code="KR4", as_of=datetime(2026, 11, 10, tzinfo=UTC))
    assert read["daily"] == read["whole"]
    with app.uow.begin() as session:
        scope = load_scope(session=session, workspace=None, at=IMPORTED_AT, code="KR4")
        days = repository.day_history(session=session, cycle_id=scope.cycle.id, code="KR4",
                                      until=datetime(2026, 11, 10, tzinfo=UTC), timezone="Europe/Berlin")
    shares = [c.values["Competitor share"] for c in days if "Competitor share" in c.values]
    assert shares == [60.0, 61.0, 62.0, 63.0, 64.0, 70.0, 71.0, 72.0, 73.0, 74.0]  # day 16: 70, not 65
