"""Operating krbot: the schema, the server, the secret key, the demo and the scheduled jobs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.app import DbOption, Lang, cli, db_cli, fail, jobs_cli, language_of, moment_of, now, open_app
from bot.core.errors import KrbotError

if TYPE_CHECKING:
    pass



@db_cli.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply the migrations (alembic upgrade head)."""
    from bot.i18n import translate

    open_app(db)
    typer.echo(translate("cli.db_upgraded", lang="en"))


@cli.command("run")
def run(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve over HTTP: POST /slack/events (and GET /slack/install, GET /slack/oauth_redirect when several "
            "Slack workspaces install), POST /feishu/events, the API (POST /api/v1/checkins, GET /api/v1/okrs, "
            "GET /api/v1/digest, GET /api/v1/asks, POST /api/v1/asks/{ask_id}/decision), POST /hooks/{secret}, "
            "GET /healthz and GET /metrics.",
        ),
    ] = False,
    port: Annotated[
        int | None, typer.Option("--port", help="HTTP port (default: KRBOT_HTTP_PORT or 3000).")
    ] = None,
    web_only: Annotated[
        bool, typer.Option("--web-only", help="No chat platform: only the web pages, /api/v1 and hooks (implies --http).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Serve every configured platform and the scheduler (the console when no platform is configured)."""
    from bot.app import public_url
    from bot.app import run as run_app
    from bot.i18n import error_message, translate

    app = open_app(db)
    if http or web_only:
        lang = language_of(app, None)
        shown = translate("web.on", lang=lang, url=public_url(app=app, port=port)) if app.settings.secret_key else (
            translate("web.off_no_key", lang=lang))
        typer.echo(shown, err=True)
    try:
        run_app(app=app, http=http or web_only, port=port, web_only=web_only)
    except KrbotError as error:  # a platform refused to start (no encrypt key, no app token …)
        fail(error_message(error, lang=language_of(app, None)))


@cli.command("secret-key")
def secret_key() -> None:
    """Print a new KRBOT_SECRET_KEY (it signs web sign-in links, sessions and share links, and encrypts stored Slack
    tokens)."""
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


@cli.command("init")
def init(
    file: Annotated[
        Path | None, typer.Argument(help="Where to write the starter OKR file (default: standard output).")
    ] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the starter file.")] = Lang.zh,
) -> None:
    """Write a starter OKR file: the example team, moved to the current quarter (the README's first session)."""
    from bot.i18n import translate
    from bot.okrfile.starter import starter_okrs

    text = starter_okrs(lang=lang.value, today=now().date())
    if file is None:
        typer.echo(text, nl=False)
        return
    try:
        with file.open("x", encoding="utf-8") as handle:  # never over a file that is there
            handle.write(text)
    except FileExistsError:
        fail(translate("cli.init_exists", lang=lang.value, path=str(file)))
    except OSError as error:
        fail(translate("cli.init_unwritable", lang=lang.value, path=str(file), detail=error.__class__.__name__))
    typer.echo(translate("cli.init_written", lang=lang.value, path=str(file)))


class JobName(StrEnum):
    """The scheduled jobs."""

    sync = "sync"
    reminders = "reminders"
    chasers = "chasers"
    digest = "digest"
    webhooks = "webhooks"


@jobs_cli.command("list")
def jobs_list(db: DbOption = None) -> None:
    """Each job with its next time, per workspace."""
    from bot import services
    from bot.core.redact import blank_url, blank_urls
    from bot.i18n import translate
    from bot.scheduler import next_times

    app = open_app(db)
    listing = next_times(uow=app.uow, now=now())
    if not listing:
        typer.echo(translate("scheduler.jobs.none", lang=language_of(app, None)))
    for item in listing:
        lang, zone = item["lang"], item["timezone"]
        typer.echo(translate("scheduler.jobs.workspace", lang=lang, workspace=item["workspace"], zone=zone))
        for job, (when, params) in item["jobs"].items():
            shown = when.astimezone(services.local_zone(name=zone)).strftime("%Y-%m-%d %a %H:%M")
            about = translate(f"scheduler.job.{job}", lang=lang, **params)
            typer.echo("  " + translate("scheduler.jobs.line", lang=lang, job=job, next=shown, about=about))
        backlog = services.webhook_backlog(uow=app.uow, workspace=item["workspace"])
        if backlog:
            typer.echo(translate("webhook.jobs.title", lang=lang, count=len(backlog)))
        for line in backlog:  # a receiver's address may carry a key or a token: shown blanked, as in logs and DMs
            shown_line = {**line, "url": blank_url(url=line["url"]), "error": blank_urls(text=line["error"])}
            typer.echo(translate("webhook.jobs.line", lang=lang, **shown_line))


@jobs_cli.command("run")
def jobs_run(
    name: Annotated[JobName, typer.Argument(help="sync, reminders, chasers, digest or webhooks.")],
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
    from bot.webhooks import finish_drains

    app = open_app(db)
    moment = moment_of(app, as_of, None, as_of=True)
    lang = language_of(app, None)
    platforms = configured_platforms(app=app, http=None)
    try:
        outcome = Runner(uow=app.uow, platforms=platforms).run(job=name.value, now=moment, force=True)
    finally:
        finish_drains(uow=app.uow)  # the webhooks its commits queued go out now, or stay queued for the webhooks job
        for platform in platforms:
            platform.stop()
    counts = outcome.counts
    if name is JobName.sync:  # pulled again now, whenever it last ran: its own slot, this minute
        typer.echo(translate("scheduler.ran_sync", lang=lang, pulled=counts["pulled"], failed=counts["pull failed"],
                             already=counts["already"]))
        raise typer.Exit(1 if counts["error"] else 0)
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
