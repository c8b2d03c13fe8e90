"""The OKR file's shape: one pydantic model per part (workspace, people, cycle, objectives, paths, KRs, measures, tasks)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.core import model
from bot.core.bounds import bounds_problem
from bot.core.errors import KrbotError
from bot.core.numbers import EN_STYLE, NumberStyle
from bot.core.values import canonical_unit, read_value
from bot.locales import check_locale, default_locale, number_style
from bot.okrfile.feeds import SourceSpec, WebhookSpec, _problem, _Strict

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")


_TIME = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)\s+([01]?\d|2[0-3]):[0-5]\d$", re.IGNORECASE)


_DAILY = re.compile(r"^daily\s+([01]?\d|2[0-3]):[0-5]\d$", re.IGNORECASE)


_SLACK_TEAM = re.compile(r"^[TE][A-Z0-9]{2,}$")  # a Slack team (or Enterprise Grid org) id


class WorkspaceSpec(_Strict):
    """The `workspace:` block."""

    name: str = Field(min_length=1)
    language: Literal["zh", "en"] = "zh"
    timezone: str = "UTC"
    boss_channel: dict[Literal["slack", "feishu"], str] = Field(default_factory=dict)
    reminder: str = "thu 10:00"
    digest: str = "fri 17:00"
    slack_team: str | None = None
    locale: str | None = None
    sync: str = model.DEFAULT_SYNC
    webhooks: list[WebhookSpec] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("sync")
    @classmethod
    def _sync_time(cls, value: str) -> str:
        if not (_DAILY.match(value) or _TIME.match(value)):
            raise _problem("sync_time", word=value)
        return " ".join(value.lower().split())

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        return None if value is None else _check_locale(value)

    @field_validator("slack_team")
    @classmethod
    def _team_id(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_TEAM.match(value):
            raise _problem("slack_team", word=value)
        return value

    @field_validator("reminder", "digest")
    @classmethod
    def _weekly_time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise _problem("weekly_time", word=value)
        return value.lower()


class PersonSpec(_Strict):
    """One entry of `people:`."""

    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1)
    role: Literal["boss", "admin", "member"] = "member"
    slack: str | None = None
    feishu: str | None = None
    timezone: str | None = None
    department: str | None = None
    locale: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        return None if value is None else _check_locale(value)


class CycleSpec(_Strict):
    """The `cycle:` block."""

    name: str = Field(min_length=1)
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> CycleSpec:
        if self.end < self.start:
            raise _problem("cycle_order", start=str(self.start), end=str(self.end))
        return self


class MeasureSpec(_Strict):
    """A measure: baseline+target, at_most, at_least, or milestone."""

    name: str = Field(min_length=1, max_length=200)
    unit: str | None = None
    baseline: float | None = None
    target: float | None = None
    at_most: float | None = None
    at_least: float | None = None
    milestone: bool = False
    due: date | None = None
    was: str | None = Field(default=None, min_length=1, max_length=200)
    source: SourceSpec | None = None
    min: float | None = None  # no forecast below it
    max: float | None = None  # no forecast above it

    @field_validator("baseline", "target", "at_most", "at_least", "min", "max", mode="before")
    @classmethod
    def _written_number(cls, value: Any, info: ValidationInfo) -> Any:
        """A YAML number stays a number; a string with separators is read like a check-in (§6)."""
        if not isinstance(value, str):
            return value
        style = (info.context or {}).get("style", EN_STYLE)
        try:
            return read_value(text=value, unit=info.data.get("unit"), style=style)
        except KrbotError as error:
            raise _problem("value", detail=error.key, **error.params) from None

    @model_validator(mode="after")
    def _one_kind(self) -> MeasureSpec:
        kinds = [
            name
            for name, present in (
                ("baseline+target", self.baseline is not None or self.target is not None),
                ("at_most", self.at_most is not None),
                ("at_least", self.at_least is not None),
                ("milestone", self.milestone),
            )
            if present
        ]
        if len(kinds) != 1:
            raise _problem("measure_kind", name=self.name, found=", ".join(kinds))
        if kinds == ["baseline+target"] and (self.baseline is None or self.target is None):
            missing = "target" if self.target is None else "baseline"
            raise _problem("measure_missing", name=self.name, missing=missing)
        if kinds == ["baseline+target"] and self.baseline == self.target:
            raise _problem("measure_flat", name=self.name)
        problem = bounds_problem(
            unit=canonical_unit(unit=self.unit), minimum=self.min, maximum=self.max, milestone=self.milestone,
            numbers={"baseline": self.baseline, "target": self.target, "at_most": self.at_most, "at_least": self.at_least},
        )
        if problem is not None:
            key, words = problem
            raise _problem(key, name=self.name, unit=canonical_unit(unit=self.unit), **words)
        return self

    def to_domain(self) -> model.Measure:
        """The plain measure."""
        source = None if self.source is None else self.source.to_domain()
        if self.milestone:
            return model.Measure(name=self.name, kind=model.MeasureKind.MILESTONE, due=self.due, source=source)
        unit = canonical_unit(unit=self.unit)
        if self.at_most is not None:
            return model.Measure(
                name=self.name, kind=model.MeasureKind.AT_MOST, unit=unit, limit=self.at_most, due=self.due,
                source=source, minimum=self.min, maximum=self.max,
            )
        if self.at_least is not None:
            return model.Measure(
                name=self.name, kind=model.MeasureKind.AT_LEAST, unit=unit, limit=self.at_least, due=self.due,
                source=source, minimum=self.min, maximum=self.max,
            )
        return model.Measure(
            name=self.name,
            kind=model.MeasureKind.TARGET,
            unit=unit,
            baseline=self.baseline,
            target=self.target,
            due=self.due,
            source=source,
            minimum=self.min,
            maximum=self.max,
        )


class TaskSpec(_Strict):
    """A task of a KR: one owner, a due date, buffer days."""

    title: str = Field(min_length=1, max_length=500)
    owner: str
    due: date
    buffer_days: int = Field(default=0, ge=0)
    duration_days: int = Field(default=0, ge=0)
    critical: bool = False
    done: bool = False


class KrSpec(_Strict):
    """A key result."""

    code: str
    title: str = Field(min_length=1)
    owner: str
    accountable: str | None = None
    consulted: list[str] = Field(default_factory=list)
    informed: list[str] = Field(default_factory=list)
    delegates: list[str] = Field(default_factory=list)
    contributors: dict[str, str] = Field(default_factory=dict)
    control: Literal["high", "medium", "low"] | None = None
    impact: Literal["high", "medium", "low"] | None = None
    measures: list[MeasureSpec] = Field(min_length=1)
    tasks: list[TaskSpec] = Field(default_factory=list)
    was: str | None = None

    @field_validator("code", "was")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return None if value is None else _check_code(value)

    @field_validator("owner", mode="before")
    @classmethod
    def _single_owner(cls, value: Any) -> Any:
        if isinstance(value, list):
            raise _problem("one_owner")
        return value


class PathSpec(_Strict):
    """A strategic path."""

    code: str
    title: str = Field(min_length=1)
    priority: int | None = Field(default=None, ge=1)
    scores: dict[Literal["roi", "resources", "difficulty"], Literal["high", "medium", "low"]] = Field(
        default_factory=dict
    )
    krs: list[KrSpec] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        return _check_code(value)


class AchievableSpec(_Strict):
    """The budget check: budget, cost per new customer, order value, each an amount with a currency."""

    budget: str | float | None = None
    cost_per_new_customer: str | float | None = None
    order_value: str | float | None = None


class ObjectiveSpec(_Strict):
    """An objective with its SMART fields."""

    code: str
    title: str = Field(min_length=1)
    owner: str
    strategy: str | None = None
    deadline: date | None = None
    measures: list[MeasureSpec] = Field(default_factory=list)
    achievable: AchievableSpec | None = None
    paths: list[PathSpec] = Field(default_factory=list)
    was: str | None = None

    @field_validator("code", "was")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return None if value is None else _check_code(value)


class OkrFile(_Strict):
    """The whole file."""

    revision: int | None = Field(default=None, ge=0)  # written by `krbot export --format yaml`; None: by hand
    workspace: WorkspaceSpec
    people: list[PersonSpec] = Field(min_length=1)
    cycle: CycleSpec
    objectives: list[ObjectiveSpec] = Field(default_factory=list)


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem("timezone", word=value) from None
    return value


def _check_locale(value: str) -> str:
    try:
        return check_locale(tag=value)
    except KrbotError:
        raise _problem("locale", word=value) from None


def style_of(raw: Any) -> NumberStyle:
    """The number style of the file's workspace locale (its language's default when it names none)."""
    workspace = raw.get("workspace") if isinstance(raw, dict) else None
    workspace = workspace if isinstance(workspace, dict) else {}
    language = workspace.get("language") if workspace.get("language") in ("zh", "en") else "zh"
    tag = workspace.get("locale") or default_locale(language=language)
    try:
        return number_style(locale=check_locale(tag=str(tag)))
    except KrbotError:
        return EN_STYLE


def _check_code(value: str) -> str:
    if not _CODE.match(value):
        raise _problem("code", word=value)
    return value.upper()


def unique_measures(measures: list[MeasureSpec], loc: tuple[Any, ...], fail: Any) -> None:
    names: set[str] = set()
    for index, measure in enumerate(measures):
        if measure.name.casefold() in names:
            raise fail((*loc, index, "name"), "twice", word=measure.name)
        names.add(measure.name.casefold())
