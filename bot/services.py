"""The actions: one function per thing a user does, called alike by the CLI, Slack, Feishu and the scheduler."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import commands
from bot.core import model
from bot.core.asks import classify_ask, split_asks
from bot.core.burnup import Burnup, burnups
from bot.core.digest import Digest, FailedDelivery, compose_digest
from bot.core.errors import KrbotError, NotAllowed
from bot.core.lint import Finding, lint_document
from bot.core.method import (
    CRITICAL_BUFFER_DAYS,
    backward_plan,
    department_view,
    departments,
    quadrant,
    rank_paths,
)
from bot.core.progress import KrProgress, kr_progress, measure_progress, okr_progress
from bot.core.timeline import as_of_moment
from bot.core.values import format_value, read_value
from bot.metrics import CHECKINS, COMMANDS
from bot.okrfile import file_language, load_yaml, parse_okr_file, refusals, to_domain
from bot.resources import resource_dir
from storage import events, ledger, repository
from storage.db import UnitOfWork, upgrade
from storage.models import (
    AskRow,
    CheckinRow,
    CheckinValueRow,
    CycleRow,
    KrRow,
    ObjectiveRow,
    WorkspaceRow,
)

log = logging.getLogger("krbot.services")

@dataclass(frozen=True, slots=True)
class Notice:
    """Someone else to tell about what just happened: a person key, a catalog key and its words."""

    person: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """What an edge shows the user (a catalog key and its data, or a digest), and whom else to tell."""

    key: str
    lang: str
    params: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    digest: Digest | None = None
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What `krbot import` did (or would do, on a dry run), and the SMART lint of the file."""

    workspace: str
    language: str
    created: dict[str, int]
    updated: dict[str, int]
    archived: dict[str, int]
    changes: list[model.GoalChange]
    findings: list[Finding]
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Scope:
    """A workspace's cycle loaded for one action."""

    workspace: WorkspaceRow
    cycle: CycleRow
    loaded: repository.Loaded

    @property
    def okrs(self) -> model.Okrs:
        """The OKR tree."""
        return self.loaded.okrs

    @property
    def lang(self) -> str:
        """The workspace language."""
        return self.workspace.language

    def local(self, moment: datetime) -> datetime:
        """A moment on the workspace's clock, the time axis every forecast is read on."""
        return moment.astimezone(ZoneInfo(self.workspace.timezone))


def local_zone(*, name: str) -> ZoneInfo:
    """A timezone by IANA name."""
    return ZoneInfo(name)


def parse_moment(*, text: str, timezone: str) -> datetime:
    """An ISO date or date-time; without a zone it is in `timezone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise KrbotError("time.unreadable", word=text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def parse_as_of(*, text: str, timezone: str) -> datetime:
    """An as-of time (CONTRACT §7): a date alone is the end of that day in `timezone`; no zone means `timezone`."""
    try:
        return as_of_moment(text=text, tz=ZoneInfo(timezone))
    except ValueError:
        raise KrbotError("time.unreadable", word=text) from None


# ---------------------------------------------------------------- set-up


def upgrade_schema(*, uow: UnitOfWork) -> None:
    """Apply the migrations."""
    upgrade(engine=uow.engine)


@cache
def _smart_terms() -> tuple[str, ...]:
    """Market, channel and product words that make a title specific (templates/smart_terms.yaml)."""
    data = yaml.safe_load((resource_dir(name="templates") / "smart_terms.yaml").read_text(encoding="utf-8"))
    return tuple(str(term) for words in data.values() for term in words)


def lint_file(*, text: str, filename: str) -> tuple[str, list[Finding]]:
    """Every SMART finding of a file, even one import would refuse; a refusal the lint can't explain is added."""
    lang = file_language(text=text)
    data = load_yaml(text=text, filename=filename)  # unreadable YAML is bad input, not a finding
    findings = lint_document(data=data, terms=_smart_terms())
    for error in refusals(text=text, filename=filename):
        if ".measures[" not in str(error.params.get("field", "")):  # those are the M findings above
            findings.append(Finding(letter="F", code="", severity="fail", key=error.key, params=error.params))
    return lang, findings


def import_okrs(*, uow: UnitOfWork, text: str, filename: str, at: datetime, dry_run: bool = False) -> ImportOutcome:
    """Create or update the OKR tree from a file by its codes; on a dry run nothing is kept."""
    spec, _ = parse_okr_file(text=text, filename=filename)
    okrs = to_domain(spec=spec)
    findings = lint_document(data=load_yaml(text=text, filename=filename), terms=_smart_terms())
    with uow.begin() as session:
        report = repository.sync_okrs(session=session, okrs=okrs, at=at)
        if dry_run:
            session.rollback()
    return ImportOutcome(
        workspace=okrs.workspace.name,
        language=okrs.workspace.language,
        created=dict(report.created),
        updated=dict(report.updated),
        archived=dict(report.archived),
        changes=report.changes,
        findings=findings,
        dry_run=dry_run,
    )


# ---------------------------------------------------------------- scope


def _scope(*, session: Session, workspace: str | None, at: datetime) -> Scope:
    row = repository.find_workspace(session=session, name=workspace)
    if row is None:
        names = repository.workspace_names(session=session)
        if not names:
            raise KrbotError("workspace.none")
        if workspace is None:
            raise KrbotError("workspace.ambiguous", known=", ".join(names))
        raise KrbotError("workspace.unknown", word=workspace, known=", ".join(names))
    day = at.astimezone(ZoneInfo(row.timezone)).date()
    cycle = repository.current_cycle(session=session, workspace_id=row.id, day=day)
    if cycle is None:
        raise KrbotError("workspace.no_cycle", workspace=row.name)
    loaded = repository.load_okrs(session=session, workspace=row, cycle=cycle)
    return Scope(workspace=row, cycle=cycle, loaded=loaded)


def workspace_language(*, uow: UnitOfWork, workspace: str | None) -> str:
    """The language of the workspace (English when there is none yet)."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        return row.language if row else "en"


def workspace_timezone(*, uow: UnitOfWork, workspace: str | None) -> str:
    """The timezone of the workspace (UTC when there is none yet)."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        return row.timezone if row else "UTC"


def _name_of(scope: Scope, key: str) -> str:
    """A person's display name (their key when unknown)."""
    person = scope.okrs.people.get(key)
    return person.name if person else key


def _person(scope: Scope, key: str) -> model.Person:
    person = scope.okrs.people.get(key)
    if person is None:
        raise KrbotError("person.unknown", word=key, known=", ".join(scope.okrs.people))
    return person


def _owner_of(scope: Scope, code: str, person: model.Person) -> model.KeyResult | model.Objective:
    target = scope.okrs.owner_of(code=code.upper())
    if target is None:
        mine = _codes_of(scope.okrs, person.key)
        raise KrbotError("code.unknown", word=code, known=", ".join(mine) or "—")
    return target


def _codes_of(okrs: model.Okrs, key: str) -> list[str]:
    codes = []
    for objective in okrs.objectives:
        if objective.owner == key and objective.measures:
            codes.append(objective.code)
        codes.extend(kr.code for kr in objective.krs() if kr.owner == key or key in kr.delegates)
    return codes


def _may_update(target: model.KeyResult | model.Objective, person: model.Person) -> bool:
    if isinstance(target, model.KeyResult):
        return person.key == target.owner or person.key in target.delegates
    return person.key == target.owner


def _may_change(target: model.KeyResult | model.Objective, person: model.Person) -> bool:
    if person.role is model.Role.ADMIN:
        return True
    return isinstance(target, model.KeyResult) and person.key == target.accountable


def _find_measure(target: model.KeyResult | model.Objective, name: str | None) -> model.Measure:
    if not target.measures:
        raise KrbotError("measure.none", code=target.code)
    if name is None:
        return target.measures[0]
    wanted = name.strip().casefold()
    exact = [m for m in target.measures if m.name.casefold() == wanted]
    if exact:
        return exact[0]
    partial = [m for m in target.measures if m.name.casefold().startswith(wanted)]
    if len(partial) == 1:
        return partial[0]
    raise KrbotError(
        "measure.unknown", word=name, code=target.code, known=", ".join(m.name for m in target.measures)
    )


# ---------------------------------------------------------------- check-ins


def _read_measure(measure: model.Measure, text: str) -> float:
    try:
        return read_value(text=text, unit=measure.unit, milestone=measure.kind is model.MeasureKind.MILESTONE)
    except KrbotError as error:
        raise KrbotError("checkin.bad_value", measure=measure.name, detail=error.key, **error.params) from None


def _build_checkin(
    *, scope: Scope, person: model.Person, update: commands.Update, at: datetime
) -> tuple[model.Checkin, list[model.Ask]]:
    """Validate an update against the OKR tree and the sender's rights; nothing is written here."""
    if update.code is None:
        raise KrbotError("checkin.no_code", known=", ".join(_codes_of(scope.okrs, person.key)) or "—")
    target = _owner_of(scope, update.code, person)
    if not _may_update(target, person):
        owner = scope.okrs.people.get(target.owner)
        raise NotAllowed("checkin.not_owner", code=target.code, owner=owner.name if owner else target.owner)
    values: dict[str, float] = {}
    for item in update.values:
        measure = _find_measure(target, item.measure)
        if measure.name in values:
            raise KrbotError("checkin.measure_twice", measure=measure.name)
        values[measure.name] = _read_measure(measure, item.text)
    asks = []
    for text in update.asks:
        for part in split_asks(text=text):
            classified = classify_ask(text=part)
            asks.append(
                model.Ask(
                    id=None,
                    code=target.code,
                    person=person.key,
                    kind=classified.kind,
                    text=classified.text,
                    at=at,
                    amount=classified.amount,
                    unit=classified.unit,
                )
            )
    if not values and not asks and not (update.note or update.next_step or update.risk):
        raise KrbotError("checkin.empty", code=target.code, example=_example(target, scope.lang))
    checkin = model.Checkin(
        code=target.code,
        person=person.key,
        at=at,
        values=values,
        note=update.note,
        next_step=update.next_step,
        risk=update.risk,
    )
    return checkin, asks


def _example(target: model.KeyResult | model.Objective, lang: str) -> str:
    """A check-in the user could type for this code, in the measure's own unit."""
    first = target.measures[0] if target.measures else None
    if first is None or first.kind is model.MeasureKind.MILESTONE:
        return f"{target.code} done"
    sample = first.target if first.target is not None else first.limit
    return f"{target.code} {format_value(number=sample or 1, unit=first.unit, lang=lang)}"


def record_checkin(
    *,
    uow: UnitOfWork,
    person: str,
    update: commands.Update,
    at: datetime,
    workspace: str | None = None,
    source: str = "cli",
    event_key: str | None = None,
) -> Reply:
    """Validate and store one check-in (once per event key); reply with the KR's new standing."""
    try:
        with uow.begin() as session:
            scope = _scope(session=session, workspace=workspace, at=at)
            sender = _person(scope, person)
            if event_key is not None:
                existing = repository.checkin_with_event(
                    session=session, workspace_id=scope.workspace.id, event_key=event_key
                )
                if existing is not None:
                    return Reply(key="checkin.duplicate", lang=scope.lang, params={"code": update.code or ""})
            checkin, asks = _build_checkin(scope=scope, person=sender, update=update, at=at)
            repository.add_checkin(
                session=session, loaded=scope.loaded, checkin=checkin, asks=asks, source=source, event_key=event_key
            )
            reply = _saved_reply(session=session, scope=scope, checkin=checkin, asks=asks, at=at)
        CHECKINS.labels(source=source).inc()  # counted once committed
        return reply
    except IntegrityError:
        if event_key is None or not _event_stored(uow=uow, workspace=workspace, event_key=event_key):
            raise
        lang = workspace_language(uow=uow, workspace=workspace)
        return Reply(key="checkin.duplicate", lang=lang, params={"code": update.code or ""})


def _event_stored(*, uow: UnitOfWork, workspace: str | None, event_key: str) -> bool:
    """True when a concurrent delivery of the same event already stored its check-in."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        return row is not None and (
            repository.checkin_with_event(session=session, workspace_id=row.id, event_key=event_key) is not None
        )


def _saved_reply(
    *, session: Session, scope: Scope, checkin: model.Checkin, asks: list[model.Ask], at: datetime
) -> Reply:
    checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
    target = scope.okrs.owner_of(code=checkin.code)
    assert target is not None
    measures = {m.name: m for m in target.measures}
    shown = [
        {"name": name, "value": value, "unit": measures[name].unit, "kind": measures[name].kind.value}
        for name, value in checkin.values.items()
    ]
    standing = None
    notices: tuple[Notice, ...] = ()
    if isinstance(target, model.KeyResult):
        objective = next(o for o in scope.okrs.objectives if target in o.krs())
        progress = kr_progress(
            kr=target, checkins=checkins, cycle=scope.okrs.cycle, objective_deadline=objective.deadline, as_of=scope.local(at)
        )
        standing = _standing(progress)
        earlier = checkins[:-1]  # the check-in just stored is the newest at or before `at`
        before = kr_progress(
            kr=target, checkins=earlier, cycle=scope.okrs.cycle, objective_deadline=objective.deadline, as_of=scope.local(at)
        )
        if _worse(before.status, progress.status):
            words = {
                "code": target.code,
                "title": target.title,
                "before": before.status.value,
                "after": progress.status.value,
                "owner": scope.okrs.people[target.owner].name if target.owner in scope.okrs.people else target.owner,
                "note": checkin.risk or checkin.note,
            }
            notices = tuple(
                Notice(person=key, key="notice.status_dropped", params=words, name=_name_of(scope, key))
                for key in target.consulted
            )
    else:
        headline = target.measures[0] if target.measures else None
        if headline is not None:
            mp = measure_progress(
                measure=headline,
                checkins=checkins,
                code=target.code,
                cycle=scope.okrs.cycle,
                objective_deadline=target.deadline,
                as_of=scope.local(at),
            )
            standing = {"completion": mp.completion, "forecast": mp.forecast_completion, "status": None}
    return Reply(
        key="checkin.saved",
        lang=scope.lang,
        params={
            "code": checkin.code,
            "values": shown,
            "note": checkin.note,
            "next_step": checkin.next_step,
            "risk": checkin.risk,
            "asks": [{"kind": a.kind.value, "amount": a.amount, "unit": a.unit, "text": a.text} for a in asks],
            "standing": standing,
        },
        notices=notices,
    )


_STATUS_RANK = {
    model.Status.DONE: 0,
    model.Status.ON_TRACK: 1,
    model.Status.AT_RISK: 2,
    model.Status.OFF_TRACK: 3,
}


def _worse(before: model.Status, after: model.Status) -> bool:
    """True when a KR's status dropped (no-data on either side never counts as a drop)."""
    if before not in _STATUS_RANK or after not in _STATUS_RANK:
        return False
    return _STATUS_RANK[after] > _STATUS_RANK[before]


def _standing(progress: KrProgress) -> dict[str, Any]:
    return {
        "completion": progress.completion,
        "forecast": progress.forecast_completion,
        "status": progress.status.value,
    }


# ---------------------------------------------------------------- chat commands


def run_command(
    *,
    uow: UnitOfWork,
    person: str,
    text: str,
    at: datetime,
    workspace: str | None = None,
    source: str = "cli",
    event_key: str | None = None,
) -> Reply:
    """Any `/kr …` command from any edge: parsed, authorised, done, answered; refusals come back as replies."""
    lang = "en"
    name = "unknown"
    try:
        lang = workspace_language(uow=uow, workspace=workspace)
        command = commands.parse_command(text=text)
        name = type(command).__name__.lower()
        reply = _dispatch(
            uow=uow, command=command, person=person, text=text, at=at, workspace=workspace, source=source,
            event_key=event_key, lang=lang,
        )
    except KrbotError as error:
        COMMANDS.labels(command=name, outcome="refused").inc()
        log.info("refused: %s", error.key, extra={"workspace": workspace, "person": person, "command": name})
        return Reply(key=error.key, lang=lang, params=error.params, ok=False)
    outcome = "ok" if reply.ok else "refused"
    COMMANDS.labels(command=name, outcome=outcome).inc()
    log.info("%s: %s", outcome, reply.key, extra={"workspace": workspace, "person": person, "command": name})
    return reply


def _dispatch(
    *,
    uow: UnitOfWork,
    command: commands.Command,
    person: str,
    text: str,
    at: datetime,
    workspace: str | None,
    source: str,
    event_key: str | None,
    lang: str,
) -> Reply:
    """Run one parsed command through its service."""
    match command:
        case commands.Update(code=None):
            return list_krs(uow=uow, person=person, at=at, workspace=workspace, form_hint=True)
        case commands.Update():
            return record_checkin(
                uow=uow, person=person, update=command, at=at, workspace=workspace, source=source, event_key=event_key
            )
        case commands.Help():
            return Reply(key="reply.help", lang=lang, params={"names": list(commands.COMMAND_NAMES)})
        case commands.ListKrs():
            return list_krs(uow=uow, person=person, at=at, workspace=workspace)
        case commands.StatusOf(code=code):
            return status_of(uow=uow, person=person, code=code, at=at, workspace=workspace)
        case commands.Report():
            return Reply(key="reply.report", lang=lang, digest=compose(uow=uow, as_of=at, workspace=workspace))
        case commands.Change():
            return change_goal(uow=uow, person=person, change=command, at=at, workspace=workspace)
        case commands.Away(start=start, end=end):
            return set_away(uow=uow, person=person, start=start, end=end, at=at, workspace=workspace)
        case commands.Paths():
            return show_paths(uow=uow, person=person, at=at, workspace=workspace)
        case commands.Matrix():
            return show_matrix(uow=uow, person=person, at=at, workspace=workspace)
        case commands.Plan(code=code):
            return show_plan(uow=uow, code=code, at=at, workspace=workspace)
        case commands.TaskDone(code=code, task=task):
            return complete_task(uow=uow, person=person, code=code, task=task, at=at, workspace=workspace)
    raise KrbotError("command.unknown", word=text)


def list_krs(
    *, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None, form_hint: bool = False
) -> Reply:
    """The sender's KRs (and objectives with a headline, and shared KRs they contribute to) with their progress."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
    rows = _rows_by_person(okr_progress(okrs=scope.okrs, checkins=checkins, as_of=scope.local(at)))[sender.key]
    return Reply(
        key="reply.list", lang=scope.lang, params={"rows": rows, "name": sender.name, "form_hint": form_hint}
    )


def _measure_row(progress: Any) -> dict[str, Any]:
    m = progress.measure
    return {
        "name": m.name,
        "kind": m.kind.value,
        "unit": m.unit,
        "value": progress.value,
        "target": m.target if m.target is not None else m.limit,
        "completion": progress.completion,
        "reached": progress.reached,
        "broken": progress.guardrail_broken,
    }


def status_of(
    *, uow: UnitOfWork, person: str, code: str | None, at: datetime, workspace: str | None = None
) -> Reply:
    """Progress, forecast and last notes of one code, or every objective's conclusion."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        if code is not None:
            _owner_of(scope, code, sender)
    digest = compose(uow=uow, as_of=at, workspace=workspace)
    if code is None:
        return Reply(key="reply.status_all", lang=scope.lang, digest=digest)
    code = code.upper()
    for section in digest.objectives:
        if section.code == code:
            return Reply(key="reply.status_objective", lang=scope.lang, params={"o": section}, digest=digest)
        for line in section.krs:
            if line.code == code:
                return Reply(key="reply.status_kr", lang=scope.lang, params={"k": line}, digest=digest)
    raise KrbotError("code.unknown", word=code, known="—")


def set_away(
    *, uow: UnitOfWork, person: str, start: date | None, end: date | None, at: datetime, workspace: str | None = None
) -> Reply:
    """Record the days a person is away (no prompts), or clear them."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        repository.set_away(
            session=session, workspace_id=scope.workspace.id, person_key=sender.key, start=start, end=end
        )
    return Reply(key="reply.away", lang=scope.lang, params={"start": start, "end": end})


# ---------------------------------------------------------------- goal changes

_GOAL_ATTR = {"target": "target", "baseline": "baseline", "at_most": "limit", "at_least": "limit", "due": "due"}


def change_goal(
    *, uow: UnitOfWork, person: str, change: commands.Change, at: datetime, workspace: str | None = None
) -> Reply:
    """Change a KR's or objective's goal (accountable or admin only), log it, and show its impact."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        target = _owner_of(scope, change.code, sender)
        if not _may_change(target, sender):
            accountable = target.accountable if isinstance(target, model.KeyResult) else None
            who = scope.okrs.people[accountable].name if accountable in scope.okrs.people else None
            raise NotAllowed("change.not_allowed", code=target.code, accountable=who or "")
        if not (change.reason or "").strip():
            raise KrbotError("change.reason_required", code=target.code)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
        before = _target_progress(scope, target, checkins, at)
        logged = []
        for edit in change.changes:
            logged.append(_apply_edit(session=session, scope=scope, target=target, edit=edit, person=sender, at=at,
                                      reason=change.reason or ""))
        session.flush()
        reloaded = repository.load_okrs(session=session, workspace=scope.workspace, cycle=scope.cycle)
        new_target = reloaded.okrs.owner_of(code=target.code)
        assert new_target is not None
        after_scope = Scope(workspace=scope.workspace, cycle=scope.cycle, loaded=reloaded)
        after = _target_progress(after_scope, new_target, checkins, at)
        edited = [entry["measure"] for entry in logged if entry["measure"]]
        pace = _extra_pace(scope=after_scope, target=new_target, checkins=checkins, at=at, prefer=edited)
        lang = scope.lang
    params = {
        "code": target.code,
        "title": target.title,
        "changes": logged,
        "reason": change.reason,
        "before": before,
        "after": after,
        "pace": pace,
        "by": sender.name,
    }
    involved = [target.owner]
    if isinstance(target, model.KeyResult):
        involved += [target.accountable or "", *target.informed]
    notices = tuple(
        Notice(person=key, key="notice.goal_changed", params=params, name=_name_of(scope, key))
        for key in dict.fromkeys(involved)
        if key and key != sender.key
    )
    return Reply(key="change.saved", lang=lang, params=params, notices=notices)


def _extra_pace(
    *,
    scope: Scope,
    target: model.KeyResult | model.Objective,
    checkins: list[model.Checkin],
    at: datetime,
    prefer: list[str],
) -> dict[str, Any] | None:
    """How much more per week the changed (else the first) target measure needs, beyond its trend, to reach its target."""
    objective = target if isinstance(target, model.Objective) else next(
        o for o in scope.okrs.objectives if target in o.krs()
    )
    ranked = sorted(target.measures, key=lambda m: m.name not in prefer)
    for measure in ranked:
        if measure.kind is not model.MeasureKind.TARGET:
            continue
        progress = measure_progress(
            measure=measure,
            checkins=checkins,
            code=target.code,
            cycle=scope.okrs.cycle,
            objective_deadline=objective.deadline,
            as_of=scope.local(at),
        )
        zone = ZoneInfo(scope.workspace.timezone)
        end = datetime.combine(progress.deadline + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        weeks = (end - at).total_seconds() / (7 * 86400)
        if progress.gap is None or weeks <= 0:
            return None
        return {"measure": measure.name, "amount": progress.gap / weeks, "unit": measure.unit}
    return None


def _target_progress(
    scope: Scope, target: model.KeyResult | model.Objective, checkins: list[model.Checkin], at: datetime
) -> dict[str, Any]:
    progresses = okr_progress(okrs=scope.okrs, checkins=checkins, as_of=scope.local(at))
    for progress in progresses:
        if progress.objective.code == target.code:
            return {"status": progress.status.value, "forecast": progress.forecast_completion}
        for kp in progress.krs:
            if kp.kr.code == target.code:
                return {"status": kp.status.value, "forecast": kp.forecast_completion}
    return {"status": model.Status.NO_DATA.value, "forecast": None}


def _apply_edit(
    *,
    session: Session,
    scope: Scope,
    target: model.KeyResult | model.Objective,
    edit: commands.GoalEdit,
    person: model.Person,
    at: datetime,
    reason: str,
) -> dict[str, Any]:
    if edit.field == "title":
        row_type = KrRow if isinstance(target, model.KeyResult) else ObjectiveRow
        row = session.query(row_type).filter_by(cycle_id=scope.cycle.id, code=target.code).one()
        old, row.title = row.title, edit.text
        change = model.GoalChange(
            code=target.code, field="title", old=old, new=edit.text, reason=reason, person=person.key, at=at
        )
        repository.add_goal_change(session=session, loaded=scope.loaded, change=change)
        return {"measure": None, "field": "title", "old": old, "new": edit.text, "unit": None}
    if edit.field == "due" and edit.measure is None and isinstance(target, model.Objective):
        row = repository.objective_row(session=session, cycle_id=scope.cycle.id, code=target.code)
        assert row is not None
        new_day = _read_day(edit.text)
        old_day, row.deadline = row.deadline, new_day
        change = model.GoalChange(
            code=target.code,
            field="deadline",
            old=str(old_day) if old_day else None,
            new=str(new_day),
            reason=reason,
            person=person.key,
            at=at,
        )
        repository.add_goal_change(session=session, loaded=scope.loaded, change=change)
        return {"measure": None, "field": "deadline", "old": old_day, "new": new_day, "unit": None}
    measure = _measure_for_field(target, edit)
    row = repository.measure_row(session=session, cycle_id=scope.cycle.id, code=target.code, name=measure.name)
    assert row is not None
    if edit.field == "due":
        new_value: Any = _read_day(edit.text)
        old_value: Any = row.due
        row.due = new_value
    else:
        new_value = _read_measure(measure, edit.text)
        column = "limit_value" if edit.field in ("at_most", "at_least") else edit.field
        old_value = getattr(row, column)
        if edit.field in ("target", "baseline"):
            other = row.baseline if edit.field == "target" else row.target
            if other is not None and other == new_value:
                raise KrbotError("change.flat", measure=measure.name)
        setattr(row, column, new_value)
    change = model.GoalChange(
        code=target.code,
        field=edit.field,
        old=None if old_value is None else _plain(old_value),
        new=_plain(new_value),
        reason=reason,
        person=person.key,
        at=at,
        measure=measure.name,
    )
    repository.add_goal_change(session=session, loaded=scope.loaded, change=change)
    return {"measure": measure.name, "field": edit.field, "old": old_value, "new": new_value, "unit": measure.unit}


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _measure_for_field(target: model.KeyResult | model.Objective, edit: commands.GoalEdit) -> model.Measure:
    if edit.measure is not None:
        measure = _find_measure(target, edit.measure)
    else:
        wanted = {
            "target": (model.MeasureKind.TARGET,),
            "baseline": (model.MeasureKind.TARGET,),
            "at_most": (model.MeasureKind.AT_MOST,),
            "at_least": (model.MeasureKind.AT_LEAST,),
            "due": tuple(model.MeasureKind),
        }[edit.field]
        candidates = [m for m in target.measures if m.kind in wanted]
        if not candidates:
            raise KrbotError("change.no_such_field", code=target.code, field=edit.field)
        measure = candidates[0]
    allowed = {
        model.MeasureKind.TARGET: ("target", "baseline", "due"),
        model.MeasureKind.AT_MOST: ("at_most", "due"),
        model.MeasureKind.AT_LEAST: ("at_least", "due"),
        model.MeasureKind.MILESTONE: ("due",),
    }[measure.kind]
    if edit.field not in allowed:
        raise KrbotError("change.wrong_field", measure=measure.name, field=edit.field, allowed=", ".join(allowed))
    return measure


def _read_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise KrbotError("time.unreadable", word=text) from None


# ---------------------------------------------------------------- asks


def decide_ask(
    *, uow: UnitOfWork, person: str, ask_id: int, approve: bool, at: datetime, workspace: str | None = None
) -> Reply:
    """Approve or decline an open ask (boss or admin only); the reply names whom to tell."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        if sender.role not in (model.Role.BOSS, model.Role.ADMIN):
            raise NotAllowed("ask.not_allowed")
        row = repository.ask_row(session=session, workspace_id=scope.workspace.id, ask_id=ask_id)
        if row is None:
            raise KrbotError("ask.unknown", id=ask_id)
        if row.status != model.AskStatus.OPEN.value:
            return Reply(
                key="ask.already", lang=scope.lang, params={"id": ask_id, "status": row.status, "by": row.decided_by}
            )
        row.status = (model.AskStatus.APPROVED if approve else model.AskStatus.DECLINED).value
        row.decided_by = sender.key
        row.decided_at = at
        asker = scope.okrs.people.get(row.person_key)
        params = {
            "id": ask_id,
            "code": row.code,
            "status": row.status,
            "text": row.text,
            "by": sender.name,
            "asker": row.person_key,
            "asker_name": asker.name if asker else row.person_key,
        }
        notices = (
            ()
            if row.person_key == sender.key
            else (Notice(person=row.person_key, key="notice.ask_decided", params=params, name=params["asker_name"]),)
        )
        return Reply(key="ask.decided", lang=scope.lang, params=params, notices=notices)


# ---------------------------------------------------------------- digest


def compose(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None, department: str | None = None
) -> Digest:
    """The weekly digest at `as_of` (of one department's view when named), read in a fixed number of queries."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=as_of)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=as_of)
        asks = repository.load_asks(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
        changes = repository.load_changes(
            session=session, workspace_id=scope.workspace.id, since=as_of - timedelta(days=7)
        )
        away = repository.away_days(session=session, workspace_id=scope.workspace.id)
    local = as_of.astimezone(ZoneInfo(scope.workspace.timezone))
    okrs = scope.okrs
    if department is not None:
        known = departments(okrs=okrs)
        if department not in known:
            raise KrbotError("department.unknown", word=department, known=", ".join(known) or "—")
        okrs = department_view(okrs=okrs, department=department)
    return compose_digest(okrs=okrs, checkins=checkins, asks=asks, changes=changes, as_of=local, away=away)


def compose_report(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None, department: str | None = None
) -> tuple[Digest, tuple[Burnup, ...]]:
    """The digest and the burn-up of each headline, for the one-page HTML report."""
    digest = compose(uow=uow, as_of=as_of, workspace=workspace, department=department)
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=as_of)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=as_of)
    return digest, burnups(okrs=scope.okrs, checkins=checkins, as_of=scope.local(as_of))


# ---------------------------------------------------------------- paths, matrix, plan


def show_paths(*, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None) -> Reply:
    """Each objective's paths in rank, with why: the priority set in the file, or the score of ROI, resources, risk."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        _person(scope, person)
    objectives = [
        {
            "code": o.code,
            "title": o.title,
            "paths": [
                {
                    "rank": ranked.rank,
                    "code": ranked.path.code,
                    "title": ranked.path.title,
                    "priority": ranked.path.priority,
                    "by_priority": ranked.by_priority,
                    "score": ranked.score,
                    "scores": ranked.path.scores,
                    "krs": [k.code for k in ranked.path.krs],
                }
                for ranked in rank_paths(objective=o)
            ],
        }
        for o in scope.okrs.objectives
    ]
    return Reply(key="reply.paths", lang=scope.lang, params={"objectives": objectives})


def show_matrix(*, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None) -> Reply:
    """KRs placed by control × impact in four quadrants (medium counts as low), high-control high-impact first."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        _person(scope, person)
    quadrants: dict[str, list[dict[str, str]]] = {"hh": [], "lh": [], "hl": [], "ll": []}
    for objective in scope.okrs.objectives:
        for kr in objective.krs():
            quadrants[quadrant(kr=kr)].append({"code": kr.code, "title": kr.title})
    return Reply(key="reply.matrix", lang=scope.lang, params={"quadrants": quadrants})


def show_plan(*, uow: UnitOfWork, code: str, at: datetime, workspace: str | None = None) -> Reply:
    """A KR's tasks laid out backwards from its due date: buffers, latest finish and latest start, shortfalls."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
    target = scope.okrs.owner_of(code=code.upper())
    if not isinstance(target, model.KeyResult):
        known = ", ".join(kr.code for o in scope.okrs.objectives for kr in o.krs())
        raise KrbotError("code.unknown", word=code, known=known)
    objective = next(o for o in scope.okrs.objectives if target in o.krs())
    dues = [m.due for m in target.measures if m.due] or [objective.deadline or scope.okrs.cycle.end]
    kr_due = max(dues)
    today = at.astimezone(ZoneInfo(scope.workspace.timezone)).date()
    people = scope.okrs.people
    tasks = [
        {
            "title": planned.task.title,
            "owner": people[planned.task.owner].name if planned.task.owner in people else planned.task.owner,
            "due": planned.task.due,
            "buffer_days": planned.task.buffer_days,
            "duration_days": planned.task.duration_days,
            "latest_finish": planned.latest_finish,
            "latest_start": planned.latest_start,
            "slack_days": planned.slack_days,
            "buffer_after": planned.buffer_after,
            "critical": planned.task.critical,
            "done": planned.task.done,
            "overdue": not planned.task.done and planned.task.due < today,
            "short_buffer": planned.short_buffer,
        }
        for planned in reversed(backward_plan(tasks=target.tasks, due=kr_due))
    ]
    return Reply(
        key="reply.plan",
        lang=scope.lang,
        params={"code": target.code, "title": target.title, "due": kr_due, "tasks": tasks, "needed": CRITICAL_BUFFER_DAYS},
    )


def complete_task(
    *, uow: UnitOfWork, person: str, code: str, task: str, at: datetime, workspace: str | None = None
) -> Reply:
    """Mark a KR's task done (its owner, the KR's owner or a delegate), by title, start of title or plan number."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        target = _owner_of(scope, code, sender)
        if not isinstance(target, model.KeyResult) or not target.tasks:
            raise KrbotError("task.none", code=target.code)
        ordered = [planned.task for planned in reversed(backward_plan(tasks=target.tasks, due=scope.okrs.cycle.end))]
        wanted = task.strip()
        chosen = [t for t in ordered if t.title == wanted] or [
            t for t in ordered if t.title.casefold().startswith(wanted.casefold())
        ]
        if wanted.isdigit() and 1 <= int(wanted) <= len(ordered):
            chosen = [ordered[int(wanted) - 1]]
        if len(chosen) != 1:
            known = "; ".join(f"{i}. {t.title}" for i, t in enumerate(ordered, 1))
            raise KrbotError("task.unknown", code=target.code, word=task, known=known)
        done = chosen[0]
        if sender.key not in (done.owner, target.owner, *target.delegates):
            raise NotAllowed("task.not_owner", code=target.code, task=done.title, owner=_name_of(scope, done.owner))
        repository.mark_task_done(session=session, cycle_id=scope.cycle.id, code=target.code, title=done.title)
    return Reply(key="task.done", lang=scope.lang, params={"code": target.code, "task": done.title})


# ---------------------------------------------------------------- history and export

CSV_COLUMNS = ("code", "measure", "value", "person", "at")
CSV_OPTIONAL = ("note", "next", "ask", "risk")
CSV_IGNORED = ("period",)  # written by `krbot export --format csv`, so an export reads back in


def import_checkins(
    *, uow: UnitOfWork, text: str, filename: str, workspace: str | None = None, now: datetime
) -> dict[str, int]:
    """History from a CSV (code,measure,value,person,at[,note,next,ask,risk]): every row or none."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise KrbotError("csv.columns", file=filename, missing=", ".join(missing), expected=",".join(CSV_COLUMNS))
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL + CSV_IGNORED]
    if unknown:
        raise KrbotError("csv.unknown_column", file=filename, word=unknown[0], expected=",".join(CSV_COLUMNS + CSV_OPTIONAL))
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=now)
        tz = scope.workspace.timezone
        groups: dict[tuple[str, str, datetime], dict[str, Any]] = {}
        targets: dict[str, model.KeyResult | model.Objective] = {}
        rows = 0
        for line_number, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            rows += 1
            try:
                person = _person(scope, row["person"])
                code = row["code"].upper()
                target = targets.get(code) or _owner_of(scope, code, person)
                targets[code] = target
                if not _may_update(target, person):
                    owner = scope.okrs.people.get(target.owner)
                    raise NotAllowed("checkin.not_owner", code=code, owner=owner.name if owner else target.owner)
                at = parse_moment(text=row["at"], timezone=tz)
                group = groups.setdefault((code, person.key, at), {"values": {}, "asks": []})
                if row["measure"] or row["value"]:
                    measure = _find_measure(target, row["measure"] or None)
                    group["values"][measure.name] = _read_measure(measure, row["value"])
                for column, attribute in (("note", "note"), ("next", "next_step"), ("risk", "risk")):
                    if row.get(column):
                        group[attribute] = row[column]
                if row.get("ask"):
                    group["asks"].extend(split_asks(text=row["ask"]))
            except KrbotError as error:
                raise KrbotError("csv.row", file=filename, line=line_number, inner=error.key, **error.params) from None
        _bulk_insert(session=session, scope=scope, groups=groups)
    return {"rows": rows, "checkins": len(groups)}


def _bulk_insert(*, session: Session, scope: Scope, groups: dict[tuple[str, str, datetime], dict[str, Any]]) -> None:
    if not groups:
        return
    keys = list(groups)
    ids = session.scalars(
        insert(CheckinRow).returning(CheckinRow.id, sort_by_parameter_order=True),
        [
            {
                "workspace_id": scope.workspace.id,
                "cycle_id": scope.cycle.id,
                "code": code,
                "person_key": person,
                "at": at,
                "note": groups[(code, person, at)].get("note"),
                "next_step": groups[(code, person, at)].get("next_step"),
                "risk": groups[(code, person, at)].get("risk"),
                "source": "import",
            }
            for code, person, at in keys
        ],
        execution_options={"render_nulls": True},  # one batch for every row, not one per pattern of NULLs
    ).all()
    values = []
    asks = []
    for checkin_id, key in zip(ids, keys, strict=True):
        code, person, at = key
        for name, value in groups[key]["values"].items():
            values.append({"checkin_id": checkin_id, "measure_id": scope.loaded.measure_ids[(code, name)], "value": value})
        for text in groups[key]["asks"]:
            classified = classify_ask(text=text)
            asks.append(
                {
                    "workspace_id": scope.workspace.id,
                    "cycle_id": scope.cycle.id,
                    "checkin_id": checkin_id,
                    "code": code,
                    "person_key": person,
                    "kind": classified.kind.value,
                    "amount": classified.amount,
                    "unit": classified.unit,
                    "text": classified.text,
                    "status": model.AskStatus.OPEN.value,
                    "at": at,
                }
            )
    if values:
        session.execute(insert(CheckinValueRow), values)
    if asks:
        session.execute(insert(AskRow), asks)


def export_all(*, uow: UnitOfWork, at: datetime, workspace: str | None = None) -> dict[str, Any]:
    """Everything stored for the current cycle: check-ins, asks, goal changes, the OKR tree with values."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id)
        asks = repository.load_asks(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
        changes = repository.load_changes(session=session, workspace_id=scope.workspace.id)
    okrs = scope.okrs
    kinds: dict[tuple[str, str], model.MeasureKind] = {}
    for objective in okrs.objectives:
        for m in objective.measures:
            kinds[(objective.code, m.name)] = m.kind
        for kr in objective.krs():
            for m in kr.measures:
                kinds[(kr.code, m.name)] = m.kind
    checkin_items = []
    zone = ZoneInfo(scope.workspace.timezone)

    def period(moment: datetime) -> str:
        year, week, _ = moment.astimezone(zone).isocalendar()
        return f"{year}-W{week:02d}"

    for c in checkins:
        for name, value in c.values.items():
            shown: Any = bool(value) if kinds.get((c.code, name)) is model.MeasureKind.MILESTONE else value
            checkin_items.append(
                {"code": c.code, "measure": name, "value": shown, "person": c.person, "at": c.at.isoformat(),
                 "note": c.note, "next": c.next_step, "risk": c.risk, "period": period(c.at)}
            )
        if not c.values:
            checkin_items.append(
                {"code": c.code, "measure": None, "value": None, "person": c.person, "at": c.at.isoformat(),
                 "note": c.note, "next": c.next_step, "risk": c.risk, "period": period(c.at)}
            )
    progresses = okr_progress(okrs=okrs, checkins=checkins, as_of=scope.local(at))
    return {
        "workspace": {
            "name": okrs.workspace.name,
            "language": okrs.workspace.language,
            "timezone": okrs.workspace.timezone,
            "boss_channel": okrs.workspace.boss_channel,
            "reminder": okrs.workspace.reminder,
            "digest": okrs.workspace.digest,
        },
        "people": [
            {"id": p.key, "name": p.name, "role": p.role.value, "slack": p.slack_id, "feishu": p.feishu_id,
             "timezone": p.timezone}
            for p in okrs.people.values()
        ],
        "cycle": {"name": okrs.cycle.name, "start": okrs.cycle.start.isoformat(), "end": okrs.cycle.end.isoformat()},
        "objectives": [_export_objective(p, okrs=okrs, checkins=checkins, at=scope.local(at)) for p in progresses],
        "checkins": checkin_items,
        "asks": [
            {"id": a.id, "code": a.code, "person": a.person, "kind": a.kind.value, "amount": a.amount, "unit": a.unit,
             "text": a.text, "status": a.status.value, "at": a.at.isoformat(), "decided_by": a.decided_by}
            for a in asks
        ],
        "changes": [
            {"code": c.code, "measure": c.measure, "field": c.field, "old": c.old, "new": c.new, "reason": c.reason,
             "person": c.person, "at": c.at.isoformat()}
            for c in changes
        ],
    }


def _export_measure(progress: Any) -> dict[str, Any]:
    m = progress.measure
    item: dict[str, Any] = {"name": m.name, "kind": m.kind.value}
    if m.unit:
        item["unit"] = m.unit
    if m.kind is model.MeasureKind.TARGET:
        item.update(baseline=m.baseline, target=m.target)
    elif m.kind is model.MeasureKind.AT_MOST:
        item["at_most"] = m.limit
    elif m.kind is model.MeasureKind.AT_LEAST:
        item["at_least"] = m.limit
    if m.due:
        item["due"] = m.due.isoformat()
    value = progress.value
    item["value"] = bool(value) if m.kind is model.MeasureKind.MILESTONE and value is not None else value
    item["completion"] = progress.completion
    item["forecast"] = progress.forecast_value
    return item


def _export_objective(progress: Any, *, okrs: model.Okrs, checkins: list[model.Checkin], at: datetime) -> dict[str, Any]:
    o = progress.objective
    measures = [
        measure_progress(
            measure=m, checkins=checkins, code=o.code, cycle=okrs.cycle, objective_deadline=o.deadline, as_of=at
        )
        for m in o.measures
    ]
    by_path: dict[str, list[Any]] = defaultdict(list)
    for kp in progress.krs:
        by_path[next(p.code for p in o.paths if kp.kr in p.krs)].append(kp)
    return {
        "code": o.code,
        "title": o.title,
        "owner": o.owner,
        "strategy": o.strategy,
        "deadline": o.deadline.isoformat() if o.deadline else None,
        "completion": progress.completion,
        "forecast_completion": progress.forecast_completion,
        "status": progress.status.value,
        "measures": [_export_measure(m) for m in measures],
        "paths": [
            {
                "code": p.code,
                "title": p.title,
                "priority": p.priority,
                "scores": p.scores,
                "krs": [
                    {
                        "code": kp.kr.code,
                        "title": kp.kr.title,
                        "owner": kp.kr.owner,
                        "accountable": kp.kr.accountable,
                        "consulted": list(kp.kr.consulted),
                        "informed": list(kp.kr.informed),
                        "control": kp.kr.control.value if kp.kr.control else None,
                        "impact": kp.kr.impact.value if kp.kr.impact else None,
                        "status": kp.status.value,
                        "completion": kp.completion,
                        "forecast_completion": kp.forecast_completion,
                        "measures": [_export_measure(m) for m in kp.measures],
                        "tasks": [
                            {"title": t.title, "owner": t.owner, "due": t.due.isoformat(), "buffer_days": t.buffer_days,
                             "critical": t.critical, "done": t.done}
                            for t in kp.kr.tasks
                        ],
                    }
                    for kp in by_path.get(p.code, [])
                ],
            }
            for p in o.paths
        ],
    }


# ---------------------------------------------------------------- for the chat platforms

EVENT_MEMORY = timedelta(hours=8)


def find_person(*, uow: UnitOfWork, platform: str, user_id: str) -> tuple[str, str] | None:
    """(workspace name, person key) of a Slack or Feishu user, or None for someone krbot does not know."""
    with uow.begin() as session:
        return repository.person_by_chat_id(session=session, platform=platform, user_id=user_id)


def claim_event(*, uow: UnitOfWork, platform: str, event_id: str, at: datetime) -> bool:
    """True the first time a platform event is seen (across processes), False for a retry or re-delivery."""
    return claim_events(uow=uow, platform=platform, event_ids=[event_id], at=at)


def validate_checkin(
    *, uow: UnitOfWork, person: str, code: str, values: dict[str, str], at: datetime, workspace: str | None = None
) -> dict[str, KrbotError]:
    """Field-by-field problems of a check-in form (measure name -> the refusal to show on it); {} if valid."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        target = _owner_of(scope, code, sender)
    problems: dict[str, KrbotError] = {}
    for name, text in values.items():
        if not text.strip():
            continue
        try:
            _read_measure(_find_measure(target, name), text)
        except KrbotError as error:
            problems[name] = error
    return problems


def release_event(*, uow: UnitOfWork, platform: str, event_id: str) -> None:
    """Forget a claimed event whose handling failed, so that the platform's retry is handled."""
    with uow.begin() as session:
        events.release(session=session, platform=platform, event_id=event_id)


def person_of(*, uow: UnitOfWork, key: str, at: datetime, workspace: str | None = None) -> model.Person | None:
    """One person of the workspace by their id in the OKR file (with their chat ids), or None."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
    return scope.okrs.people.get(key)


def compose_as_posted(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None
) -> tuple[Digest, dict[int, tuple[str, str]]]:
    """The digest as composed at `as_of`, and the asks on it decided since (id -> status, decider's name)."""
    digest = compose(uow=uow, as_of=as_of, workspace=workspace)
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=as_of)
        asks = repository.load_asks(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
    return digest, {
        ask.id: (ask.status.value, _name_of(scope, ask.decided_by or ""))
        for ask in asks
        if ask.id is not None and ask.decided_at is not None and ask.decided_at > as_of
    }


def record_form(
    *,
    uow: UnitOfWork,
    person: str,
    code: str,
    values: dict[str, str],
    note: str | None,
    next_step: str | None,
    risk: str | None,
    ask_text: str | None,
    ask_kind: str | None,
    ask_amount: str | None,
    at: datetime,
    workspace: str | None = None,
    source: str = "form",
    event_key: str | None = None,
) -> tuple[Reply | None, dict[str, KrbotError]]:
    """Store a check-in form (values by measure name, an ask of a chosen kind) once per event key, or {field: refusal}."""
    try:
        return _record_form(
            uow=uow, person=person, code=code, values=values, note=note, next_step=next_step, risk=risk,
            ask_text=ask_text, ask_kind=ask_kind, ask_amount=ask_amount, at=at, workspace=workspace, source=source,
            event_key=event_key,
        )
    except _Duplicate as duplicate:
        return Reply(key="checkin.duplicate", lang=str(duplicate), params={"code": code}), {}


def _record_form(
    *, uow: UnitOfWork, person: str, code: str, values: dict[str, str], note: str | None, next_step: str | None,
    risk: str | None, ask_text: str | None, ask_kind: str | None, ask_amount: str | None, at: datetime,
    workspace: str | None, source: str, event_key: str | None,
) -> tuple[Reply | None, dict[str, KrbotError]]:
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        sender = _person(scope, person)
        if event_key is not None and repository.checkin_with_event(
            session=session, workspace_id=scope.workspace.id, event_key=event_key
        ):
            return Reply(key="checkin.duplicate", lang=scope.lang, params={"code": code}), {}
        target = _owner_of(scope, code, sender)
        problems: dict[str, KrbotError] = {}
        for name, text in values.items():
            if text.strip():
                try:
                    _read_measure(_find_measure(target, name), text)
                except KrbotError as error:
                    problems[name] = error
        ask = _form_ask(text=ask_text, kind=ask_kind, amount=ask_amount, problems=problems)
        if problems:
            return None, problems
        update = commands.Update(
            code=target.code,
            values=tuple(commands.MeasureValue(measure=n, text=t) for n, t in values.items() if t.strip()),
            note=(note or "").strip() or None,
            next_step=(next_step or "").strip() or None,
            risk=(risk or "").strip() or None,
            asks=(ask.text,) if ask else (),
        )
        checkin, _ = _build_checkin(scope=scope, person=sender, update=update, at=at)
        asks = [] if ask is None else [
            model.Ask(id=None, code=target.code, person=sender.key, kind=ask.kind, text=ask.text, at=at,
                      amount=ask.amount, unit=ask.unit)
        ]
        try:
            repository.add_checkin(
                session=session, loaded=scope.loaded, checkin=checkin, asks=asks, source=source, event_key=event_key
            )
        except IntegrityError as error:  # a concurrent delivery of the same submission stored it first
            raise _Duplicate(scope.lang) from error
        return _saved_reply(session=session, scope=scope, checkin=checkin, asks=asks, at=at), {}


class _Duplicate(Exception):
    """A form submission another delivery already stored (carries the workspace language)."""


def _form_ask(*, text: str | None, kind: str | None, amount: str | None, problems: dict[str, KrbotError]) -> Any:
    """The ask of a form: typed words, the kind chosen (else classified by the words) and an amount read for that kind."""
    words = (text or "").strip()
    typed_amount = (amount or "").strip()
    if not words:
        if kind or typed_amount:
            problems["ask_text"] = KrbotError("form.ask_text_missing")
        return None
    classified = classify_ask(text=words)
    chosen = model.AskKind(kind) if kind else classified.kind
    number, unit = (classified.amount, classified.unit) if chosen is classified.kind else (None, None)
    if typed_amount:
        read = classify_ask(text=typed_amount)
        if chosen is model.AskKind.MONEY:
            if read.kind is not model.AskKind.MONEY:
                problems["ask_amount"] = KrbotError("form.ask_amount_money", word=typed_amount)
            number, unit = read.amount, read.unit
        else:
            try:
                number, unit = read_value(text=typed_amount, unit=None), ("people" if chosen is model.AskKind.PEOPLE else None)
            except KrbotError:
                problems["ask_amount"] = KrbotError("form.ask_amount_number", word=typed_amount)
    return model.Ask(id=None, code="", person="", kind=chosen, text=words, at=datetime.min, amount=number, unit=unit)


# ---------------------------------------------------------------- for the scheduler


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """What the scheduler reads of one workspace at a moment: its times, its owners, who is away, who checked in."""

    workspace_id: int
    workspace: str
    lang: str
    timezone: str
    reminder: str
    digest: str
    boss_channel: dict[str, str]
    cycle_start: date
    cycle_end: date
    owners: tuple[model.Person, ...]
    away: dict[str, list[tuple[date, date]]]
    last_checkin: dict[str, datetime]


@dataclass(frozen=True, slots=True)
class Escalation:
    """A stale KR and the accountable person to tell about it."""

    code: str
    title: str
    owner: str
    person: model.Person
    last_at: datetime | None
    days: int


def schedule_views(*, uow: UnitOfWork, at: datetime) -> list[ScheduleView]:
    """Every workspace with a current cycle at `at`, with its KR owners (and objective owners with a headline)."""
    views = []
    with uow.begin() as session:
        for row in repository.workspaces(session=session):
            day = at.astimezone(ZoneInfo(row.timezone)).date()
            cycle = repository.current_cycle(session=session, workspace_id=row.id, day=day)
            if cycle is None:
                continue
            owners = repository.schedule_owners(session=session, workspace_id=row.id, cycle_id=cycle.id)
            last = repository.last_checkins(session=session, cycle_id=cycle.id, until=at)
            views.append(
                ScheduleView(
                    workspace_id=row.id,
                    workspace=row.name,
                    lang=row.language,
                    timezone=row.timezone,
                    reminder=row.reminder,
                    digest=row.digest,
                    boss_channel=dict(row.boss_channel or {}),
                    cycle_start=cycle.start,
                    cycle_end=cycle.end,
                    owners=owners,
                    away=dict(repository.away_days(session=session, workspace_id=row.id)),
                    last_checkin=last,
                )
            )
    return views


def _rows_by_person(progresses: Any) -> dict[str, list[dict[str, Any]]]:
    """Each person's KRs (and objectives with a headline, and the shared KRs they contribute to) as rows."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for progress in progresses:
        objective = progress.objective
        if progress.headline is not None:
            rows[objective.owner].append(
                {
                    "code": objective.code,
                    "title": objective.title,
                    "status": progress.status.value,
                    "completion": progress.completion,
                    "forecast": progress.forecast_completion,
                    "measures": [_measure_row(progress.headline)],
                }
            )
        for kp in progress.krs:
            row = {
                "code": kp.kr.code,
                "title": kp.kr.title,
                "status": kp.status.value,
                "completion": kp.completion,
                "forecast": kp.forecast_completion,
                "measures": [_measure_row(m) for m in kp.measures],
                "contributing": False,
            }
            reporters = list(dict.fromkeys([kp.kr.owner, *kp.kr.delegates]))
            for key in reporters:
                rows[key].append(row)
            for key in dict.fromkeys(kp.kr.contributors.values()):
                if key not in reporters:
                    rows[key].append({**row, "contributing": True})
    return rows


def reminder_rows(
    *, uow: UnitOfWork, people: list[str], at: datetime, workspace: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Each named person's KR rows (as /kr list shows them), computed once for many people."""
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=at)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
    rows = _rows_by_person(okr_progress(okrs=scope.okrs, checkins=checkins, as_of=scope.local(at)))
    return {key: [row for row in rows.get(key, []) if not row.get("contributing")] for key in people}


def boss_digest(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None
) -> tuple[Digest, tuple[Escalation, ...]]:
    """The digest to post, with the week's failed deliveries, and the stale KRs whose accountable person to tell."""
    digest = compose(uow=uow, as_of=as_of, workspace=workspace)
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=as_of)
        rows = ledger.failed_between(
            session=session, workspace_id=scope.workspace.id, since=as_of - timedelta(days=7), until=as_of
        )
    people = scope.okrs.people
    failed = tuple(
        FailedDelivery(
            kind=row.kind,
            target=people[row.target].name if row.target in people else row.target,
            period=row.period,
            attempts=row.attempts,
            error=row.error,
            at=row.claimed_at,
        )
        for row in rows
    )
    krs = {kr.code: kr for objective in scope.okrs.objectives for kr in objective.krs()}
    escalations = tuple(
        Escalation(
            code=stale.code,
            title=stale.title,
            owner=stale.owner,
            person=people[krs[stale.code].accountable or ""],
            last_at=stale.last_at,
            days=stale.days,
        )
        for stale in digest.stale
        if stale.code in krs and (krs[stale.code].accountable or "") in people
    )
    return replace(digest, failed=failed), escalations


def claim_events(*, uow: UnitOfWork, platform: str, event_ids: list[str], at: datetime) -> bool:
    """True the first time all ids of one delivery (event id, message id …) are seen, claimed together; else False."""
    try:
        with uow.begin() as session:
            events.claim(session=session, platform=platform, event_ids=event_ids, at=at, memory=EVENT_MEMORY)
    except IntegrityError:
        return False
    return True


def slack_team_of(*, uow: UnitOfWork, workspace: str | None = None) -> str | None:
    """The Slack team a workspace lives in, as its OKR file names it (multi-workspace installs), or None."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        if row is None:
            raise KrbotError("workspace.none")
        return row.slack_team


def boss_channels(*, uow: UnitOfWork, workspace: str | None = None) -> dict[str, str]:
    """The workspace's boss channel on each platform, as the OKR file names them."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        if row is None:
            raise KrbotError("workspace.none")
        return dict(row.boss_channel or {})


def overdue_tasks(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None
) -> list[tuple[model.Person, model.KeyResult, model.Task]]:
    """Each task past its due date and not done (of KRs not yet done), with the person who owns it."""
    digest = compose(uow=uow, as_of=as_of, workspace=workspace)
    late = {(task.code, task.title) for task in digest.overdue}
    with uow.begin() as session:
        scope = _scope(session=session, workspace=workspace, at=as_of)
    return [
        (scope.okrs.people[task.owner], kr, task)
        for objective in scope.okrs.objectives
        for kr in objective.krs()
        for task in kr.tasks
        if (kr.code, task.title) in late and task.owner in scope.okrs.people
    ]
