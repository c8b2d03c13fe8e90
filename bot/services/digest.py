"""The boss digest composed for a moment, a preview, or as it was posted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core.burnup import Burnup, burnups
from bot.core.digest import Digest, FailedDelivery, compose_digest
from bot.core.errors import KrbotError
from bot.core.method import (
    department_view,
    departments,
)
from bot.services.context import Scope, load_scope, name_of
from bot.services.replies import DigestRun, Escalation
from storage import ledger, repository
from storage.db import UnitOfWork
from storage.repository.freshness import pull_statuses


def compose(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None, department: str | None = None
) -> Digest:
    """The weekly digest at `as_of` (of one department's view when named), read in a fixed number of queries."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=as_of)
        return _composed(session=session, scope=scope, as_of=as_of, department=department)


def _composed(*, session: Session, scope: Scope, as_of: datetime, department: str | None = None) -> Digest:
    """The digest of a loaded scope: its check-ins, asks, changes and away days read once, then composed."""
    checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=as_of)
    asks = repository.load_asks(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
    changes = repository.load_changes(session=session, workspace_id=scope.workspace.id, since=as_of - timedelta(days=7))
    away = repository.away_days(session=session, workspace_id=scope.workspace.id)
    pulls = pull_statuses(session=session, cycle_id=scope.cycle.id)  # the sources' last pulls (§9)
    local = as_of.astimezone(ZoneInfo(scope.workspace.timezone))
    okrs = scope.okrs
    if department is not None:
        known = departments(okrs=okrs)
        if department not in known:
            raise KrbotError("department.unknown", word=department, known=", ".join(known) or "—")
        okrs = department_view(okrs=okrs, department=department)
    return compose_digest(okrs=okrs, checkins=checkins, asks=asks, changes=changes, as_of=local, away=away, pulls=pulls)


def compose_report(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None, department: str | None = None
) -> tuple[Digest, tuple[Burnup, ...]]:
    """The digest and the burn-up of each headline, for the one-page HTML report."""
    digest = compose(uow=uow, as_of=as_of, workspace=workspace, department=department)
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=as_of)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=as_of)
        changes = repository.load_changes(session=session, workspace_id=scope.workspace.id)
    return digest, burnups(okrs=scope.okrs, checkins=checkins, as_of=scope.local(as_of), changes=changes)


def compose_as_posted(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None
) -> tuple[Digest, dict[int, tuple[str, str]]]:
    """The digest as composed at `as_of`, and the asks on it decided since (id -> status, decider's name)."""
    digest = compose(uow=uow, as_of=as_of, workspace=workspace)
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=as_of)
        asks = repository.load_asks(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
    return digest, {
        ask.id: (ask.status.value, name_of(scope, ask.decided_by or ""))
        for ask in asks
        if ask.id is not None and ask.decided_at is not None and ask.decided_at > as_of
    }


def boss_digest(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None
) -> tuple[Digest, tuple[Escalation, ...]]:
    """The digest to post, with the week's failed deliveries, and the stale KRs whose accountable person to tell."""
    run = digest_run(uow=uow, as_of=as_of, workspace=workspace)
    return run.digest, run.escalations


def digest_run(*, uow: UnitOfWork, as_of: datetime, workspace: str | None = None) -> DigestRun:
    """Everything the weekly digest job sends, from one load and one composition: the digest with the week's failed
    deliveries, the stale KRs to escalate, and the overdue tasks with their owners."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=as_of)
        digest = _composed(session=session, scope=scope, as_of=as_of)
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
    late = {(task.code, task.title) for task in digest.overdue}
    overdue = tuple(
        (people[task.owner], kr, task)
        for kr in krs.values()
        for task in kr.tasks
        if (kr.code, task.title) in late and task.owner in people
    )
    return DigestRun(digest=replace(digest, failed=failed), escalations=escalations, overdue=overdue)
