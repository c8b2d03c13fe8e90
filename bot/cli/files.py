"""Files in and out: import and lint the OKR file, import check-in history, export everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.app import (
    DbOption,
    ExportFormat,
    WorkspaceOption,
    cli,
    fail,
    language_of,
    now,
    open_app,
    read_input,
)
from bot.core.errors import KrbotError

if TYPE_CHECKING:
    pass



KINDS = ("workspace", "people", "cycle", "objectives", "paths", "krs", "measures", "tasks")


@cli.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="The OKR file (YAML); - reads standard input.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show what would change; write nothing.")
    ] = False,
    as_person: Annotated[
        str | None, typer.Option("--as", help="Who imports (a person id of the file): logged with its goal changes.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Import a file with an older revision: undo the goal changes made since.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create or update the workspace, people, cycle, objectives, paths, KRs, measures and tasks by their codes."""
    from bot import services
    from bot.i18n import error_message, translate
    from bot.okrfile import file_language

    text = read_input(file)
    app = open_app(db)
    try:
        outcome = services.import_okrs(
            uow=app.uow, text=text, filename=str(file), at=now(), dry_run=dry_run, person=as_person,
            force=force,
        )
    except KrbotError as error:
        fail(error_message(error, lang=file_language(text=text)))
    lang = outcome.language

    def ordered(counts: dict[str, int]) -> dict[str, int]:
        return {kind: counts[kind] for kind in KINDS if counts.get(kind)}

    typer.echo(
        translate(
            "cli.imported",
            lang=lang,
            workspace=outcome.workspace,
            created=ordered(outcome.created),
            updated=ordered(outcome.updated),
            archived=ordered(outcome.archived),
            dry_run=dry_run,
        )
    )
    for change in outcome.changes:
        typer.echo(
            "  "
            + translate(
                "digest.change",
                lang=lang,
                code=change.code,
                measure=change.measure or "",
                field=translate(f"field.{change.field}", lang=lang),
                old=change.old or "—",
                new=change.new or "—",
                person="",
                reason="",
            )
        )
    if outcome.history:
        typer.echo(translate("cli.history_archived", lang=lang, items=outcome.history, dry_run=dry_run), err=True)
    _print_findings(lang=lang, workspace=outcome.workspace, findings=outcome.findings)


def _print_findings(*, lang: str, workspace: str, findings: list[Any]) -> bool:
    from bot.i18n import translate

    failures = sum(1 for f in findings if f.severity == "fail")
    warnings = len(findings) - failures
    for finding in findings:
        text = translate(finding.key, lang=lang, **finding.params)
        typer.echo(
            translate(
                "lint.line",
                lang=lang,
                severity=translate(f"lint.{finding.severity}", lang=lang),
                letter=finding.letter,
                code=finding.code,
                text=text,
            )
        )
    if findings:  # what each letter stands for, once: S specific … T time-bound, F the file itself
        letters = sorted({f.letter for f in findings}, key="SMARTF".find)
        typer.echo(translate("lint.legend", lang=lang, letters=letters))
    if failures:
        typer.echo(translate("lint.failed", lang=lang, failures=failures, warnings=warnings))
    else:
        typer.echo(translate("lint.ok", lang=lang, warnings=warnings))
    return failures == 0


@cli.command("lint")
def lint(file: Annotated[Path, typer.Argument(help="The OKR file (YAML); - reads standard input.")], db: DbOption = None) -> None:
    """The SMART lint alone; exit 1 when a goal fails it."""
    from bot import services
    from bot.i18n import error_message
    from bot.okrfile import file_language

    text = read_input(file)
    try:
        lang, findings = services.lint_file(text=text, filename=str(file))
    except KrbotError as error:
        fail(error_message(error, lang=file_language(text=text)))
    if lang == "en":
        lang = file_language(text=text)
    if not _print_findings(lang=lang, workspace="", findings=findings):
        raise typer.Exit(1)


@cli.command("import-checkins")
def import_checkins(
    file: Annotated[
        Path, typer.Argument(help="CSV with columns code,measure,value,person,at[,note,next,ask,risk].")
    ],
    locale: Annotated[
        str | None, typer.Option("--locale", help="Read numbers as this locale writes them (default: the workspace's).")
    ] = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """History from a spreadsheet (delimiter , ; or tab): all rows or none."""
    from bot import services
    from bot.i18n import error_message, translate

    text = read_input(file)
    app = open_app(db)
    lang = language_of(app, workspace)
    try:
        counts = services.import_checkins(
            uow=app.uow, text=text, filename=str(file), workspace=workspace, now=now(), locale=locale
        )
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    typer.echo(translate("cli.checkins_imported", lang=lang, **counts))


@cli.command("export")
def export(
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", help="json or csv (everything stored), or yaml (the OKR file, importable)."),
    ] = ExportFormat.json,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Everything stored (the OKR tree with current values, check-ins, asks and goal changes), or the OKR file."""
    from bot import services
    from bot.i18n import error_message

    app = open_app(db)
    try:
        if fmt is ExportFormat.yaml:  # the OKR file as it stands now, with its revision (§10)
            typer.echo(services.export_okr_file(uow=app.uow, at=now(), workspace=workspace), nl=False)
            return
        data = services.export_all(uow=app.uow, at=now(), workspace=workspace)
    except KrbotError as error:
        fail(error_message(error, lang=language_of(app, workspace)))
    if fmt is ExportFormat.json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(services.export_csv(uow=app.uow, at=now(), workspace=workspace), nl=False)
