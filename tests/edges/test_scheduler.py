"""The schedule over real databases: a simulated quarter, DST, catch-up, retries, failures, and `krbot jobs`."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import scheduler, services
from bot.app import App
from bot.commands import parse_update
from bot.scheduler import RetryPolicy, Runner, last_slot, parse_weekly, period_of, slot_on, week_slot
from storage.models import DeliveryRow
from tests.conftest import sqlite_only
from tests.fakes.fake_platform import Behaviour, FakePlatformServer, HttpTestPlatform, owners_yaml

IMPORTED = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(tries=3, backoff=0.01, backoff_max=0.05, workers=8)


def _import(app: App, text: str) -> None:
    services.import_okrs(uow=app.uow, text=text, filename="schedule.yaml", at=IMPORTED)


def _rows(app: App, kind: str | None = None) -> list[DeliveryRow]:
    with app.uow.begin() as session:
        query = select(DeliveryRow).order_by(DeliveryRow.id)
        if kind is not None:
            query = query.where(DeliveryRow.kind == kind)
        return list(session.scalars(query))


def _checkin(app: App, person: str, code: str, at: datetime) -> None:
    services.record_checkin(uow=app.uow, person=person, update=parse_update(text=f"{code} 10"), at=at)


# ---------------------------------------------------------------- pure time


def test_slots_stay_on_local_wall_time_across_dst() -> None:
    """Mon 09:30 is 07:30 UTC before Berlin's fall-back and 08:30 after; New York moves a week later."""
    weekly = parse_weekly(text="mon 09:30")
    berlin = [slot_on(day=date(2026, 10, d), weekly=weekly, zone="Europe/Berlin") for d in (19, 26)]
    assert [s.astimezone(UTC).hour for s in berlin] == [7, 8]
    york = [slot_on(day=d, weekly=weekly, zone="America/New_York") for d in (date(2026, 10, 26), date(2026, 11, 2))]
    assert [s.astimezone(UTC).hour for s in york] == [13, 14]
    spring = slot_on(day=date(2027, 3, 29), weekly=weekly, zone="Europe/Berlin")
    assert spring.astimezone(UTC).hour == 7 and spring.astimezone(ZoneInfo("Europe/Berlin")).hour == 9


def test_a_repeated_hour_is_one_period() -> None:
    """Sun 02:30 happens twice in Berlin on 25 Oct 2026: both instants find the same slot and period."""
    weekly = parse_weekly(text="sun 02:30")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    slots = {last_slot(weekly=weekly, zone="Europe/Berlin", now=moment) for moment in (first, second)}
    assert slots == {first}
    assert period_of(slot=first, zone="Europe/Berlin") == period_of(slot=second, zone="Europe/Berlin") == "2026-W43"


def test_week_slot_may_lie_ahead() -> None:
    """A run by hand on Monday owes this week's Thursday slot."""
    monday = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)
    slot = week_slot(weekly=parse_weekly(text="thu 10:00"), zone="Europe/Berlin", now=monday)
    assert slot == datetime(2026, 10, 8, 8, 0, tzinfo=UTC)


def test_unreadable_weekly_time_is_refused() -> None:
    """A typo names the word."""
    with pytest.raises(scheduler.KrbotError) as caught:
        parse_weekly(text="thursday ten")
    assert caught.value.params["word"] == "thursday ten"


# ---------------------------------------------------------------- the quarter


@sqlite_only  # one runner, no race: the slots' arithmetic is the point (the ledger's races run on both databases)
def test_a_quarter_for_fifty_owners_in_five_timezones(app: App) -> None:
    """13 weeks: 13 reminders per active owner at local Mon 09:30, 13 digests, chasers only to the silent."""
    _import(app, owners_yaml(owners=50))
    for i in range(45, 50):
        services.run_command(uow=app.uow, person=f"o{i:02d}", text="/kr away 2026-10-01..2026-12-31", at=IMPORTED)
    for i in range(40, 45):
        services.run_command(uow=app.uow, person=f"o{i:02d}", text="/kr away 2026-10-19..2026-11-01", at=IMPORTED)
    reporters = [i for i in range(0, 40, 2)]
    with FakePlatformServer() as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        # The timer ticks every minute; the simulation ticks hourly at :30, which every slot of these
        # whole-hour zones falls on, so a reminder sent off its local 09:30 would show below.
        now = datetime(2026, 10, 1, 0, 30, tzinfo=UTC)
        end = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
        while now < end:
            if now.weekday() == 1 and now.hour == 12:
                for i in reporters:
                    _checkin(app, f"o{i:02d}", f"KR{i:02d}", now)
            runner.tick(now=now)
            now += timedelta(hours=1)
        kinds = server.kinds()
        assert server.stats.duplicates == 0

    reminders = _rows(app, "reminder")
    per_owner = Counter(row.target for row in reminders)
    for i in range(50):
        expected = 13 if i < 40 else 11 if i < 45 else 0
        assert per_owner[f"o{i:02d}"] == expected, f"o{i:02d}"
    assert kinds["reminder"] == sum(per_owner.values()) == 40 * 13 + 5 * 11
    zones = {f"o{i:02d}": ("Europe/Berlin", "America/New_York", "Asia/Shanghai", "America/Los_Angeles", "UTC")[i % 5]
             for i in range(50)}
    utc_hours: dict[str, set[int]] = defaultdict(set)
    for row in reminders:
        assert row.status == "sent" and row.sent_at is not None
        local = row.sent_at.astimezone(ZoneInfo(zones[row.target]))
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 30), (row.target, local)
        utc_hours[zones[row.target]].add(row.sent_at.hour)
    assert utc_hours["Europe/Berlin"] == {7, 8} and utc_hours["America/New_York"] == {13, 14}

    digests = _rows(app, "digest")
    assert len(digests) == 13 == kinds["digest"]
    assert all(row.sent_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") == "Fri 16:30" for row in digests)

    chasers = _rows(app, "chaser")
    away_weeks = {"2026-W43", "2026-W44"}
    expected_chasers = {
        (f"o{i:02d}", row.period)
        for row in digests
        for i in range(50)
        if i not in reporters or row.period == "2026-W40"  # before the first Tuesday nobody has reported
        if i < 40 or (i < 45 and row.period not in away_weeks)
    }
    assert {(row.target, row.period) for row in chasers} == expected_chasers
    assert kinds["chaser"] == len(expected_chasers)

    escalations = _rows(app, "escalation")
    silent = {f"KR{i:02d}" for i in range(50) if i not in reporters}
    assert {row.target.split(">")[0] for row in escalations} == silent
    assert all(row.target.endswith(">lead") for row in escalations) and kinds["notice"] == len(silent)
    assert all(row.status == "sent" for row in _rows(app))


# ---------------------------------------------------------------- once, across DST, catch-up and by hand


def test_the_repeated_hour_sends_once(app: App) -> None:
    """A reminder set in the hour Berlin repeats goes out once though the clock shows 02:30 twice."""
    _import(app, owners_yaml(owners=1, zones=("Europe/Berlin",), reminder="sun 02:30"))
    with FakePlatformServer() as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        for moment in (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)):
            runner.tick(now=moment)
        fresh = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        fresh.tick(now=datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
        assert server.kinds()["reminder"] == 1 and server.stats.duplicates == 0


def test_catch_up_within_grace_once_and_older_is_missed(app: App) -> None:
    """Down at the slot: back 3 h later it goes out once; back 7 h later it is logged missed and not sent."""
    _import(app, owners_yaml(owners=2, zones=("UTC",), reminder="mon 09:30", digest="fri 16:30"))
    with FakePlatformServer() as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        first = runner.tick(now=datetime(2026, 10, 5, 12, 30, tzinfo=UTC))
        assert first.counts["sent"] == 2
        assert runner.tick(now=datetime(2026, 10, 5, 13, 30, tzinfo=UTC)).counts["sent"] == 0
        # the digest has a 24 h grace: Saturday 13:00 UTC still catches Friday 16:30 Berlin's
        assert runner.tick(now=datetime(2026, 10, 10, 13, 0, tzinfo=UTC)).counts["sent"] == 1
        late = runner.tick(now=datetime(2026, 10, 12, 16, 31, tzinfo=UTC))
        assert late.counts["sent"] == 0 and late.counts["missed"] == 2
        assert runner.tick(now=datetime(2026, 10, 12, 17, 0, tzinfo=UTC)).counts["missed"] == 0
        assert server.kinds() == Counter({"reminder": 2, "digest": 1})
    reminders = _rows(app, "reminder")
    assert sorted((row.period, row.status) for row in reminders) == [
        ("2026-W41", "sent"), ("2026-W41", "sent"), ("2026-W42", "missed"), ("2026-W42", "missed")
    ]
    digests = _rows(app, "digest")
    assert sorted((row.period, row.status) for row in digests) == [("2026-W40", "missed"), ("2026-W41", "sent")]


def test_run_by_hand_sends_what_the_period_owes_once(app: App) -> None:
    """`jobs run reminders` on Monday morning sends this week's; the scheduled slot and a second run send nothing."""
    _import(app, owners_yaml(owners=3, zones=("UTC",), reminder="thu 10:00"))
    with FakePlatformServer() as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        monday = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)
        assert runner.run(job="reminders", now=monday, force=True).counts["sent"] == 3
        assert runner.run(job="reminders", now=monday, force=True).counts["already"] == 3
        other = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        assert other.tick(now=datetime(2026, 10, 8, 10, 0, tzinfo=UTC)).counts["sent"] == 0
        assert other.run(job="digest", now=monday, force=True).counts["sent"] == 1
        assert server.kinds() == Counter({"reminder": 3, "digest": 1}) and server.stats.duplicates == 0


def test_away_owners_are_skipped_and_reporters_not_chased(app: App) -> None:
    """An owner away on the day gets no reminder; one who checked in gets no chaser."""
    _import(app, owners_yaml(owners=3, zones=("UTC",)))
    services.run_command(uow=app.uow, person="o01", text="/kr away 2026-10-05..2026-10-09", at=IMPORTED)
    _checkin(app, "o02", "KR02", datetime(2026, 10, 6, 9, 0, tzinfo=UTC))
    with FakePlatformServer() as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        runner.tick(now=datetime(2026, 10, 5, 9, 30, tzinfo=UTC))
        runner.tick(now=datetime(2026, 10, 9, 12, 30, tzinfo=UTC))  # chasers: 16:30 Berlin - 4 h
        got = {(item["kind"], item["target"]) for item in server.stats.received}
    assert got == {("reminder", "o00"), ("reminder", "o02"), ("chaser", "o00")}


# ---------------------------------------------------------------- failures


def test_500_then_200_sends_once(app: App) -> None:
    """The platform fails the first try of every message: each is retried and delivered once."""
    _import(app, owners_yaml(owners=4, zones=("UTC",)))
    with FakePlatformServer(behaviour=Behaviour(fail_first=1)) as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        outcome = runner.tick(now=datetime(2026, 10, 5, 9, 30, tzinfo=UTC))
        assert outcome.counts["sent"] == 4 and server.stats.statuses[500] == 4
        assert set(server.stats.delivered.values()) == {1}
    assert [(row.status, row.attempts) for row in _rows(app, "reminder")] == [("sent", 2)] * 4


def test_platform_down_records_failed_and_the_digest_reports_it(app: App) -> None:
    """Down through the reminders: each recorded failed after the last try, and Friday's digest lists them."""
    _import(app, owners_yaml(owners=3, zones=("UTC",)))
    behaviour = Behaviour(down=True)
    with FakePlatformServer(behaviour=behaviour) as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        outcome = runner.tick(now=datetime(2026, 10, 5, 9, 30, tzinfo=UTC))
        assert outcome.counts["failed"] == 3 and not server.stats.delivered
        assert runner.tick(now=datetime(2026, 10, 5, 9, 31, tzinfo=UTC)).counts["failed"] == 0  # not retried forever
        behaviour.down = False
        runner.tick(now=datetime(2026, 10, 9, 14, 30, tzinfo=UTC))
        digest = next(item for item in server.stats.received if item["kind"] == "digest")
    assert sorted(digest["failed"]) == [["reminder", f"Owner {i:02d}", "2026-W41"] for i in range(3)]
    rows = _rows(app, "reminder")
    assert [(row.status, row.attempts) for row in rows] == [("failed", 3)] * 3
    assert all("500" in (row.error or "") for row in rows)
    composed, _ = services.boss_digest(uow=app.uow, as_of=datetime(2026, 10, 9, 14, 30, tzinfo=UTC))
    from bot.render import render_digest

    for lang in ("en", "zh"):
        text = render_digest(digest=composed, fmt="text", lang=lang)
        assert "Owner 01" in text and "2026-W41" in text
    assert "Owner 02" in render_digest(digest=composed, fmt="markdown", lang="en")


def test_rate_limits_are_waited_out_not_failed(app: App) -> None:
    """A 429 with Retry-After is waited out (not sooner) and does not count as a failure."""
    _import(app, owners_yaml(owners=12, zones=("UTC",)))
    with FakePlatformServer(behaviour=Behaviour(limited_first=3)) as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        started = time.monotonic()
        outcome = runner.tick(now=datetime(2026, 10, 5, 9, 30, tzinfo=UTC))
        waited = time.monotonic() - started
        assert outcome.counts["sent"] == 12 and server.stats.statuses[429] == 3
        assert server.stats.duplicates == 0 and len(server.stats.delivered) == 12
    assert waited >= 1.0  # Retry-After: 1 was honoured, although FAST backs off failures after 0.01 s
    assert [row.status for row in _rows(app, "reminder")] == ["sent"] * 12


def test_a_stale_claim_is_taken_over_after_its_lease_only(app: App) -> None:
    """A claim left by a dead worker blocks others until its lease runs out, then one takes it over."""
    _import(app, owners_yaml(owners=1, zones=("UTC",)))
    now = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
    view = services.schedule_views(uow=app.uow, at=now)[0]
    item = scheduler.owed_reminders(view=view, now=now)[0][0]
    assert scheduler.claim(uow=app.uow, item=item, worker="dead", now=now) is not None
    assert scheduler.claim(uow=app.uow, item=item, worker="b", now=now + timedelta(minutes=5)) is None
    assert scheduler.claim(uow=app.uow, item=item, worker="c", now=now + timedelta(minutes=11)) is not None
    assert scheduler.claim(uow=app.uow, item=item, worker="d", now=now + timedelta(minutes=12)) is None
    assert [row.claimed_by for row in _rows(app)] == ["c"]


# ---------------------------------------------------------------- the edges: CLI, console, the timer


def test_jobs_list_and_run_by_hand_through_the_cli(example: App, run_cli) -> None:  # type: ignore[no-untyped-def]
    """`krbot jobs list` shows next times; `krbot jobs run reminders` prints them on the console, once."""
    code, out, _ = run_cli("jobs", "list")
    assert code == 0
    assert all(job in out for job in ("reminders", "chasers", "digest")) and "2026-" in out
    code, out, _ = run_cli("jobs", "run", "reminders", "--as-of", "2026-10-05T09:00")
    assert code == 0 and "KR2" in out and "KR3" in out
    code, again, _ = run_cli("jobs", "run", "reminders", "--as-of", "2026-10-05T11:00")
    assert code == 0 and "KR2" not in again
    code, out, _ = run_cli("jobs", "run", "digest", "--as-of", "2026-10-09T18:00")
    assert code == 0 and "O1" in out
    statuses = Counter((row.kind, row.status, row.platform) for row in _rows(example))
    # KR3's factory task was due 2026-09-15 and is not done: its owner is told once, with the digest
    assert statuses == Counter(
        {("reminder", "sent", "console"): 4, ("digest", "sent", "console"): 1, ("overdue", "sent", "console"): 1}
    )
    assert "工厂排产完成" in out and "/kr done KR3" in out
    code, again, _ = run_cli("jobs", "run", "digest", "--as-of", "2026-10-09T19:00")
    assert code == 0 and "工厂排产完成" not in again


def test_jobs_run_refuses_an_unknown_job(run_cli) -> None:  # type: ignore[no-untyped-def]
    """A typo is bad input (exit 2) naming the known jobs."""
    code, _, err = run_cli("jobs", "run", "remind")
    assert code == 2 and "reminders" in err


def test_console_takes_commands_and_prints_what_falls_due(example: App) -> None:
    """Lines typed in the terminal go through the same services; a due reminder is printed there."""
    import io

    from bot.app import configured_platforms
    from bot.config import Settings
    from bot.platforms import console

    assert [p.name for p in configured_platforms(app=App(settings=Settings(_env_file=None), uow=example.uow),
                                                 http=False)] == ["console"]
    moment = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
    typed = io.StringIO("/kr list\nas chen\n/kr update KR2 1.8%\nzhao: /kr update KR2 2%\nas\n")
    out = io.StringIO()
    platform = console.build(settings=Settings(_env_file=None), uow=example.uow, http=False, stdin=typed, stdout=out,
                             clock=lambda: moment)
    platform.loop()
    printed = out.getvalue()
    assert "KR2" in printed
    exported = services.export_all(uow=example.uow, at=moment)
    values = [(c["code"], c["value"], c["person"]) for c in exported["checkins"] if c["code"] == "KR2"]
    assert values == [("KR2", 1.8, "chen")]  # zhao's attempt on chen's KR was refused
    runner = Runner(uow=example.uow, platforms=[platform], policy=FAST)
    runner.run(job="reminders", now=moment, force=True)
    assert "KR4" in out.getvalue()


def test_the_timer_ticks_in_the_background(app: App) -> None:
    """`krbot run` starts APScheduler as a timer only: its first tick sends what is due, through the ledger."""
    from bot.timer import Scheduler

    _import(app, owners_yaml(owners=3, zones=("UTC",)))
    with FakePlatformServer() as server:
        timer = Scheduler(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST,
                          clock=lambda: datetime(2026, 10, 5, 9, 30, tzinfo=UTC))
        timer.start()
        try:
            deadline = time.time() + 20
            while server.kinds()["reminder"] < 3 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            timer.stop()
        assert server.kinds()["reminder"] == 3 and server.stats.duplicates == 0


def test_retry_after_is_read_from_the_error_or_its_response() -> None:
    """Platforms say how long to wait either on the error or in the response headers (Slack SDK style)."""
    from types import SimpleNamespace

    from bot.scheduler import retry_after

    assert retry_after(SimpleNamespace(retry_after=1.5)) == 1.5  # type: ignore[arg-type]
    assert retry_after(SimpleNamespace(response=SimpleNamespace(headers={"Retry-After": "3"}))) == 3  # type: ignore[arg-type]
    assert retry_after(RuntimeError("boom")) is None


def test_a_digest_that_could_not_be_posted_is_reported_the_next_week(app: App) -> None:
    """Down through Friday: the digest itself is recorded failed, and next Friday's digest says so."""
    _import(app, owners_yaml(owners=2, zones=("UTC",)))
    behaviour = Behaviour(down=True)
    friday = datetime(2026, 10, 9, 14, 30, tzinfo=UTC)  # 16:30 Berlin
    with FakePlatformServer(behaviour=behaviour) as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        assert runner.tick(now=friday).counts["failed"] == 3  # two chasers (still in their window) and the digest
        behaviour.down = False
        runner.tick(now=friday + timedelta(days=7))
        digests = [item for item in server.stats.received if item["kind"] == "digest"]
    assert len(digests) == 1 and ["digest", "test:boss-room", "2026-W41"] in digests[0]["failed"]
    assert [(row.period, row.status) for row in _rows(app, "digest")] == [("2026-W41", "failed"), ("2026-W42", "sent")]


def test_after_the_cycle_the_final_report_goes_out_and_nobody_is_chased(app: App) -> None:
    """The Friday after the cycle's end: the digest (the final report) is posted, no chaser, no reminder."""
    _import(app, owners_yaml(owners=3, zones=("UTC",)))
    with FakePlatformServer() as server:
        runner = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)], policy=FAST)
        runner.tick(now=datetime(2027, 1, 1, 12, 30, tzinfo=UTC))  # chasers would be due: 16:30 Berlin − 4 h
        runner.tick(now=datetime(2027, 1, 1, 15, 30, tzinfo=UTC))  # the digest: 16:30 Berlin
        got = [item["kind"] for item in server.stats.received]
    assert "chaser" not in got and "reminder" not in got
    assert got.count("digest") == 1
