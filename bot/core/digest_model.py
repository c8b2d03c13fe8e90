"""The boss digest's data, free of words: sections, lines and the whole report that renderers turn into text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.core import model
from bot.core.confidence import Calibration
from bot.core.freshness import Freshness


@dataclass(frozen=True, slots=True)
class MeasureLine:
    """One measure of a KR in the data section: actual against target, forecast or result, range."""

    name: str
    kind: model.MeasureKind
    unit: str | None
    value: float | None
    baseline: float | None
    target: float | None
    limit: float | None
    completion: float | None
    forecast_value: float | None
    forecast_completion: float | None
    reached: bool
    broken: bool
    trend_broken: bool
    too_early: bool = False  # a baseline/target measure without a forecast yet
    data_days: int = 0
    low_completion: float | None = None  # the 80% range as completions
    high_completion: float | None = None
    final: bool = False  # its deadline has passed: forecast_* is the result at the deadline
    met: bool | None = None
    margin: float | None = None  # when final: past (+) or short of (−) the target, in the unit
    deadline: date | None = None
    fresh: Freshness | None = None  # typed or synced, when, its age when older than the period, its source's failure
    reported: bool = True  # a check-in gave it a value (by its deadline, when final): else "not reported"
    goes_down: bool = False  # lower is better: "26% (target 22%)"
    done_at: datetime | None = None  # a milestone: when it was marked done
    days_late: int | None = None  # a milestone: days done after its due, or days past its due and not done
    late_value: float | None = None  # when final: the latest number reported after the deadline, and when
    late_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KrLine:
    """One KR: where it stands, its owner's root cause."""

    code: str
    title: str
    owner: str
    path_code: str
    path_title: str
    status: model.Status
    completion: float | None
    forecast_completion: float | None
    measures: tuple[MeasureLine, ...]
    cause: str | None
    last_at: datetime | None
    impact: model.Level | None
    cause_at: datetime | None = None  # set when the cause is older than this period: shown with its date
    data_days: int = 0
    final: bool = False
    confidence: int | None = None  # the owner's latest confidence this cycle, 0–10
    disagrees: bool = False  # the owner's confidence and the trend's status say opposite things


@dataclass(frozen=True, slots=True)
class MainRisk:
    """The KR most likely to miss, in its owner's words of this period when they gave some."""

    code: str
    title: str
    owner: str
    words: str | None
    forecast_completion: float | None
    sentence: str = ""  # for the conclusion: the words' first sentence (else the title), at most 80 characters


@dataclass(frozen=True, slots=True)
class NextStep:
    """What an owner says they will do next."""

    code: str
    owner: str
    text: str
    at: datetime
    current: bool = True  # given this period; an older one is shown with its date


@dataclass(frozen=True, slots=True)
class AskLine:
    """An open ask, quantified, with who must decide."""

    id: int | None
    code: str
    person: str
    kind: model.AskKind
    amount: float | None
    unit: str | None
    text: str
    deciders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObjectiveSection:
    """The three parts of one objective: conclusion, key data, next steps and asks."""

    code: str
    title: str
    owner: str
    headline: str | None
    headline_unit: str | None
    completion: float | None
    forecast_completion: float | None
    gap: float | None
    status: model.Status
    deadline: date
    main_risk: MainRisk | None
    krs: tuple[KrLine, ...]
    next_steps: tuple[NextStep, ...]
    asks: tuple[AskLine, ...]
    counts: dict[model.Status, int]
    data_days: int = 0
    low_completion: float | None = None  # the headline's 80% range (never a KR mean's)
    high_completion: float | None = None
    final: bool = False  # the final report: the result at the deadline, met or missed
    margin: float | None = None  # when final and read from the headline: past (+) or short of (−), in its unit
    headline_fresh: Freshness | None = None  # the headline's number: typed or synced, its age, its source's failure
    read_at: date | None = None  # the date the forecast or result is read at: the headline's own due, else the deadline
    headline_line: MeasureLine | None = None  # an objective without KRs: its headline as its key data
    disagreement: KrLine | None = None  # the KR whose owner and trend disagree the most, named after the main risk

    @property
    def failing(self) -> tuple[str, ...]:
        """The measures (the headline and the KRs') whose data source failed on its last pull, once each, in order."""
        named = [(self.headline or "", self.headline_fresh), *((m.name, m.fresh) for k in self.krs for m in k.measures)]
        return tuple(dict.fromkeys(name for name, fresh in named if fresh is not None and fresh.failing))


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """A goal change since the last digest."""

    code: str
    measure: str | None
    field: str
    old: str | None
    new: str | None
    reason: str | None
    person: str | None
    at: datetime
    unit: str | None = None
    old_number: float | None = None
    new_number: float | None = None


@dataclass(frozen=True, slots=True)
class OverdueTask:
    """A task past its due date and not done."""

    code: str
    title: str
    owner: str
    due: date
    days_late: int


@dataclass(frozen=True, slots=True)
class StaleKr:
    """A KR with no check-in for two periods or more."""

    code: str
    title: str
    owner: str
    last_at: datetime | None
    days: int


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A scheduled message that could not be delivered after its last try (from the delivery ledger)."""

    kind: str
    target: str
    period: str
    attempts: int
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Unavailable:
    """An objective whose section could not be composed; the rest of the digest still goes out."""

    code: str
    title: str


@dataclass(frozen=True, slots=True)
class Digest:
    """The whole weekly report, free of words: renderers turn it into text, Markdown, Slack or Feishu."""

    workspace: str
    language: str
    timezone: str
    cycle: str
    as_of: datetime
    period_start: datetime
    objectives: tuple[ObjectiveSection, ...]
    missing: tuple[str, ...]
    away: tuple[str, ...]
    changes: tuple[ChangeLine, ...]
    overdue: tuple[OverdueTask, ...]
    stale: tuple[StaleKr, ...]
    open_asks: int
    failed: tuple[FailedDelivery, ...] = ()
    final: bool = False  # after the cycle's end: the final report
    unavailable: tuple[Unavailable, ...] = ()
    calibration: tuple[Calibration, ...] = ()  # the final report: each owner's confidence against the results
    locale: str | None = None  # BCP 47: how the boss channel's numbers are written (None: the language's way)
