"""The `krbot` command itself: the typer apps, the options every command shares, and how a command fails."""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperOption

from bot.core.errors import KrbotError

if TYPE_CHECKING:
    from bot.app import App



def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """No type after a flag in `--help` (`--dry-run`, not `--dry-run <bool>`): a flag takes no value."""
    return None if self.is_flag or self.count else _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # typer's rich help writes <bool> after flags; its plain help does not


cli = typer.Typer(
    name="krbot",
    help="krbot: OKR check-ins and a conclusion-first boss digest, on Slack, Feishu and the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)


jobs_cli = typer.Typer(help="The scheduled jobs: sync, reminders, chasers, digest and webhooks.", no_args_is_help=True)


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


cli.add_typer(db_cli, name="db")


cli.add_typer(jobs_cli, name="jobs")


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


def fail(message: str, *, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


_PROCESS = {"krbot": False}  # True in a `krbot` process (main), not when a test invokes the commands in its own


def open_app(db: str | None) -> App:
    """The wired application for a command, or a clear failure naming the database that did not open."""
    from bot.app import build_app
    from bot.i18n import translate

    try:
        app = build_app(database_url=db)
    except Exception as error:  # noqa: BLE001 - the operator needs the cause, not a traceback
        fail(
            translate("cli.db_failed", lang="en", url=db or "KRBOT_DATABASE_URL", detail=str(error)), code=1
        )
    if _PROCESS["krbot"]:
        # What start-up built (modules, settings, the engine) lives until the process ends: the cyclic collector need
        # not walk it again each time a command builds many objects (a digest's tens of thousands of check-ins).
        gc.freeze()
    return app


def read_input(path: Path, lang: str = "en") -> str:
    """The file's text; `-` reads standard input (`docker compose exec -T krbot krbot import - < okrs.yaml`)."""
    from bot.i18n import translate

    try:
        if str(path) == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(translate("okrfile.unreadable", lang=lang, path=str(path), detail=error.__class__.__name__))


def now() -> datetime:
    return datetime.now(UTC)


def moment_of(app: App, text: str | None, workspace: str | None, *, as_of: bool = False) -> datetime:
    from bot import services
    from bot.i18n import error_message

    if text is None:
        return now()
    zone = services.workspace_timezone(uow=app.uow, workspace=workspace)
    try:
        if as_of:  # a date alone is the end of that day (CONTRACT §7)
            return services.parse_as_of(text=text, timezone=zone)
        return services.parse_moment(text=text, timezone=zone)
    except KrbotError as error:
        fail(error_message(error, lang=services.workspace_language(uow=app.uow, workspace=workspace)))


def language_of(app: App, workspace: str | None) -> str:
    from bot import services

    return services.workspace_language(uow=app.uow, workspace=workspace)


def main() -> None:
    """Run the CLI with CONTRACT §4's exit codes: 0 done, 2 bad input, 1 anything else."""
    _PROCESS["krbot"] = True
    from bot.i18n import error_message

    try:
        cli()
    except KrbotError as error:  # a refusal that escaped an edge: still the user's to read
        typer.echo(error_message(error, lang="en"), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
