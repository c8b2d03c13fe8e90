"""The command line (CONTRACT §4): every command a thin edge over bot.services."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from bot.core.errors import KrbotError

if TYPE_CHECKING:
    from bot.app import App

cli = typer.Typer(
    name="krbot",
    help="krbot: OKR check-ins and a conclusion-first boss digest, on Slack, Feishu and the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
jobs_cli = typer.Typer(help="The scheduled jobs: reminders, chasers, digest.", no_args_is_help=True)
cli.add_typer(jobs_cli, name="jobs")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL (default: KRBOT_DATABASE_URL or sqlite:///./krbot.db)."),
]
WorkspaceOption = Annotated[
    str | None, typer.Option("--workspace", help="Workspace name, when the database holds more than one.")
]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="ISO date-time of the check-in (default: now; no zone = workspace zone)."),
]


class Lang(StrEnum):
    """Report languages."""

    zh = "zh"
    en = "en"


class DigestFormat(StrEnum):
    """Digest surfaces."""

    text = "text"
    markdown = "markdown"
    slack = "slack"
    feishu = "feishu"
    html = "html"


class ExportFormat(StrEnum):
    """Export formats."""

    json = "json"
    yaml = "yaml"
    csv = "csv"


KINDS = ("workspace", "people", "cycle", "objectives", "paths", "krs", "measures", "tasks")


def _fail(message: str, *, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _app(db: str | None) -> App:
    from bot.app import build_app
    from bot.i18n import translate

    try:
        return build_app(database_url=db)
    except Exception as error:  # noqa: BLE001 - the operator needs the cause, not a traceback
        _fail(
            translate("cli.db_failed", lang="en", url=db or "KRBOT_DATABASE_URL", detail=str(error)), code=1
        )


def _read(path: Path, lang: str = "en") -> str:
    """The file's text; `-` reads standard input (`docker compose exec -T krbot krbot import - < okrs.yaml`)."""
    from bot.i18n import translate

    try:
        if str(path) == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(translate("okrfile.unreadable", lang=lang, path=str(path), detail=error.__class__.__name__))


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(app: App, text: str | None, workspace: str | None, *, as_of: bool = False) -> datetime:
    from bot import services
    from bot.i18n import error_message

    if text is None:
        return _now()
    zone = services.workspace_timezone(uow=app.uow, workspace=workspace)
    try:
        if as_of:  # a date alone is the end of that day (CONTRACT §7)
            return services.parse_as_of(text=text, timezone=zone)
        return services.parse_moment(text=text, timezone=zone)
    except KrbotError as error:
        _fail(error_message(error, lang=services.workspace_language(uow=app.uow, workspace=workspace)))


def _lang(app: App, workspace: str | None) -> str:
    from bot import services

    return services.workspace_language(uow=app.uow, workspace=workspace)


@db_cli.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply the migrations (alembic upgrade head)."""
    from bot.i18n import translate

    _app(db)
    typer.echo(translate("cli.db_upgraded", lang="en"))


@cli.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="The OKR file (YAML); - reads standard input.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show what would change; write nothing.")
    ] = False,
    as_person: Annotated[
        str | None, typer.Option("--as", help="Who imports (a person id of the file): logged with its goal changes.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create or update the workspace, people, cycle, objectives, paths, KRs, measures and tasks by their codes."""
    from bot import services
    from bot.i18n import error_message, translate
    from bot.okrfile import file_language

    text = _read(file)
    app = _app(db)
    try:
        outcome = services.import_okrs(
            uow=app.uow, text=text, filename=str(file), at=_now(), dry_run=dry_run, person=as_person
        )
    except KrbotError as error:
        _fail(error_message(error, lang=file_language(text=text)))
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

    text = _read(file)
    try:
        lang, findings = services.lint_file(text=text, filename=str(file))
    except KrbotError as error:
        _fail(error_message(error, lang=file_language(text=text)))
    if lang == "en":
        lang = file_language(text=text)
    if not _print_findings(lang=lang, workspace="", findings=findings):
        raise typer.Exit(1)


@cli.command("checkin")
def checkin(
    text: Annotated[
        list[str], typer.Argument(help="As in /kr update: KR2 1.8% note: … next: … ask: … risk: …")
    ],
    person: Annotated[str, typer.Option("--as", help="Person id from the OKR file.")],
    at: AtOption = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """One check-in, with exactly the grammar of /kr update."""
    from bot import services
    from bot.commands import parse_update
    from bot.i18n import error_message
    from bot.render import render_reply

    app = _app(db)
    moment = _moment(app, at, workspace)
    lang = _lang(app, workspace)
    try:
        update = parse_update(text=" ".join(text))
        if update.code is None:
            raise KrbotError("checkin.no_code", known="KR…")
        reply = services.record_checkin(
            uow=app.uow, person=person, update=update, at=moment, workspace=workspace, now=_now()
        )
    except KrbotError as error:
        _fail(error_message(error, lang=lang))
    typer.echo(render_reply(reply=reply))


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

    text = _read(file)
    app = _app(db)
    lang = _lang(app, workspace)
    try:
        counts = services.import_checkins(
            uow=app.uow, text=text, filename=str(file), workspace=workspace, now=_now(), locale=locale
        )
    except KrbotError as error:
        _fail(error_message(error, lang=lang))
    typer.echo(translate("cli.checkins_imported", lang=lang, **counts))


@cli.command("say")
def say(
    text: Annotated[str, typer.Argument(help='A chat command, e.g. "/kr update KR2 1.8%".')],
    person: Annotated[str, typer.Option("--as", help="Person id from the OKR file.")],
    at: AtOption = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Any chat command, through the same code path as Slack and Feishu; prints the reply."""
    from bot import services
    from bot.render import render_reply

    app = _app(db)
    moment = _moment(app, at, workspace)
    reply = services.run_command(
        uow=app.uow, person=person, text=text, at=moment, workspace=workspace, source="cli"
    )
    rendered = render_reply(reply=reply)
    if not reply.ok:
        _fail(rendered)
    typer.echo(rendered)


@cli.command("digest")
def digest(
    lang: Annotated[Lang | None, typer.Option("--lang", help="Language (default: the workspace's).")] = None,
    fmt: Annotated[DigestFormat, typer.Option("--format", help="Surface to render.")] = DigestFormat.text,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO date or date-time; a date alone is the end of that day (default: now).")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post it to the boss channel.")] = False,
    department: Annotated[
        str | None,
        typer.Option(
            "--department", help="One department's view: its KRs and the shared ones it contributes to."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Compose the boss digest and print it (or post it)."""
    from bot import services
    from bot.i18n import error_message
    from bot.render import render_digest, render_report

    app = _app(db)
    moment = _moment(app, as_of, workspace, as_of=True)
    language = lang.value if lang else _lang(app, workspace)
    try:
        if post:
            _post_digest(app=app, as_of=moment, workspace=workspace, lang=language)
            return
        if fmt in (DigestFormat.slack, DigestFormat.feishu):
            composed = services.compose(uow=app.uow, as_of=moment, workspace=workspace, department=department)
            typer.echo(
                json.dumps(
                    _payloads(digest=composed, surface=fmt, lang=language), ensure_ascii=False, indent=2
                )
            )
            return
        if fmt is DigestFormat.html:
            composed, charts = services.compose_report(
                uow=app.uow, as_of=moment, workspace=workspace, department=department
            )
            typer.echo(render_report(digest=composed, charts=charts, lang=language))
            return
        composed = services.compose(uow=app.uow, as_of=moment, workspace=workspace, department=department)
    except KrbotError as error:
        _fail(error_message(error, lang=language))
    typer.echo(render_digest(digest=composed, fmt=fmt.value, lang=language), nl=False)


def _payloads(*, digest: Any, surface: DigestFormat, lang: str) -> Any:
    """The JSON the bot would post: Slack's channel message and thread replies, or Feishu's card(s)."""
    if surface is DigestFormat.slack:
        from bot.platforms.slack_blocks import digest_messages

        channel_message, thread = digest_messages(digest=digest, lang=lang)
        return {"channel_message": channel_message, "thread": thread}
    from bot.platforms.feishu_cards import digest_cards

    return {"cards": digest_cards(digest=digest, lang=lang)}


def _post_digest(*, app: App, as_of: datetime, workspace: str | None, lang: str) -> None:
    """Post the digest now to the boss channel of every configured chat platform (not the console)."""
    from bot import services
    from bot.app import configured_platforms
    from bot.i18n import translate

    platforms = [p for p in configured_platforms(app=app, http=None) if p.name in ("slack", "feishu")]
    if not platforms:
        _fail(translate("cli.no_platform", lang=lang))
    composed, _ = services.boss_digest(uow=app.uow, as_of=as_of, workspace=workspace)
    channels = services.boss_channels(uow=app.uow, workspace=workspace)
    for platform in platforms:
        channel = channels.get(platform.name)
        if not channel:
            typer.echo(translate("cli.no_channel", lang=lang, platform=platform.name), err=True)
            continue
        sent = platform.post_digest(
            digest=composed, channel=channel, idempotency_key=f"digest:{as_of.isoformat()}"
        )
        typer.echo(
            translate("cli.posted", lang=lang, platform=platform.name, channel=channel, id=sent.message_id)
        )


@cli.command("export")
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="json, yaml or csv.")] = ExportFormat.json,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Everything stored: the OKR tree with current values, check-ins, asks and goal changes."""
    import yaml

    from bot import services
    from bot.i18n import error_message

    app = _app(db)
    try:
        data = services.export_all(uow=app.uow, at=_now(), workspace=workspace)
    except KrbotError as error:
        _fail(error_message(error, lang=_lang(app, workspace)))
    if fmt is ExportFormat.json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif fmt is ExportFormat.yaml:
        typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), nl=False)
    else:
        typer.echo(services.export_csv(uow=app.uow, at=_now(), workspace=workspace), nl=False)


@cli.command("plan")
def plan(
    code: Annotated[str, typer.Argument(help="A KR code.")],
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """The KR's tasks laid out backwards from its due date, with buffers and latest finishes."""
    from bot import services
    from bot.i18n import error_message
    from bot.render import render_reply

    app = _app(db)
    lang = _lang(app, workspace)
    try:
        reply = services.show_plan(uow=app.uow, code=code, at=_now(), workspace=workspace)
    except KrbotError as error:
        _fail(error_message(error, lang=lang))
    typer.echo(render_reply(reply=reply))


@cli.command("run")
def run(
    http: Annotated[
        bool, typer.Option("--http", help="Serve POST /slack/events, POST /feishu/events and GET /healthz.")
    ] = False,
    port: Annotated[
        int | None, typer.Option("--port", help="HTTP port (default: KRBOT_HTTP_PORT or 3000).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve every configured platform and the scheduler (the console when no platform is configured)."""
    from bot.app import run as run_app
    from bot.i18n import error_message

    app = _app(db)
    try:
        run_app(app=app, http=http, port=port)
    except KrbotError as error:  # a platform refused to start (no encrypt key, no app token …)
        _fail(error_message(error, lang=_lang(app, None)))


@cli.command("secret-key")
def secret_key() -> None:
    """Print a new KRBOT_SECRET_KEY (the key that encrypts Slack tokens stored for multi-workspace installs)."""
    from storage.slack_installs import new_secret_key

    typer.echo(new_secret_key())


@cli.command("demo")
def demo(
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the demo.")] = Lang.zh,
    db: Annotated[
        str | None, typer.Option("--db", help="SQLAlchemy URL (default: a temporary SQLite file).")
    ] = None,
) -> None:
    """A whole quarter of the example OKRs, simulated weekly check-ins, and the boss digest."""
    from bot.demo import run_demo

    run_demo(lang=lang.value, database_url=db, echo=typer.echo)


class JobName(StrEnum):
    """The scheduled jobs."""

    reminders = "reminders"
    chasers = "chasers"
    digest = "digest"


@jobs_cli.command("list")
def jobs_list(db: DbOption = None) -> None:
    """Each job with its next time, per workspace."""
    from bot import services
    from bot.i18n import translate
    from bot.scheduler import next_times

    app = _app(db)
    listing = next_times(uow=app.uow, now=_now())
    if not listing:
        typer.echo(translate("scheduler.jobs.none", lang=_lang(app, None)))
    for item in listing:
        lang, zone = item["lang"], item["timezone"]
        typer.echo(translate("scheduler.jobs.workspace", lang=lang, workspace=item["workspace"], zone=zone))
        for job, (when, params) in item["jobs"].items():
            shown = when.astimezone(services.local_zone(name=zone)).strftime("%Y-%m-%d %a %H:%M")
            about = translate(f"scheduler.job.{job}", lang=lang, **params)
            typer.echo("  " + translate("scheduler.jobs.line", lang=lang, job=job, next=shown, about=about))


@jobs_cli.command("run")
def jobs_run(
    name: Annotated[JobName, typer.Argument(help="reminders, chasers or digest.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="ISO date or date-time; a date alone is the end of that day (default: now; no zone = workspace zone).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Send now what the current period owes, through the once-per-period ledger (never twice)."""
    from bot.app import configured_platforms
    from bot.i18n import translate
    from bot.scheduler import Runner

    app = _app(db)
    moment = _moment(app, as_of, None, as_of=True)
    lang = _lang(app, None)
    platforms = configured_platforms(app=app, http=None)
    try:
        outcome = Runner(uow=app.uow, platforms=platforms).run(job=name.value, now=moment, force=True)
    finally:
        for platform in platforms:
            platform.stop()
    counts = outcome.counts
    typer.echo(
        translate(
            "scheduler.ran",
            lang=lang,
            job=name.value,
            sent=counts["sent"],
            already=counts["already"] + counts["busy"],
            failed=counts["failed"],
            skipped=counts["skipped"],
            missed=counts["missed"],
        )
    )
    if counts["failed"] or counts["error"]:
        raise typer.Exit(1)


def main() -> None:
    """Run the CLI with CONTRACT §4's exit codes: 0 done, 2 bad input, 1 anything else."""
    from bot.i18n import error_message

    try:
        cli()
    except KrbotError as error:  # a refusal that escaped an edge: still the user's to read
        typer.echo(error_message(error, lang="en"), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
