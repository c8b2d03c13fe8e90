"""One KR's or objective's page, as data: each measure's daily points, chart and progress, and one timeline of its
check-ins, asks, decisions and goal changes, newest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.core import model
from bot.core.burnup import Burnup
from bot.core.measures import MeasureProgress
from bot.core.progress import measure_progress


@dataclass(frozen=True, slots=True)
class MeasureView:
    """One measure: where it stands, its chart (none for a milestone), and its last value of each day."""

    measure: model.Measure
    progress: MeasureProgress
    chart: Burnup | None
    days: tuple[tuple[date, float], ...]


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline: a check-in, an ask raised, its decision, or a goal change."""

    at: datetime
    kind: str  # checkin | ask | decision | change
    code: str
    person: str | None
    values: tuple[tuple[str, float, str | None], ...] = ()  # (measure, value, unit) of a check-in
    note: str | None = None
    next_step: str | None = None
    risk: str | None = None
    synced: bool = False
    text: str | None = None  # the ask's words
    status: str | None = None  # the decision: approved | declined
    measure: str | None = None  # the goal change's measure, field, old and new, and why
    field: str | None = None
    old: str | None = None
    new: str | None = None
    reason: str | None = None


def _day_values(*, checkins: Sequence[model.Checkin], name: str, as_of: datetime) -> list[tuple[datetime, float]]:
    """A measure's last value of each calendar day (on as_of's clock) up to as_of, oldest first."""
    kept: dict[date, tuple[datetime, float]] = {}
    for checkin in checkins:
        if name in checkin.values and checkin.at <= as_of:
            local = checkin.at.astimezone(as_of.tzinfo)
            held = kept.get(local.date())
            if held is None or local >= held[0]:
                kept[local.date()] = (local, checkin.values[name])
    return [kept[day] for day in sorted(kept)]


def measure_views(
    *, target: model.KeyResult | model.Objective, checkins: Sequence[model.Checkin], cycle: model.Cycle,
    objective_deadline: date | None, as_of: datetime, known: Sequence[MeasureProgress] = (),
) -> tuple[MeasureView, ...]:
    """Every measure of a KR or objective as of `as_of` (on the workspace's clock), with its chart; `known`: the
    measures' progress already read (a KR's progress holds them), not read again."""
    start = datetime.combine(cycle.start, time.min, tzinfo=as_of.tzinfo)
    read = {id(p.measure): p for p in known}
    views = []
    for measure in target.measures:
        progress = read.get(id(measure)) or measure_progress(
            measure=measure, checkins=checkins, code=target.code, cycle=cycle, objective_deadline=objective_deadline,
            as_of=as_of)
        daily = [(at, value) for at, value in _day_values(checkins=checkins, name=measure.name, as_of=as_of)
                 if at >= start]
        chart = None
        line = (measure.baseline, measure.target) if measure.kind is model.MeasureKind.TARGET else (
            measure.limit, measure.limit)
        if line[0] is not None and line[1] is not None:
            guard = measure.kind is not model.MeasureKind.TARGET
            chart = Burnup(
                code=target.code, measure=measure.name, unit=measure.unit, start=start,
                deadline=datetime.combine(progress.deadline + timedelta(days=1), time.min, tzinfo=as_of.tzinfo),
                baseline=line[0], target=line[1], points=tuple(daily), as_of=as_of,
                forecast_value=None if guard else progress.forecast_value,
                low_value=None if guard else progress.low_value, high_value=None if guard else progress.high_value,
                final=progress.final, from_baseline=not guard,
            )
        views.append(MeasureView(measure=measure, progress=progress, chart=chart,
                                 days=tuple((at.date(), value) for at, value in daily)))
    return tuple(views)


def timeline(
    *, checkins: Sequence[model.Checkin], asks: Sequence[model.Ask], changes: Sequence[model.GoalChange],
    units: Mapping[str, str | None], as_of: datetime,
) -> tuple[Event, ...]:
    """Check-ins, asks, decisions and goal changes up to `as_of`, newest first."""
    events = [
        Event(at=c.at, kind="checkin", code=c.code, person=c.person,
              values=tuple((name, value, units.get(name)) for name, value in c.values.items()),
              note=c.note, next_step=c.next_step, risk=c.risk, synced=c.synced)
        for c in checkins if c.at <= as_of
    ]
    for ask in asks:
        if ask.at <= as_of:
            events.append(Event(at=ask.at, kind="ask", code=ask.code, person=ask.person, text=ask.text))
        if ask.decided_at is not None and ask.decided_at <= as_of:
            events.append(Event(at=ask.decided_at, kind="decision", code=ask.code, person=ask.decided_by, text=ask.text,
                                status=ask.status.value))
    events += [
        Event(at=g.at, kind="change", code=g.code, person=g.person, measure=g.measure, field=g.field,
              old=g.old, new=g.new,
              reason=g.reason)
        for g in changes if g.at <= as_of
    ]
    order = {"change": 0, "ask": 1, "checkin": 2, "decision": 3}
    return tuple(sorted(events, key=lambda e: (e.at, order[e.kind]), reverse=True))
