"""API tokens and per-measure hooks from the terminal: create (the secret printed once), list, revoke."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer

from bot.cli.app import DbOption, WorkspaceOption, cli, fail, language_of, now, open_app
from bot.core.errors import KrbotError

token_cli = typer.Typer(help="Bearer tokens for the HTTP API (/api/v1/).", no_args_is_help=True)
hook_cli = typer.Typer(help="Secret check-in URLs for one measure (POST /hooks/…).", no_args_is_help=True)
cli.add_typer(token_cli, name="token")
cli.add_typer(hook_cli, name="hook")

T = TypeVar("T")


def _call(*, db: str | None, workspace: str | None, action: Callable[[Any], T]) -> tuple[Any, str, T]:
    """Open the database, run one service call on it, and fail with its refusal in the workspace's language."""
    from bot.i18n import error_message

    app = open_app(db)
    lang = language_of(app, workspace)
    try:
        return app, lang, action(app)
    except KrbotError as error:
        fail(error_message(error, lang=lang))


def _when(moment: datetime | None) -> str:
    """A stored time as a short UTC text, or — when there is none."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _table(*, rows: list[dict[str, Any]], columns: tuple[str, ...], header: str, empty: str, lang: str) -> None:
    """Print rows under a header line, columns separated by two spaces; `empty` when there are none."""
    from bot.i18n import translate

    if not rows:
        typer.echo(translate(empty, lang=lang))
        return
    typer.echo(translate(header, lang=lang))
    for row in rows:
        shown = [_when(row[c]) if c.endswith("_at") else str(row[c] if row[c] is not None else "—") for c in columns]
        typer.echo("  ".join(shown))


@token_cli.command("create")
def token_create(
    person: Annotated[str, typer.Option("--as", help="Person id from the OKR file the token acts as.")],
    name: Annotated[str | None, typer.Option("--name", help="What the token is for, e.g. ERP export.")] = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Create a token acting as PERSON (with exactly their rights); it is printed once and stored only as a hash."""
    from bot import services
    from bot.i18n import translate

    _, lang, issued = _call(db=db, workspace=workspace, action=lambda app: services.create_token(
        uow=app.uow, person=person, at=now(), name=name, workspace=workspace))
    typer.echo(translate("cli.token_created", lang=lang, id=issued.id, person=person, name=name, secret=issued.secret))


@token_cli.command("list")
def token_list(workspace: WorkspaceOption = None, db: DbOption = None) -> None:
    """Every token: id, person, name, prefix, created, last used, revoked — never the token itself."""
    from bot import services

    _, lang, rows = _call(db=db, workspace=workspace, action=lambda app: services.list_tokens(uow=app.uow, workspace=workspace))
    columns = ("id", "person", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    _table(rows=rows, columns=columns, header="cli.token_header", empty="cli.tokens_none", lang=lang)


@token_cli.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (krbot token list).")],
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    from bot import services
    from bot.i18n import translate

    _, lang, _ = _call(db=db, workspace=workspace, action=lambda app: services.revoke_token(
        uow=app.uow, token_id=token_id, at=now(), workspace=workspace))
    typer.echo(translate("cli.token_revoked", lang=lang, id=token_id))


@hook_cli.command("create")
def hook_create(
    code: Annotated[str, typer.Argument(help="A KR (or objective) code, e.g. KR2.")],
    measure: Annotated[str, typer.Argument(help="One of its measures, e.g. GMV.")],
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Create a secret URL that stores a value for this measure as its owner's check-in; printed once."""
    from bot import services
    from bot.i18n import translate

    app, lang, (issued, stored_code, stored_measure) = _call(db=db, workspace=workspace, action=lambda app: (
        services.create_hook(uow=app.uow, code=code, measure=measure, at=now(), workspace=workspace)))
    base = (app.settings.public_url or f"http://localhost:{app.settings.http_port}").rstrip("/")
    url = f"{base}/hooks/{issued.secret}"
    typer.echo(translate("cli.hook_created", lang=lang, id=issued.id, code=stored_code, measure=stored_measure, url=url))


@hook_cli.command("list")
def hook_list(workspace: WorkspaceOption = None, db: DbOption = None) -> None:
    """Every hook: id, code, measure, prefix, created, last used, revoked — never its URL."""
    from bot import services

    _, lang, rows = _call(db=db, workspace=workspace, action=lambda app: services.list_hooks(uow=app.uow, workspace=workspace))
    columns = ("id", "code", "measure", "prefix", "created_at", "last_used_at", "revoked_at")
    _table(rows=rows, columns=columns, header="cli.hook_header", empty="cli.hooks_none", lang=lang)


@hook_cli.command("revoke")
def hook_revoke(
    hook_id: Annotated[int, typer.Argument(help="The hook's id (krbot hook list).")],
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Revoke a hook: its URL gets 404 from now on."""
    from bot import services
    from bot.i18n import translate

    _, lang, _ = _call(db=db, workspace=workspace, action=lambda app: services.revoke_hook(
        uow=app.uow, hook_id=hook_id, at=now(), workspace=workspace))
    typer.echo(translate("cli.hook_revoked", lang=lang, id=hook_id))
