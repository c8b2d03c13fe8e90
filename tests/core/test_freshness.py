"""CONTRACT §9 in the pure core: each digest number knows whether it was typed or synced, its age, its source's failure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot.core import model
from bot.core.digest import Digest, MeasureLine, compose_digest
from bot.core.freshness import PullStatus

CYCLE = model.Cycle(name="Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
SOURCE = model.Source(sql="SELECT sum(gmv) FROM orders", database_env="SALES_DB_URL")
GMV = model.Measure(name="GMV", kind=model.MeasureKind.TARGET, unit="EUR", baseline=0.0, target=100.0, source=SOURCE)
ORDERS = model.Measure(name="orders", kind=model.MeasureKind.TARGET, baseline=0.0, target=50.0)
ACOS = model.Measure(name="ACOS", kind=model.MeasureKind.AT_MOST, unit="%", limit=25.0, source=SOURCE)
LAUNCH = model.Measure(name="launch", kind=model.MeasureKind.MILESTONE)
KR = model.KeyResult(code="K1", title="Sell", owner="ann", measures=(GMV, ORDERS, ACOS, LAUNCH))
HEAD = model.Measure(name="revenue", kind=model.MeasureKind.TARGET, unit="EUR", baseline=0.0, target=1000.0, source=SOURCE)


def day(n: float) -> datetime:
    """n days after the cycle's start."""
    return DAY0 + timedelta(days=n)


def tree(*, headline: bool = False) -> model.Okrs:
    """One objective (with a sourced headline when asked) holding K1."""
    objective = model.Objective(
        code="O1", title="Grow", owner="boss", measures=(HEAD,) if headline else (),
        paths=(model.StrategicPath(code="P", title="P", priority=1, krs=(KR,)),),
    )
    people = {"ann": model.Person(key="ann", name="Ann"), "boss": model.Person(key="boss", name="Boss")}
    return model.Okrs(workspace=model.Workspace(name="w"), people=people, cycle=CYCLE, objectives=(objective,))


def ci(n: float, values: dict[str, float], *, synced: bool = False, code: str = "K1") -> model.Checkin:
    """A check-in on day n, typed by Ann or pulled by a source."""
    return model.Checkin(code=code, person="ann", at=day(n), values=values, source=model.SYNCED if synced else "slack")


def compose(checkins: list[model.Checkin], *, as_of: float, pulls: dict | None = None, headline: bool = False) -> Digest:
    """The digest at day `as_of` with these pulls."""
    return compose_digest(
        okrs=tree(headline=headline), checkins=checkins, asks=[], changes=[], as_of=day(as_of), pulls=pulls
    )


def lines(digest: Digest) -> dict[str, MeasureLine]:
    """K1's measure lines by name."""
    (section,) = digest.objectives
    (kr,) = section.krs
    return {m.name: m for m in kr.measures}


def test_typed_and_synced_numbers_say_so_with_their_moment() -> None:
    """A synced value is synced, a typed one typed, each with the moment of the value shown; no age inside the period."""
    checkins = [ci(30, {"GMV": 40.0}, synced=True), ci(31, {"orders": 10.0, "ACOS": 20.0, "launch": 1.0})]
    got = lines(compose(checkins, as_of=33))
    assert got["GMV"].fresh.synced is True and got["GMV"].fresh.at == day(30)
    assert got["orders"].fresh.typed and got["orders"].fresh.at == day(31)
    assert got["ACOS"].fresh.typed and got["launch"].fresh.typed  # guardrails and milestones too
    assert all(m.fresh.age_days is None for m in got.values())  # within the week: no age
    assert got["GMV"].fresh.sourced and not got["orders"].fresh.sourced
    assert not any(m.fresh.failing for m in got.values())


def test_the_latest_value_decides_the_origin() -> None:
    """A number typed over a synced one is typed; a later sync makes it synced again."""
    typed_last = [ci(20, {"GMV": 40.0}, synced=True), ci(25, {"GMV": 45.0})]
    assert lines(compose(typed_last, as_of=26))["GMV"].fresh.typed
    synced_last = [*typed_last, ci(26, {"GMV": 47.0}, synced=True)]
    assert lines(compose(synced_last, as_of=27))["GMV"].fresh.synced is True
    # a check-in of other measures or only words does not change where GMV's number came from
    words_later = [*synced_last, ci(27, {"orders": 3.0})]
    assert lines(compose(words_later, as_of=28))["GMV"].fresh.synced is True


def test_age_only_when_older_than_the_period() -> None:
    """Whole days since the value, set only when the value is older than the digest's week."""
    checkins = [ci(10, {"GMV": 40.0}, synced=True), ci(20, {"orders": 10.0})]
    got = lines(compose(checkins, as_of=26.5))
    assert got["GMV"].fresh.age_days == 16
    assert got["orders"].fresh.age_days is None  # 6.5 days: inside the period
    assert lines(compose(checkins, as_of=27.5))["orders"].fresh.age_days == 7
    assert got["ACOS"].fresh.synced is None and got["ACOS"].fresh.age_days is None  # nothing given yet: no mark


def test_a_failed_last_pull_shows_its_error_and_the_age() -> None:
    """The last pull failed after the last good one: its time and error, and the number's age even inside the week."""
    checkins = [ci(20, {"GMV": 40.0}, synced=True)]
    pulls = {("K1", "GMV"): PullStatus(code="K1", measure="GMV", ok_at=day(20), value=40.0,
                                      failed_at=day(23), error="connection refused")}
    gmv = lines(compose(checkins, as_of=23.5, pulls=pulls))["GMV"]
    assert gmv.fresh.failing and gmv.fresh.failed_at == day(23) and gmv.fresh.error == "connection refused"
    assert gmv.fresh.age_days == 3 and gmv.fresh.pulled_at == day(20)
    # a good pull after the failure: no failure shown
    healed = {("K1", "GMV"): replace(pulls[("K1", "GMV")], ok_at=day(23.2))}
    gmv = lines(compose(checkins, as_of=23.5, pulls=healed))["GMV"]
    assert not gmv.fresh.failing and gmv.fresh.error is None and gmv.fresh.age_days is None


def test_a_later_good_pull_of_the_same_number_keeps_it_fresh() -> None:
    """A source that found the same number again today is fresh, though its check-in is old."""
    checkins = [ci(10, {"GMV": 40.0}, synced=True)]
    pulls = {("K1", "GMV"): PullStatus(code="K1", measure="GMV", ok_at=day(25), value=40.0)}
    gmv = lines(compose(checkins, as_of=26, pulls=pulls))["GMV"]
    assert gmv.fresh.at == day(25) and gmv.fresh.age_days is None
    other = {("K1", "GMV"): PullStatus(code="K1", measure="GMV", ok_at=day(25), value=41.0)}
    assert lines(compose(checkins, as_of=26, pulls=other))["GMV"].fresh.age_days == 16


def test_a_past_digest_knows_no_later_pull() -> None:
    """A failure or a pull after the as-of time is not shown in a digest of that time."""
    checkins = [ci(20, {"GMV": 40.0}, synced=True)]
    pulls = {("K1", "GMV"): PullStatus(code="K1", measure="GMV", ok_at=day(20), value=40.0, failed_at=day(30), error="x")}
    gmv = lines(compose(checkins, as_of=22, pulls=pulls))["GMV"]
    assert not gmv.fresh.failing and gmv.fresh.pulled_at == day(20)


def test_a_source_that_never_worked() -> None:
    """No synced value yet and the last pull failed: the failure is shown, with no origin."""
    pulls = {("K1", "GMV"): PullStatus(code="K1", measure="GMV", failed_at=day(5), error="no rows")}
    gmv = lines(compose([], as_of=6, pulls=pulls))["GMV"]
    assert gmv.fresh.synced is None and gmv.fresh.failing and gmv.fresh.error == "no rows"


def test_the_failing_sources_reach_the_objective_section() -> None:
    """The section names every measure whose source failed last, the headline's included, for the conclusion."""
    checkins = [ci(20, {"revenue": 300.0}, synced=True, code="O1"), ci(20, {"GMV": 40.0}, synced=True)]
    failed = PullStatus(code="", measure="", failed_at=day(22), error="timeout")
    pulls = {("O1", "revenue"): replace(failed, code="O1", measure="revenue"),
             ("K1", "ACOS"): replace(failed, code="K1", measure="ACOS")}
    (section,) = compose(checkins, as_of=23, pulls=pulls, headline=True).objectives
    assert section.failing == ("revenue", "ACOS")
    assert section.headline_fresh.synced is True and section.headline_fresh.failing
    (healthy,) = compose(checkins, as_of=23, headline=True).objectives
    assert healthy.failing == () and healthy.headline_fresh.age_days is None
    (old,) = compose(checkins, as_of=30, headline=True).objectives
    assert old.headline_fresh.age_days == 10  # the conclusion's own number, older than the week
