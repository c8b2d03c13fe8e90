"""The plain domain of krbot: workspace, people, cycle, objectives, paths, KRs, measures, check-ins, asks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Role(StrEnum):
    """What a person may do beyond their own KRs."""

    BOSS = "boss"
    ADMIN = "admin"
    MEMBER = "member"


class MeasureKind(StrEnum):
    """How a measure is judged."""

    TARGET = "target"  # baseline -> target, up or down
    AT_MOST = "at_most"  # guardrail: value must stay <= limit
    AT_LEAST = "at_least"  # guardrail: value must stay >= limit
    MILESTONE = "milestone"  # done or not


class AskKind(StrEnum):
    """What an ask requests."""

    MONEY = "money"
    PEOPLE = "people"
    PERMISSION = "permission"
    OTHER = "other"


class AskStatus(StrEnum):
    """Where an ask stands."""

    OPEN = "open"
    APPROVED = "approved"
    DECLINED = "declined"


class Status(StrEnum):
    """A KR's or objective's state in the digest."""

    DONE = "done"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    TOO_EARLY = "too_early"  # no measure has a forecast yet
    MET = "met"  # every deadline has passed and every measure reached its target
    MISSED = "missed"  # every deadline has passed and some measure fell short
    NO_DATA = "no_data"


class Level(StrEnum):
    """High or low, for control and impact (the priority matrix) and path scores."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone the bot knows: their id in the OKR file, chat ids and timezone."""

    key: str
    name: str
    role: Role = Role.MEMBER
    timezone: str | None = None
    slack_id: str | None = None
    feishu_id: str | None = None
    department: str | None = None
    locale: str | None = None  # BCP 47; None: the workspace's


@dataclass(frozen=True, slots=True)
class Source:
    """Where a measure pulls its value instead of asking its owner: one SQL query, or one JSON document (§9)."""

    sql: str | None = None  # a query returning one row with one number
    database_env: str | None = None  # the environment variable holding the SQLAlchemy URL it runs against
    url: str | None = None  # a JSON document fetched over HTTP(S)
    json_path: str | None = None  # where the number sits in it, e.g. $.data.gmv
    headers_env: str | None = None  # an environment variable holding the request's headers as JSON

    @property
    def kind(self) -> str:
        """`sql` or `url`."""
        return "sql" if self.sql is not None else "url"


@dataclass(frozen=True, slots=True)
class Measure:
    """One number (or milestone) of an objective or KR; `limit` is the guardrail's bound."""

    name: str
    kind: MeasureKind
    unit: str | None = None
    baseline: float | None = None
    target: float | None = None
    limit: float | None = None
    due: date | None = None
    source: Source | None = None  # pulled from a data source; None: typed by its owner
    minimum: float | None = None  # `min:` in the file: no forecast or range below it
    maximum: float | None = None  # `max:` in the file: no forecast or range above it

    @property
    def is_guardrail(self) -> bool:
        """True for at_most / at_least measures, which never enter a completion mean."""
        return self.kind in (MeasureKind.AT_MOST, MeasureKind.AT_LEAST)

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The values a forecast may take: the declared `min`/`max`, a `%` measure 0–100 unless it declares its own."""
        if self.minimum is None and self.maximum is None and self.unit == "%":
            return 0.0, 100.0
        return self.minimum, self.maximum

    @property
    def goes_down(self) -> bool:
        """True when the target is below the baseline (e.g. response hours)."""
        return (
            self.kind is MeasureKind.TARGET
            and self.baseline is not None
            and self.target is not None
            and self.target < self.baseline
        )


@dataclass(frozen=True, slots=True)
class Task:
    """A step of a KR with exactly one owner, planned backwards from a due date."""

    title: str
    owner: str
    due: date
    buffer_days: int = 0
    critical: bool = False
    done: bool = False
    duration_days: int = 0


@dataclass(frozen=True, slots=True)
class KeyResult:
    """A KR: one owner, RACI, control and impact, measures and tasks."""

    code: str
    title: str
    owner: str
    measures: tuple[Measure, ...]
    accountable: str | None = None
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()
    delegates: tuple[str, ...] = ()
    contributors: dict[str, str] = field(default_factory=dict)  # department -> the person contributing from it
    control: Level | None = None
    impact: Level | None = None
    tasks: tuple[Task, ...] = ()
    added: datetime | None = None  # when it was first imported (stale counts from then when mid-cycle)


@dataclass(frozen=True, slots=True)
class StrategicPath:
    """A route to an objective, ranked by priority (1 first)."""

    code: str
    title: str
    priority: int | None
    krs: tuple[KeyResult, ...]
    scores: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Achievable:
    """The A of SMART: the budget check's inputs (amounts in `unit`)."""

    budget: float | None = None
    cost_per_new_customer: float | None = None
    order_value: float | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Objective:
    """A SMART objective: the first measure is its headline."""

    code: str
    title: str
    owner: str
    measures: tuple[Measure, ...]
    paths: tuple[StrategicPath, ...]
    strategy: str | None = None
    deadline: date | None = None
    achievable: Achievable | None = None

    @property
    def headline(self) -> Measure | None:
        """The measure the conclusion speaks of."""
        return self.measures[0] if self.measures else None

    def krs(self) -> list[KeyResult]:
        """All KRs, paths in the order given."""
        return [kr for path in self.paths for kr in path.krs]


@dataclass(frozen=True, slots=True)
class Cycle:
    """One OKR period, e.g. 2026-Q4."""

    name: str
    start: date
    end: date


class WebhookEvent(StrEnum):
    """What an outbound webhook may be told of (§9)."""

    CHECKIN_SAVED = "checkin.saved"
    ASK_DECIDED = "ask.decided"
    GOAL_CHANGED = "goal.changed"
    DIGEST_POSTED = "digest.posted"


@dataclass(frozen=True, slots=True)
class Webhook:
    """An outbound webhook: where to post, which events, and the variable holding its signing secret."""

    url: str
    events: tuple[WebhookEvent, ...]
    secret_env: str


DEFAULT_SYNC = "daily 06:00"  # when data sources are pulled unless the workspace says otherwise


@dataclass(frozen=True, slots=True)
class Workspace:
    """A team: its language, timezone, boss channels and weekly times."""

    name: str
    language: str = "zh"
    timezone: str = "UTC"
    boss_channel: dict[str, str] = field(default_factory=dict)
    reminder: str = "thu 10:00"
    digest: str = "fri 17:00"
    slack_team: str | None = None
    locale: str | None = None  # BCP 47; None: zh-CN for zh, en-US for en
    sync: str = DEFAULT_SYNC  # when data sources are pulled ("daily 06:00" or a weekly time)
    webhooks: tuple[Webhook, ...] = ()

    @property
    def number_locale(self) -> str:
        """The locale numbers are read and written in when a person names none."""
        return self.locale or ("zh-CN" if self.language == "zh" else "en-US")


@dataclass(frozen=True, slots=True)
class Okrs:
    """A workspace's current cycle with its objectives and people: what the digest reads."""

    workspace: Workspace
    people: dict[str, Person]
    cycle: Cycle
    objectives: tuple[Objective, ...]

    def locale_of(self, *, person: str) -> str:
        """The locale a person's numbers are read and written in: their own, else the workspace's."""
        found = self.people.get(person)
        return (found.locale if found is not None else None) or self.workspace.number_locale

    def owner_of(self, *, code: str) -> KeyResult | Objective | None:
        """The KR or objective with this code, if any."""
        for objective in self.objectives:
            if objective.code == code:
                return objective
            for kr in objective.krs():
                if kr.code == code:
                    return kr
        return None


@dataclass(frozen=True, slots=True)
class Checkin:
    """One report of numbers for a KR or objective: values by measure name, and the owner's words."""

    code: str
    person: str
    at: datetime
    values: dict[str, float]
    note: str | None = None
    next_step: str | None = None
    risk: str | None = None
    source: str | None = None  # where it came from: slack, feishu, cli, csv, api, hook … or SYNCED
    confidence: int | None = None  # the owner's own call on reaching the target by the deadline, 0–10 (§6)

    @property
    def synced(self) -> bool:
        """True when a data source pulled it, not a person."""
        return self.source == SYNCED


SYNCED = "sync"  # the source of a check-in a data source made


@dataclass(frozen=True, slots=True)
class Ask:
    """A request for resources raised in a check-in, decided by the boss or an admin."""

    id: int | None
    code: str
    person: str
    kind: AskKind
    text: str
    at: datetime
    amount: float | None = None
    unit: str | None = None
    status: AskStatus = AskStatus.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None

    def open_at(self, moment: datetime) -> bool:
        """True when the ask had been raised and not yet decided at `moment`."""
        undecided = self.status is AskStatus.OPEN or (self.decided_at is not None and self.decided_at > moment)
        return undecided and self.at <= moment


@dataclass(frozen=True, slots=True)
class GoalChange:
    """A logged change of a goal: which field of which measure, old and new, why, who, when."""

    code: str
    field: str
    old: str | None
    new: str | None
    reason: str | None
    person: str | None
    at: datetime
    measure: str | None = None
