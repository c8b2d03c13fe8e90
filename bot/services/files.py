"""The OKR file: linted, imported, and the schema upgraded."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml

from bot.config import variable
from bot.core.errors import KrbotError
from bot.core.lint import Finding, lint_document
from bot.core.model import Okrs
from bot.core.revisions import undone_changes
from bot.okrfile import file_language, load_yaml, parse_okr_file, refusals, renames_in, to_domain
from bot.resources import resource_dir
from bot.services.replies import ImportOutcome
from storage import repository
from storage.db import UnitOfWork, upgrade
from storage.renames import Renames

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def refuse_undoing(*, session: Session, okrs: Okrs, revision: int, filename: str) -> None:
    """Refuse a file exported at `revision` whose import would undo goal changes made since, naming each."""
    found = repository.goals_since(
        session=session, workspace=okrs.workspace.name, cycle=okrs.cycle.name, revision=revision
    )
    if found is None:
        return
    changes, current = found
    undone = undone_changes(changes=changes, current=current, incoming=okrs)
    if not undone:
        return
    zone = ZoneInfo(current.workspace.timezone)
    raise KrbotError(
        "import.would_undo",
        file=filename,
        revision=revision,
        changes=[
            {"code": c.code, "measure": c.measure, "field": c.field, "old": c.old, "new": c.new,
             "person": current.people[c.person].name if c.person in current.people else c.person,
             "at": c.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), "reason": c.reason}
            for c in undone
        ],
    )


def upgrade_schema(*, uow: UnitOfWork) -> None:
    """Apply the migrations."""
    upgrade(engine=uow.engine)


@cache
def smart_terms() -> tuple[str, ...]:
    """Market, channel and product words that make a title specific (templates/smart_terms.yaml)."""
    data = yaml.safe_load((resource_dir(name="templates") / "smart_terms.yaml").read_text(encoding="utf-8"))
    return tuple(str(term) for words in data.values() for term in words)


def lint_file(*, text: str, filename: str) -> tuple[str, list[Finding]]:
    """Every SMART finding of a file, even one import would refuse; a refusal the lint can't explain is added."""
    lang = file_language(text=text)
    data = load_yaml(text=text, filename=filename)  # unreadable YAML is bad input, not a finding
    findings = lint_document(data=data, terms=smart_terms())
    findings += unset_secrets(data=data)
    for error in refusals(text=text, filename=filename):
        field = str(error.params.get("field", ""))
        if ".measures[" not in field or ".source" in field:  # a measure's numbers are the M findings above
            findings.append(Finding(letter="F", code="", severity="fail", key=error.key, params=error.params))
    return lang, findings


def unset_secrets(*, data: Any) -> list[Finding]:
    """A warning for each outbound webhook whose signing secret's environment variable is not set here."""
    workspace = data.get("workspace") if isinstance(data, dict) else None
    hooks = workspace.get("webhooks") if isinstance(workspace, dict) else None
    return [
        Finding(letter="F", code="", severity="warn", key="webhook.secret_unset",
                params={"variable": hook["secret_env"], "url": str(hook.get("url", ""))})
        for hook in (hooks if isinstance(hooks, list) else [])
        if isinstance(hook, dict) and isinstance(hook.get("secret_env"), str) and not variable(name=hook["secret_env"])
    ]


def source_role_warnings(*, okrs: Any) -> list[Finding]:
    """A warning for each SQL source whose database role is a superuser or may write (or could not be checked)."""
    from bot.core.sources import sourced

    names = {
        measure.source.database_env
        for objective in okrs.objectives
        for target in (objective, *objective.krs())
        for measure in sourced(target=target)
        if measure.source is not None and measure.source.database_env
    }
    if not names:
        return []
    from bot.pulling.sql_roles import role_findings

    return role_findings(names=names)


def import_okrs(
    *,
    uow: UnitOfWork,
    text: str,
    filename: str,
    at: datetime,
    dry_run: bool = False,
    person: str | None = None,
    force: bool = False,
) -> ImportOutcome:
    """Create or update the OKR tree from a file by its codes, logging goal changes by `person`; a dry run keeps none.

    A file with a `revision:` that would undo goal changes made after it is refused, naming them, unless `force`."""
    spec, _ = parse_okr_file(text=text, filename=filename)
    okrs = to_domain(spec=spec)
    if person is not None and person not in okrs.people:
        raise KrbotError("person.unknown", word=person, known=", ".join(okrs.people))
    codes, measures = renames_in(spec=spec)
    data = load_yaml(text=text, filename=filename)
    findings = [*lint_document(data=data, terms=smart_terms()), *unset_secrets(data=data)]
    findings += source_role_warnings(okrs=okrs)
    with uow.begin() as session:
        if spec.revision is not None and not force:
            refuse_undoing(session=session, okrs=okrs, revision=spec.revision, filename=filename)
        report = repository.sync_okrs(
            session=session, okrs=okrs, at=at, renames=Renames(codes=codes, measures=measures), person=person,
            revision=spec.revision or 0,
        )
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
        history=report.history,
    )
