"""The digest's shared sentences — a conclusion, a KR, a measure, an ask, a change — each a catalog key filled from one
digest item, in one language, with a surface's own escape for user text. Every surface lays these out its own way
(text, Markdown, the HTML report, Slack blocks, Feishu cards); the words are the catalog's, the choice of key is here.

Plain functions rather than Jinja macros: a 1,000-KR digest writes ten thousand of them, and a macro call costs a
template context of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import source_error_words, translate
from bot.locale_words import percent_for, range_for, value_for

Escape = Callable[..., str]
_NO_LATE = {"late": "", "late_day": ""}  # most measures: nothing reported after their deadline


@lru_cache(maxsize=8192)  # a digest writes the same targets and baselines many times over
def value_words(number: float | None, unit: str | None, lang: str, digits: int | None = 3,
                locale: str | None = None) -> str:
    """A number with its unit in the language's way and the reader's locale, "—" for none."""
    return value_for(number=number, unit=unit, lang=lang, locale=locale, digits=digits)


def percent_words(ratio: float | None, locale: str | None = None) -> str:
    """A completion as a whole percent in the reader's locale, "—" for none."""
    return percent_for(ratio=ratio, locale=locale)


def day_words(moment: date | datetime | None, lang: str, tz: str | None = None) -> str:
    """A date in the language's short form (a moment is read on the `tz` clock); "—" for none."""
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        if tz is not None:
            moment = moment.astimezone(ZoneInfo(tz))
        moment = moment.date()
    return _day_words(moment, lang)


@lru_cache(maxsize=4096)  # a digest writes the same few dates many times over
def _day_words(day: date, lang: str) -> str:
    return translate("format.day", lang=lang, month=day.month, day=day.day, year=day.year)


class DigestLines:
    """The shared sentences of one digest in one language; each method takes the item and the surface's escape."""

    def __init__(self, *, as_of: datetime, lang: str, tz: str, locale: str | None = None) -> None:
        self.as_of, self.lang, self.tz, self.locale = as_of, lang, tz, locale
        self.space = "" if lang == "zh" else " "  # between two sentences: none in Chinese
        self._marks: dict[tuple[Any, ...], str] = {}  # most numbers of a digest carry the same mark ("typed")

    def t(self, key: str, /, **params: Any) -> str:
        """A catalog sentence in this language."""
        return translate(key, lang=self.lang, locale=self.locale, **params)

    def value(self, number: float | None, unit: str | None, digits: int | None = 3) -> str:
        """A number with its unit."""
        return value_words(number, unit, self.lang, digits, self.locale)

    def percent(self, ratio: float | None) -> str:
        """A completion as a whole percent."""
        return percent_words(ratio, self.locale)

    def day(self, moment: date | datetime | None) -> str:
        """A date on the workspace's clock."""
        return day_words(moment, self.lang, self.tz)

    def amount(self, number: float | None, unit: str | None, digits: int | None = 3) -> str:
        """A difference in a measure's unit: a `%` measure's in percentage points ("0.04 pp")."""
        if number is not None and unit == "%":
            return self.t("digest.points", n=self.value(number, None, digits))
        return self.value(number, unit, digits)

    def conclusion(self, o: Any, u: Escape, /) -> str:
        """An objective's conclusion: completion, forecast and its range, the gap, the main risk; then its headline's
        freshness and its sources that are down."""
        risk = o.main_risk
        read_at = o.read_at or o.deadline
        text = self.t(
            "digest.final_conclusion" if o.final else "digest.conclusion",
            date=self.day(self.as_of), code=o.code, title=u(o.title), headline=u(o.headline or ""),
            completion=self.percent(o.completion) if o.completion is not None else None,
            forecast=self.percent(o.forecast_completion) if o.forecast_completion is not None else None,
            range=self.range(o.low_completion, o.high_completion),
            days=o.data_days,
            deadline=self.day(read_at),
            gap=self.amount(o.gap, o.headline_unit) if o.gap else "",
            on_target=o.forecast_completion is not None and o.forecast_completion >= 1,
            met=o.status.value == "met",
            reported=o.status.value != "no_data",
            margin=self.amount(abs(o.margin), o.headline_unit, None) if o.margin else "",
            risk=self.t("digest.risk", code=risk.code, words=u(risk.sentence or risk.title), owner=risk.owner)
            if risk else "",
        )
        fresh = o.headline_fresh
        if fresh and fresh.age_days is not None and not fresh.failing and not o.final:
            words = self.t("digest.fresh", synced=fresh.synced, days=fresh.age_days, failing=False, error="")
            text += self.space + self.t("digest.headline_fresh", name=u(o.headline), fresh=words)
        if o.failing:
            text += self.space + self.t("digest.failing", names=u(", ".join(map(str, o.failing))))
        k = getattr(o, "disagreement", None)
        if k is not None:  # after the main risk: the KR whose owner and trend disagree the most
            text += self.space + self.t("confidence.conclusion", code=k.code, words=self.confidence(k, u))
        return text

    def kr(self, k: Any, u: Escape, /) -> str:
        """A KR's line: owner, status, completion and forecast (or result)."""
        status = "never_reported" if k.final and k.status.value == "no_data" else k.status.value
        return self.t(
            "digest.kr", code=k.code, title=u(k.title), owner=k.owner, status=self.t("status." + status),
            completion=self.percent(k.completion) if k.completion is not None else "",
            forecast=self.percent(k.forecast_completion) if k.forecast_completion is not None else "", final=k.final,
        ) + self.confidence_mark(k, u)

    def confidence(self, k: Any, u: Escape, /) -> str:
        """The owner's latest confidence (`owner 8/10`), or, when it disagrees with the trend, both side by side."""
        if k.confidence is None:
            return ""
        if k.disagrees:
            forecast = self.percent(k.forecast_completion) if k.forecast_completion is not None else "—"
            return self.t("confidence.disagrees", owner=u(k.owner), score=k.confidence, forecast=forecast)
        return self.t("confidence.kr", score=k.confidence)

    def confidence_mark(self, k: Any, u: Escape, /) -> str:
        """The confidence as a mark after a KR's line (nothing when none was given)."""
        words = self.confidence(k, u)
        return " · " + words if words else ""

    def calibration(self, c: Any, u: Escape, /) -> str:
        """One owner's confidence four weeks before each deadline against the result."""
        krs = [{"code": k.code, "score": k.score, "met": k.met,
                "reached": self.percent(k.reached) if k.reached is not None else ""} for k in c.krs]
        return self.t("confidence.calibration", owner=u(c.owner), krs=krs)

    def measure(self, m: Any, u: Escape, /) -> str:
        """A measure's line by its kind (target, milestone, limit), then where its number came from."""
        kind = m.kind.value
        deadline = self.day(m.deadline)
        late = _NO_LATE if m.late_value is None or not m.final else {
            "late": self.value(m.late_value, m.unit, None), "late_day": self.day(m.late_at),
        }
        if kind == "target":
            text = self.t(
                "digest.measure.target", name=u(m.name), value=self.value(m.value, m.unit, None),
                target=self.value(m.target, m.unit, None), completion=self.percent(m.completion),
                forecast=self.value(m.forecast_value, m.unit) if m.forecast_value is not None else "",
                forecast_completion=self.percent(m.forecast_completion) if m.forecast_completion is not None else "",
                range=self.range(m.low_completion, m.high_completion),
                too_early=m.too_early, days=m.data_days, final=m.final, met=m.met, reported=m.reported,
                down=m.goes_down, margin=self.amount(abs(m.margin), m.unit, None) if m.margin else "",
                deadline=deadline, **late,
            )
        elif kind == "milestone":
            text = self.t(
                "digest.measure.milestone", name=u(m.name), reached=m.reached, final=m.final, met=m.met,
                deadline=deadline, reported=m.reported, days_late=m.days_late, done_day=self.day(m.done_at),
            )
        else:
            text = self.t(
                "digest.measure." + kind, name=u(m.name), value=self.value(m.value, m.unit, None),
                limit=self.value(m.limit, m.unit, None), broken=m.broken, trend_broken=m.trend_broken, final=m.final,
                met=m.met, deadline=deadline, reported=m.reported, **late,
            )
        return text + self.mark(m.fresh, u)

    def mark(self, f: Any, u: Escape, /) -> str:
        """Where a number came from (typed or synced), its age when older than the period, its source's last failure."""
        if not f:
            return ""
        key = (f.synced, f.age_days, f.failing, f.error, u)
        known = self._marks.get(key)
        if known is None:
            words = self.t("digest.fresh", synced=f.synced, days=f.age_days, failing=f.failing,
                           error=u(source_error_words(f.error, lang=self.lang), 120))
            known = self._marks[key] = " · " + words if words else ""
        return known

    def step(self, s: Any, u: Escape, /) -> str:
        """A next step with its owner (dated when it is not this period's)."""
        return self.t("digest.step", code=s.code, owner=s.owner, text=u(s.text), dated="" if s.current else self.day(s.at))

    def cause(self, k: Any, u: Escape, /) -> str:
        """The owner's root cause of a KR."""
        return self.t("digest.cause", text=u(k.cause), dated=self.day(k.cause_at) if k.cause_at else "")

    def unavailable(self, x: Any, u: Escape, /) -> str:
        """An objective whose data could not be read this time."""
        return self.t("digest.unavailable", code=x.code, title=u(x.title))

    def ask(self, a: Any, u: Escape, /) -> str:
        """An open ask: kind, amount, words, who asked and who decides."""
        kind = a.kind.value
        if a.amount is None:
            amount = ""
        elif kind == "people":
            amount = self.t("digest.people", n=int(a.amount))
        else:
            amount = self.value(a.amount, a.unit, None)
        return self.t(
            "digest.ask", id=a.id, kind=self.t("ask_kind." + kind), amount=amount, text=u(a.text), person=a.person,
            code=a.code, deciders="/".join(map(str, a.deciders)),
        )

    def change(self, c: Any, u: Escape, /) -> str:
        """A goal change: field, old and new (numbers with their unit), who and why."""
        numeric = c.field != "due"
        old = self.value(c.old_number, c.unit, None) if c.old_number is not None and numeric else u(c.old or "—")
        new = self.value(c.new_number, c.unit, None) if c.new_number is not None and numeric else u(c.new or "—")
        reason = self.t("change.reason_import") if c.reason == "import" else u(c.reason or "")
        return self.t(
            "digest.change", code=c.code, measure=u(c.measure or ""), field=self.t("field." + c.field), old=old,
            new=new, person=c.person or "", reason=reason,
        )

    def range(self, low: float | None, high: float | None) -> str:
        """A forecast's range of completions, or nothing when either end is unknown or both ends print alike."""
        if low is None or high is None or self.percent(low) == self.percent(high):
            return ""
        return range_for(low=low, high=high, locale=self.locale)
