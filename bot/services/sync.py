"""Pulling every data source of a workspace once per slot: values stored as synced check-ins, failures recorded and told."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot import commands
from bot.core import model
from bot.core.errors import KrbotError
from bot.core.numbers import NumberStyle
from bot.core.redact import QUOTE_LIMIT, blank_url, plain_quote
from bot.core.sources import OUTSIDE_WORDS, failure_kind, number_text, sourced
from bot.core.text import clean_text
from bot.i18n import source_error_words
from bot.locales import number_style, write_value
from bot.metrics import CHECKINS, SOURCE_PULLS
from bot.services.checkins import checkin_for, read_measure
from bot.services.context import Scope, load_scope
from storage import ledger
from storage.db import UnitOfWork
from storage.repository import pulls

log = logging.getLogger("krbot.sync")

PULLERS = 8  # sources of other systems (network) pulled at once


@dataclass(frozen=True, slots=True)
class SourceNotice:
    """Telling a KR's owner that its source failed: who, the words, and the cause the ledger keeps it once by."""

    person: model.Person
    text: str
    cause: str


@dataclass(slots=True)
class SyncRun:
    """What one sync of a workspace did."""

    workspace: str
    workspace_id: int
    lang: str
    pulled: int = 0
    failed: int = 0
    already: int = 0
    notices: list[SourceNotice] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Sourced:
    target: model.KeyResult | model.Objective
    measure: model.Measure
    measure_id: int


def _sourced(scope: Scope, people: Collection[str] | None) -> list[_Sourced]:
    """Every measure with a source in the cycle (of the named owners' KRs and objectives, when given)."""
    found = []
    for objective in scope.okrs.objectives:
        for target in (objective, *objective.krs()):
            if people is not None and target.owner not in people:
                continue
            for measure in sourced(target=target):
                found.append(_Sourced(target, measure, scope.loaded.measure_ids[(target.code, measure.name)]))
    return found


def _text(*, raw: Any, measure: model.Measure, owner: NumberStyle, workspace: NumberStyle) -> str:
    """A pulled value as the text its owner would type: a number in their style; a string read in the workspace's."""
    if measure.kind is model.MeasureKind.MILESTONE and not isinstance(raw, str):
        return "done" if raw else "not done"
    if isinstance(raw, str):
        if measure.kind is model.MeasureKind.MILESTONE:
            return raw.strip()
        try:
            read = read_measure(measure, raw.strip().rstrip("!"), style=workspace)
        except KrbotError as error:
            raise KrbotError("source.text", text=raw.strip()[:40], detail=error.params.get("detail", error.key),
                             **{k: v for k, v in error.params.items() if k not in ("detail", "text")}) from None
        return number_text(number=read, style=owner)
    return number_text(number=raw if isinstance(raw, (int, float, Decimal)) else float(raw), style=owner)


def _words(error: KrbotError, *, lang: str) -> str:
    """A pull's refusal as its owner and the admins read it: krbot's own words, and of what the source said at most
    120 plain characters (a §6 refusal quoted inside the source's own sentence)."""
    from bot.i18n import translate

    params = dict(error.params)
    if "detail" in params and str(params["detail"]).startswith("value."):
        params["detail"] = translate(params["detail"], lang=lang, **{**params, "text": params.get("text", "")})
    else:
        said = [name for name in OUTSIDE_WORDS if params.get(name) not in (None, "")]
        budget = QUOTE_LIMIT
        for name in said:  # what the outside system said shares one budget of plain characters
            params[name] = plain_quote(text=str(params[name]), limit=max(budget, 1))
            budget -= len(params[name])
    return translate(error.key, lang=lang, **params)


def failure_kind_key(*, key: str, status: Any = None) -> str:
    """A pull's refusal as everyone else reads it (digest, /api/v1/okrs, export): only its kind, stored as its catalog
    key (`source.kind.http_status:502`) so that each reader reads it in their own language."""
    return f"source.kind.{failure_kind(key=key)}" + ("" if status is None else f":{status}")


def sync_sources(
    *,
    uow: UnitOfWork,
    at: datetime,
    period: str,
    worker: str,
    workspace: str | None = None,
    people: Collection[str] | None = None,
    lease: timedelta = ledger.LEASE,
    puller: Callable[[], Any] | None = None,
) -> SyncRun:
    """Pull each source of the workspace's current cycle not yet pulled in `period` (claimed in the ledger, so two
    workers pull it once), store the values as one synced check-in per KR by its owner, record every outcome on
    `source_pulls`, and return the owners to tell of a failure (once a day per source)."""
    from bot.pulling import Puller

    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        run = SyncRun(workspace=scope.workspace.name, workspace_id=scope.workspace.id, lang=scope.lang)
        day = scope.local(at).date()
        if not scope.okrs.cycle.start <= day <= scope.okrs.cycle.end:
            return run  # after the cycle's end its numbers are the result: nothing is pulled
        items = _sourced(scope, people)
        if not items:
            return run
        last = pulls.pull_rows(session=session, workspace_id=run.workspace_id)
    with ledger.writing(uow), uow.begin() as session:
        claims = pulls.claim_pulls(session=session, workspace_id=run.workspace_id, measure_ids=[i.measure_id for i in items],
                                   period=period, worker=worker, now=at, lease=lease)
    run.already = len(items) - len(claims)
    mine = [item for item in items if item.measure_id in claims]
    if not mine:
        return run
    source = (puller or Puller)()
    try:
        texts, errors = _pull_all(scope=scope, items=mine, source=source)
    finally:
        source.close()
    checkins, values = _checkins(scope=scope, items=mine, texts=texts, errors=errors, at=at)
    results = []
    for item in mine:
        error = errors.get(item.measure_id)
        row = last.get(item.measure_id)
        tell = error is not None and (row is None or row.told_on != day)
        kind = None if error is None else failure_kind_key(key=error.key, status=error.params.get("status"))
        results.append(pulls.PullResult(measure_id=item.measure_id, value=values.get(item.measure_id), error=kind, tell=tell))
        if tell and error is not None:  # the owner reads the kind and, of what the source said, 120 plain characters
            words = clean_text(text=_words(error, lang=run.lang))
            notice = _notice(scope=scope, item=item, words=words, row=row, at=at)
            if notice is not None:
                run.notices.append(notice)
    with ledger.writing(uow), uow.begin() as session:
        ids = pulls.add_synced_checkins(session=session, loaded=scope.loaded, checkins=checkins)
        by_measure = {i.measure_id: ids[i.target.code] for i in mine if i.target.code in ids}
        pulls.record_pulls(session=session, workspace_id=run.workspace_id, results=results, now=at, today=day)
        pulls.finish_pulls(session=session, claims=claims, results=results, checkin_ids=by_measure, now=at)
    CHECKINS.labels(source=model.SYNCED).inc(len(checkins))
    for item, result in zip(mine, results, strict=True):
        assert item.measure.source is not None
        SOURCE_PULLS.labels(kind=item.measure.source.kind, outcome="failed" if result.error else "ok").inc()
    run.pulled = sum(1 for r in results if r.error is None)
    run.failed = len(results) - run.pulled
    if run.failed:
        log.warning("%s: %d of %d sources failed in %s", run.workspace, run.failed, len(results), period)
    return run


def _pull_all(*, scope: Scope, items: list[_Sourced], source: Any) -> tuple[dict[int, str], dict[int, KrbotError]]:
    """Each source's value as the text its owner would type, or the refusal (a pull's, or the §6 reader's). Sources
    that wait for another system are pulled a few at a time; a local SQLite file's, CPU-bound under the GIL, one at a
    time on this thread meanwhile (more threads would only take turns)."""
    workspace_style = number_style(locale=scope.okrs.workspace.number_locale)

    def one(item: _Sourced) -> str | KrbotError:
        owner_style = scope.style_for(item.target.owner)
        text = ""
        try:
            assert item.measure.source is not None
            raw = source.pull(source=item.measure.source)
            text = _text(raw=raw, measure=item.measure, owner=owner_style, workspace=workspace_style)
            read_measure(item.measure, text, style=owner_style, check_range=True)
        except KrbotError as error:
            if error.key == "checkin.bad_value":  # the §6 reader refused the pulled number: implausible, too long …
                return KrbotError("source.implausible", **{**error.params, "text": text})
            return error
        except Exception as error:  # noqa: BLE001 - one source failing never stops the others
            log.exception("source of %s · %s failed", item.target.code, item.measure.name)
            return KrbotError("source.query", detail=str(error)[:300] or type(error).__name__)
        return text

    local = getattr(source, "local", None)
    here: list[_Sourced] = []
    away: list[_Sourced] = []
    for item in items:
        (here if local is not None and local(source=item.measure.source) else away).append(item)
    answers: dict[int, str | KrbotError] = {}
    if away:
        with ThreadPoolExecutor(max_workers=max(1, min(PULLERS, len(away))), thread_name_prefix="krbot-pull") as pool:
            waiting = pool.map(one, away)  # started now: the local ones below are read meanwhile
            answers.update({item.measure_id: one(item) for item in here})
            answers.update({item.measure_id: answer for item, answer in zip(away, waiting, strict=True)})
    else:
        answers.update({item.measure_id: one(item) for item in here})
    texts = {measure_id: a for measure_id, a in answers.items() if isinstance(a, str)}
    errors = {measure_id: a for measure_id, a in answers.items() if isinstance(a, KrbotError)}
    return texts, errors


def _checkins(
    *, scope: Scope, items: list[_Sourced], texts: dict[int, str], errors: dict[int, KrbotError], at: datetime
) -> tuple[list[model.Checkin], dict[int, float]]:
    """One check-in per KR (or objective) holding all its values pulled now, built by the owner's check-in builder
    (the target known already: no lookup of its code in the tree per check-in)."""
    by_code: dict[str, list[_Sourced]] = defaultdict(list)
    for item in items:
        if item.measure_id in texts:
            by_code[item.target.code].append(item)
    checkins: list[model.Checkin] = []
    values: dict[int, float] = {}
    for code, group in by_code.items():
        target = group[0].target
        owner = scope.okrs.people.get(target.owner)
        try:
            if owner is None:
                raise KrbotError("source.no_owner", code=code)
            update = commands.Update(
                code=code, values=tuple(commands.MeasureValue(measure=i.measure.name, text=texts[i.measure_id]) for i in group)
            )
            checkin, _ = checkin_for(scope=scope, target=target, person=owner, update=update, at=at, now=at)
        except KrbotError as error:
            for item in group:
                errors[item.measure_id] = error
            continue
        checkins.append(checkin)
        values.update({i.measure_id: checkin.values[i.measure.name] for i in group})
    return checkins, values


def _notice(*, scope: Scope, item: _Sourced, words: str, row: Any, at: datetime) -> SourceNotice | None:
    """The owner's notice of a failed source, in the workspace language; None when the owner is not known."""
    from bot.i18n import translate

    owner = scope.okrs.people.get(item.target.owner)
    if owner is None:
        return None
    source = item.measure.source
    assert source is not None
    lang, locale = scope.lang, scope.locale_for(owner.key)
    check = (
        translate("source.check.sql", lang=lang, env=source.database_env, sql=" ".join((source.sql or "").split())[:200])
        if source.kind == "sql"
        else translate("source.check.url", lang=lang, url=blank_url(url=source.url or ""), headers=source.headers_env, path=source.json_path)
    )
    ok_at = getattr(row, "ok_at", None)
    last_value = getattr(row, "value", None) if ok_at is not None else None
    text = translate(
        "source.notice", lang=lang, code=item.target.code, measure=item.measure.name,
        at=scope.local(at).strftime("%Y-%m-%d %H:%M"), error=words, check=check,
        last=None if last_value is None else write_value(number=last_value, unit=item.measure.unit, locale=locale, lang=lang),
        last_at=scope.local(ok_at).strftime("%Y-%m-%d %H:%M") if ok_at is not None else "",
    )
    day = scope.local(at).date().isoformat()
    return SourceNotice(person=owner, text=text, cause=f"source:{item.measure_id}:{day}")


def source_fields(*, source: model.Source, row: Any, lang: str, zone: ZoneInfo) -> dict[str, Any]:
    """A measure's source as export shows it (never a secret: variable names, not their values) and its last pull."""
    shown: dict[str, Any] = {"kind": source.kind}
    if source.kind == "sql":
        shown.update(sql=source.sql, database_env=source.database_env)
    else:
        shown.update(url=blank_url(url=source.url or ""), json_path=source.json_path, headers_env=source.headers_env)
    failed = row is not None and row.failed_at is not None and (row.ok_at is None or row.failed_at > row.ok_at)
    shown["last_pull"] = {
        "status": "never" if row is None else ("failed" if failed else "ok"),
        "tried_at": row.tried_at.astimezone(zone).isoformat() if row is not None and row.tried_at else None,
        "ok_at": row.ok_at.astimezone(zone).isoformat() if row is not None and row.ok_at else None,
        "value": row.value if row is not None else None,
        "failed_at": row.failed_at.astimezone(zone).isoformat() if row is not None and row.failed_at else None,
        "error": source_error_words(row.error, lang=lang) if row is not None and row.error else None,
    }
    return shown


def sources_of(*, scope: Scope, rows: dict[int, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every sourced measure's export fields by (code, measure name), its times on the workspace's clock."""
    shown, zone = {}, ZoneInfo(scope.workspace.timezone)
    for objective in scope.okrs.objectives:
        for target in (objective, *objective.krs()):
            for measure in sourced(target=target):
                measure_id = scope.loaded.measure_ids[(target.code, measure.name)]
                assert measure.source is not None
                shown[(target.code, measure.name)] = source_fields(source=measure.source, row=rows.get(measure_id),
                                                                   lang=scope.lang, zone=zone)
    return shown


def source_status(*, uow: UnitOfWork, workspace: str | None = None) -> dict[str, Any]:
    """How a workspace's sources stand now: how many last pulled a value, how many last failed, and the last try."""
    from storage import repository

    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        if row is None:
            raise KrbotError("workspace.none")
        return pulls.pull_summary(session=session, workspace_id=row.id)
