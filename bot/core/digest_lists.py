"""The digest's lists after its objectives: who has not reported this period and who is away, the KRs gone stale,
and the week's goal changes with their numbers in the measure's unit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta

from bot.core import model
from bot.core.digest_model import ChangeLine, StaleKr
from bot.core.sources import reporters

PERIOD = timedelta(days=7)
STALE_PERIODS = 2


def number_of(text: str | None) -> float | None:
    """A goal change's stored value as a number, when it is one."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def name_of(okrs: model.Okrs, key: str | None) -> str:
    """A person's name by key (the key itself when unknown)."""
    if key is None:
        return ""
    person = okrs.people.get(key)
    return person.name if person else key


def stale_krs(
    *, okrs: model.Okrs, history: Mapping[str, Sequence[model.Checkin]], done: set[str], as_of: datetime
) -> tuple[StaleKr, ...]:
    """KRs with no check-in for two periods or more, counted from the cycle's start or, if later, their import."""
    cycle_start = datetime.combine(okrs.cycle.start, time(), tzinfo=as_of.tzinfo)
    stale = []
    for objective in okrs.objectives:
        for kr in objective.krs():
            if kr.code in done:
                continue
            checkins = history.get(kr.code, ())
            last = checkins[-1].at if checkins else None
            since_last = as_of - max(moment for moment in (last, kr.added, cycle_start) if moment is not None)
            if since_last >= PERIOD * STALE_PERIODS:
                stale.append(
                    StaleKr(code=kr.code, title=kr.title, owner=name_of(okrs, kr.owner), last_at=last, days=since_last.days)
                )
    return tuple(stale)


def missing_people(
    *, okrs: model.Okrs, checkins: Iterable[model.Checkin], done: set[str], as_of: datetime,
    away: Mapping[str, list[tuple[date, date]]],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Who has not checked in this period (and is not away), and who is away."""
    period_start = as_of - PERIOD
    owners: dict[str, list[str]] = defaultdict(list)
    for objective in okrs.objectives:
        if objective.headline is not None and objective.code not in done:
            owners[objective.owner].append(objective.code)
        for kr in objective.krs():
            if kr.code not in done:
                owners[kr.owner].append(kr.code)
    reported = reporters(okrs=okrs, checkins=[c for c in checkins if period_start < c.at <= as_of])
    day = as_of.date()
    away_people = {key for key, spans in away.items() if any(start <= day <= end for start, end in spans)}
    missing = tuple(name_of(okrs, key) for key in owners if key not in reported and key not in away_people)
    away_names = tuple(name_of(okrs, key) for key in owners if key in away_people and key not in reported)
    return missing, away_names


def change_lines(
    *, okrs: model.Okrs, changes: Sequence[model.GoalChange], since: datetime, as_of: datetime
) -> tuple[ChangeLine, ...]:
    """The goal changes between `since` and the as-of time, with their numbers in the measure's unit."""
    units = {
        (owner.code, measure.name): measure.unit
        for objective in okrs.objectives
        for owner in (objective, *objective.krs())
        for measure in owner.measures
    }
    return tuple(
        ChangeLine(
            code=c.code,
            measure=c.measure,
            field=c.field,
            old=c.old,
            new=c.new,
            reason=c.reason,
            person=name_of(okrs, c.person) if c.person else None,
            at=c.at,
            unit=units.get((c.code, c.measure)),
            old_number=number_of(c.old),
            new_number=number_of(c.new),
        )
        for c in changes
        if since < c.at <= as_of
    )
