"""Chat from the terminal: one check-in, any /kr command, a KR's backward plan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.app import AtOption, DbOption, WorkspaceOption, cli, fail, language_of, moment_of, now, open_app
from bot.core.errors import KrbotError

if TYPE_CHECKING:
    pass



@cli.command("checkin", context_settings={"ignore_unknown_options": True})  # `KR4 -5`: a negative value
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

    app = open_app(db)
    moment = moment_of(app, at, workspace)
    lang = language_of(app, workspace)
    try:
        update = parse_update(text=" ".join(text))
        if update.code is None:
            raise KrbotError("checkin.no_code", known="KR…")
        reply = services.record_checkin(
            uow=app.uow, person=person, update=update, at=moment, workspace=workspace, now=now()
        )
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    typer.echo(render_reply(reply=reply))


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

    app = open_app(db)
    moment = moment_of(app, at, workspace)
    reply = services.run_command(
        uow=app.uow, person=person, text=text, at=moment, workspace=workspace, source="cli"
    )
    rendered = render_reply(reply=reply)
    if not reply.ok:
        fail(rendered)
    typer.echo(rendered)


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

    app = open_app(db)
    lang = language_of(app, workspace)
    try:
        reply = services.show_plan(uow=app.uow, code=code, at=now(), workspace=workspace)
    except KrbotError as error:
        fail(error_message(error, lang=lang))
    typer.echo(render_reply(reply=reply))
