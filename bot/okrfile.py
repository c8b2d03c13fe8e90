"""The OKR file (CONTRACT §5): YAML validated with pydantic into the plain domain, errors located by path and line."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.numbers import EN_STYLE, NumberStyle
from bot.core.values import canonical_unit, read_value
from bot.locales import check_locale, default_locale, number_style
from bot.yamlload import MAX_YAML_DEPTH, MAX_YAML_NODES
from bot.yamlload import Loader as _Loader
from bot.yamlload import Refused as _Refused

_LANGUAGE_LINE = re.compile(r"\blanguage:\s*[\"']?(zh|en)\b")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
_TIME = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)\s+([01]?\d|2[0-3]):[0-5]\d$", re.IGNORECASE)
_SLACK_TEAM = re.compile(r"^[TE][A-Z0-9]{2,}$")  # a Slack team (or Enterprise Grid org) id


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

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

    @field_validator("baseline", "target", "at_most", "at_least", mode="before")
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
        return self

    def to_domain(self) -> model.Measure:
        """The plain measure."""
        if self.milestone:
            return model.Measure(name=self.name, kind=model.MeasureKind.MILESTONE, due=self.due)
        unit = canonical_unit(unit=self.unit)
        if self.at_most is not None:
            return model.Measure(
                name=self.name, kind=model.MeasureKind.AT_MOST, unit=unit, limit=self.at_most, due=self.due
            )
        if self.at_least is not None:
            return model.Measure(
                name=self.name, kind=model.MeasureKind.AT_LEAST, unit=unit, limit=self.at_least, due=self.due
            )
        return model.Measure(
            name=self.name,
            kind=model.MeasureKind.TARGET,
            unit=unit,
            baseline=self.baseline,
            target=self.target,
            due=self.due,
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


def _style_of(raw: Any) -> NumberStyle:
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


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its nearest existing parent."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next((value for key, value in node.value if getattr(key, "value", None) == part), None)
            if match is None:
                match = next((key for key, _ in node.value if getattr(key, "value", None) == part), None)
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _yaml_error(error: yaml.YAMLError, *, filename: str) -> KrbotError:
    """A YAML error as the located refusal the user reads."""
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, _Refused):
        return _file_error(
            filename=filename, line=line, field="", problem=str(error.problem),
            limit=MAX_YAML_NODES if error.problem == "aliases" else MAX_YAML_DEPTH,
        )
    detail = getattr(error, "problem", None) or str(error)
    return _file_error(filename=filename, line=line, field="", problem="yaml", detail=detail)


_THOUSAND_OR_DECIMAL = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}")


def _float_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A YAML float, except `200.000`, which a de or fr writer means as 200000: kept as text for §6 to read."""
    if _THOUSAND_OR_DECIMAL.fullmatch(node.value):
        return node.value
    return loader.construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _float_or_text)


def load_yaml(*, text: str, filename: str) -> Any:
    """The file's YAML as plain data (dates left as text); a syntax error is refused with its line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as error:
        raise _yaml_error(error, filename=filename) from None


def file_language(*, text: str) -> str:
    """The workspace language a file asks for, to word its own errors in ("en" when unreadable)."""
    try:
        language = yaml.load(text, Loader=_Loader)["workspace"]["language"]  # noqa: S506 - a SafeLoader
    except _Refused:  # readable but refused unbuilt (aliases, nesting): worded in its `language:`
        found = _LANGUAGE_LINE.search(text)
        return found.group(1) if found else "en"
    except Exception:  # noqa: BLE001 - an unreadable file is worded in English
        return "en"
    return language if language in ("zh", "en") else "en"


def _file_error(*, filename: str, line: int | None, field: str, problem: str, **params: Any) -> KrbotError:
    """One located problem: `problem` names the sentence okrfile.problem.<problem> in the catalog."""
    where = f"{filename}:{line}" if line else filename
    return KrbotError(
        "okrfile.invalid", where=where, field=field, problem=f"okrfile.problem.{problem}", **params
    )


_PYDANTIC_PROBLEMS = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "literal_error": "choice",
    "enum": "choice",
    "date_from_datetime_parsing": "date",
    "date_parsing": "date",
    "date_type": "date",
    "float_parsing": "number",
    "float_type": "number",
    "int_parsing": "whole_number",
    "int_type": "whole_number",
    "int_from_float": "whole_number",
    "bool_parsing": "boolean",
    "bool_type": "boolean",
    "string_type": "text",
    "string_too_short": "empty",
    "string_too_long": "too_long",
    "too_short": "empty_list",
    "list_type": "list",
    "dict_type": "mapping",
    "model_type": "mapping",
    "model_attributes_type": "mapping",
    "greater_than_equal": "too_small",
}


def _pydantic_problem(error: Any) -> tuple[str, dict[str, Any]]:
    """Our catalog key and its words for one pydantic error."""
    kind = str(error.get("type", ""))
    if kind.startswith("okr_"):
        return kind.removeprefix("okr_"), dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        return "unknown_field", {"known": ", ".join(_fields_at(tuple(error.get("loc", ()))[:-1]))}
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else str(got)
    ctx = dict(error.get("ctx") or {})
    return _PYDANTIC_PROBLEMS.get(kind, "other"), {
        "got": shown,
        "expected": str(ctx.get("expected", "")),
        "limit": str(ctx.get("ge", ctx.get("max_length", ""))),
        "detail": str(error.get("msg", "")),
    }


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names the file allows at `loc` (for an unknown field: what would work instead)."""
    from typing import get_args, get_origin

    current: Any = OkrFile
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = current.model_fields[part].annotation if part in getattr(current, "model_fields", {}) else None
        while annotation is not None and get_origin(annotation) is not None:
            inner = [arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
            annotation = inner[0] if inner else None
        if annotation is None or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return list(current.model_fields)


def _problem(key: str, /, **params: Any) -> PydanticCustomError:
    """A validation failure that carries our catalog key (okrfile.problem.<key>) and its words."""
    return PydanticCustomError(f"okr_{key}", key, params)


def parse_okr_file(*, text: str, filename: str = "okrs.yaml") -> tuple[OkrFile, yaml.Node | None]:
    """Read and validate an OKR file; raise KrbotError naming the line and field of the first problem."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as error:
        raise _yaml_error(error, filename=filename) from None
    if not isinstance(raw, dict):
        raise _file_error(filename=filename, line=1, field="", problem="top")
    try:
        spec = OkrFile.model_validate(raw, context={"style": _style_of(raw)})
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        problem, params = _pydantic_problem(first)
        raise _file_error(
            filename=filename, line=_line_of(root, loc), field=_location(loc), problem=problem, **params
        ) from None
    _check_references(spec=spec, root=root, filename=filename)
    return spec, root


def refusals(*, text: str, filename: str) -> list[KrbotError]:
    """Every reason import would refuse the file: all field errors at once, else the first broken reference."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        raw = load_yaml(text=text, filename=filename)
    except (KrbotError, yaml.YAMLError) as error:
        return (
            [error]
            if isinstance(error, KrbotError)
            else [_yaml_error(error, filename=filename)]
        )
    if not isinstance(raw, dict):
        return [_file_error(filename=filename, line=1, field="", problem="top")]
    try:
        spec = OkrFile.model_validate(raw, context={"style": _style_of(raw)})
    except ValidationError as error:
        found = []
        for item in error.errors():
            loc = tuple(item["loc"])
            problem, params = _pydantic_problem(item)
            found.append(
                _file_error(
                    filename=filename,
                    line=_line_of(root, loc),
                    field=_location(loc),
                    problem=problem,
                    **params,
                )
            )
        return found
    try:
        _check_references(spec=spec, root=root, filename=filename)
    except KrbotError as error:
        return [error]
    return []


def _check_references(*, spec: OkrFile, root: yaml.Node | None, filename: str) -> None:
    """Every person named exists, codes are unique, each KR and task has exactly one known owner."""
    people = [person.id for person in spec.people]
    known = set(people)

    def fail(loc: tuple[Any, ...], problem: str, **params: Any) -> KrbotError:
        return _file_error(
            filename=filename, line=_line_of(root, loc), field=_location(loc), problem=problem, **params
        )

    def person(loc: tuple[Any, ...], key: str | None) -> None:
        if key is not None and key not in known:
            raise fail(loc, "unknown_person", word=key, known=", ".join(people))

    seen_people: set[str] = set()
    for index, entry in enumerate(spec.people):
        if entry.id in seen_people:
            raise fail(("people", index, "id"), "twice", word=entry.id)
        seen_people.add(entry.id)
    codes: dict[str, str] = {}

    def code(loc: tuple[Any, ...], value: str) -> None:
        if value in codes:
            raise fail(loc, "code_twice", word=value, other=codes[value])
        codes[value] = _location(loc)

    for o_index, objective in enumerate(spec.objectives):
        base: tuple[Any, ...] = ("objectives", o_index)
        code((*base, "code"), objective.code)
        person((*base, "owner"), objective.owner)
        _unique_measures(objective.measures, (*base, "measures"), fail)
        for p_index, path in enumerate(objective.paths):
            p_loc = (*base, "paths", p_index)
            code((*p_loc, "code"), path.code)
            for k_index, kr in enumerate(path.krs):
                k_loc = (*p_loc, "krs", k_index)
                code((*k_loc, "code"), kr.code)
                person((*k_loc, "owner"), kr.owner)
                person((*k_loc, "accountable"), kr.accountable)
                for field in ("consulted", "informed", "delegates"):
                    for i, key in enumerate(getattr(kr, field)):
                        person((*k_loc, field, i), key)
                for department, key in kr.contributors.items():
                    person((*k_loc, "contributors", department), key)
                _unique_measures(kr.measures, (*k_loc, "measures"), fail)
                titles: set[str] = set()
                for t_index, task in enumerate(kr.tasks):
                    person((*k_loc, "tasks", t_index, "owner"), task.owner)
                    if task.title in titles:
                        raise fail((*k_loc, "tasks", t_index, "title"), "twice", word=task.title)
                    titles.add(task.title)
    _check_was(spec=spec, codes=codes, fail=fail)


def _check_was(*, spec: OkrFile, codes: dict[str, str], fail: Any) -> None:
    """A `was:` names an old code or measure name that the file no longer uses, and only once."""
    claimed: dict[str, str] = {}
    for o_index, objective in enumerate(spec.objectives):
        owners: list[tuple[tuple[Any, ...], Any]] = [(("objectives", o_index), objective)]
        for p_index, path in enumerate(objective.paths):
            owners += [(("objectives", o_index, "paths", p_index, "krs", k), kr) for k, kr in enumerate(path.krs)]
        for loc, owner in owners:
            if owner.was is not None:
                if owner.was in codes:
                    raise fail((*loc, "was"), "was_in_file", word=owner.was, other=codes[owner.was])
                if owner.was in claimed:
                    raise fail((*loc, "was"), "was_twice", word=owner.was, other=claimed[owner.was])
                claimed[owner.was] = _location((*loc, "code"))
            names = {m.name.casefold() for m in owner.measures}
            olds: set[str] = set()
            for m_index, measure in enumerate(owner.measures):
                if measure.was is None:
                    continue
                m_loc = (*loc, "measures", m_index, "was")
                if measure.was.casefold() in names or measure.was.casefold() in olds:
                    raise fail(m_loc, "was_in_file", word=measure.was, other=_location((*loc, "measures")))
                olds.add(measure.was.casefold())


def renames_in(*, spec: OkrFile) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """What the file says was renamed: {new code: old code} and {(code, new measure name): old name}."""
    codes: dict[str, str] = {}
    measures: dict[tuple[str, str], str] = {}
    for objective in spec.objectives:
        owners: list[Any] = [objective, *(kr for path in objective.paths for kr in path.krs)]
        for owner in owners:
            if owner.was is not None:
                codes[owner.code] = owner.was
            for measure in owner.measures:
                if measure.was is not None:
                    measures[(owner.code, measure.name)] = measure.was
    return codes, measures


def _unique_measures(measures: list[MeasureSpec], loc: tuple[Any, ...], fail: Any) -> None:
    names: set[str] = set()
    for index, measure in enumerate(measures):
        if measure.name.casefold() in names:
            raise fail((*loc, index, "name"), "twice", word=measure.name)
        names.add(measure.name.casefold())


def _amount(text: str | float | None, *, style: NumberStyle) -> tuple[float | None, str | None]:
    """An amount such as `25000 EUR` as (number, canonical currency)."""
    if text is None:
        return None, None
    if isinstance(text, int | float):
        return float(text), None
    match = re.match(r"^\s*(.*?)\s*([A-Za-z]{3}|[€$¥£]|欧元?|美元|元)?\s*$", text)
    unit = canonical_unit(unit=match.group(2)) if match and match.group(2) else None
    return read_value(text=text, unit=unit, style=style), unit


def to_domain(*, spec: OkrFile) -> model.Okrs:
    """The plain domain of a validated file."""
    ws = spec.workspace
    workspace = model.Workspace(
        name=ws.name,
        language=ws.language,
        timezone=ws.timezone,
        boss_channel=dict(ws.boss_channel),
        reminder=ws.reminder,
        digest=ws.digest,
        slack_team=ws.slack_team,
        locale=ws.locale,
    )
    style = number_style(locale=workspace.number_locale)
    people = {
        p.id: model.Person(
            key=p.id,
            name=p.name,
            role=model.Role(p.role),
            timezone=p.timezone,
            slack_id=p.slack,
            feishu_id=p.feishu,
            department=p.department,
            locale=p.locale,
        )
        for p in spec.people
    }
    objectives = []
    for o in spec.objectives:
        achievable = None
        if o.achievable is not None:
            budget, unit = _amount(o.achievable.budget, style=style)
            cost, cost_unit = _amount(o.achievable.cost_per_new_customer, style=style)
            order, order_unit = _amount(o.achievable.order_value, style=style)
            achievable = model.Achievable(
                budget=budget,
                cost_per_new_customer=cost,
                order_value=order,
                unit=unit or cost_unit or order_unit,
            )
        paths = tuple(
            model.StrategicPath(
                code=p.code,
                title=p.title,
                priority=p.priority,
                scores=dict(p.scores),
                krs=tuple(
                    model.KeyResult(
                        code=k.code,
                        title=k.title,
                        owner=k.owner,
                        measures=tuple(m.to_domain() for m in k.measures),
                        accountable=k.accountable,
                        consulted=tuple(k.consulted),
                        informed=tuple(k.informed),
                        delegates=tuple(k.delegates),
                        contributors=dict(k.contributors),
                        control=model.Level(k.control) if k.control else None,
                        impact=model.Level(k.impact) if k.impact else None,
                        tasks=tuple(
                            model.Task(
                                title=t.title,
                                owner=t.owner,
                                due=t.due,
                                buffer_days=t.buffer_days,
                                duration_days=t.duration_days,
                                critical=t.critical,
                                done=t.done,
                            )
                            for t in k.tasks
                        ),
                    )
                    for k in p.krs
                ),
            )
            for p in o.paths
        )
        objectives.append(
            model.Objective(
                code=o.code,
                title=o.title,
                owner=o.owner,
                measures=tuple(m.to_domain() for m in o.measures),
                paths=paths,
                strategy=o.strategy,
                deadline=o.deadline,
                achievable=achievable,
            )
        )
    return model.Okrs(
        workspace=workspace,
        people=people,
        cycle=model.Cycle(name=spec.cycle.name, start=spec.cycle.start, end=spec.cycle.end),
        objectives=tuple(objectives),
    )
