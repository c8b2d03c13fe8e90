"""The web pages from the terminal: a one-time sign-in link for a person, and read-only share links of a week."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.app import DbOption, WorkspaceOption, cli, fail, language_of, now, open_app
from bot.core.errors import KrbotError

share_cli = typer.Typer(help="Read-only share links of one week's report (valid 14 days).", no_args_is_help=True)
cli.add_typer(share_cli, name="share")


@cli.command("web-link")
def web_link(
    person: Annotated[str, typer.Option("--as", help="Person id from the OKR file the link signs in.")],
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Print a one-time sign-in link for PERSON (valid 10 minutes, used once)."""
    from bot.app import public_url
    from bot.i18n import error_message, translate
    from bot.services import person_of
    from bot.services.web_access import issue_link

    app = open_app(db)
    lang = language_of(app, workspace)
    try:
        url = issue_link(uow=app.uow, person=person, at=now(), secret_key=app.settings.secret_key,
                         public_url=public_url(app=app), workspace=workspace)
        found = person_of(uow=app.uow, key=person, at=now(), workspace=workspace)
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    typer.echo(translate("web.link_printed", lang=lang, name=found.name if found else person, url=url))


@share_cli.command("create")
def share_create(
    week: Annotated[str, typer.Option("--week", help="ISO week of the report, e.g. 2026-W44.")],
    made_for: Annotated[str | None, typer.Option("--for", help="Who it is for (shown on the page).")] = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Print a read-only link to one week's report, valid 14 days."""
    from bot.app import public_url
    from bot.i18n import error_message, translate
    from bot.render_lines import day_words
    from bot.services.web_access import SHARE_DAYS, create_share

    app = open_app(db)
    lang = language_of(app, workspace)
    at = now()
    made_for = made_for if made_for is not None else translate("web.share_for_default", lang=lang)
    try:
        share_id, url = create_share(uow=app.uow, week=week, made_for=made_for, at=at,
                                     secret_key=app.settings.secret_key, public_url=public_url(app=app),
                                     workspace=workspace)
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    from datetime import timedelta

    until = day_words(at + timedelta(days=SHARE_DAYS), lang)
    shown = " ".join(made_for.split())
    typer.echo(translate("web.share_printed", lang=lang, id=share_id, week=week.upper(), name=shown, until=until,
                         url=url))


@share_cli.command("revoke")
def share_revoke(
    share_id: Annotated[int, typer.Argument(help="The share link's id (krbot share list).")],
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Revoke a share link: it shows nothing from now on."""
    from bot.i18n import error_message, translate
    from bot.services.web_access import revoke_share

    app = open_app(db)
    lang = language_of(app, workspace)
    try:
        revoke_share(uow=app.uow, share_id=share_id, at=now(), workspace=workspace)
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    typer.echo(translate("web.share_revoked", lang=lang, id=share_id))


@share_cli.command("list")
def share_list(workspace: WorkspaceOption = None, db: DbOption = None) -> None:
    """Every share link: id, week, for whom, created, expires, revoked."""
    from bot.i18n import error_message, translate
    from bot.services.web_access import list_shares

    app = open_app(db)
    lang = language_of(app, workspace)
    try:
        rows = list_shares(uow=app.uow, workspace=workspace)
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    if not rows:
        typer.echo(translate("web.shares_none", lang=lang))
        return
    typer.echo(translate("web.share_header", lang=lang))
    for row in rows:
        when = [row[c].strftime("%Y-%m-%d %H:%M UTC") if row[c] else "—" for c in ("created_at", "expires_at",
                                                                                   "revoked_at")]
        typer.echo("  ".join([str(row["id"]), str(row["week"]), str(row["made_for"]), *when]))
