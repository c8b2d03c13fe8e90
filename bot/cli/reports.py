"""The boss digest from the terminal: printed on any surface, or posted to the boss channels."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.app import (
    DbOption,
    DigestFormat,
    Lang,
    WorkspaceOption,
    cli,
    fail,
    language_of,
    moment_of,
    open_app,
)
from bot.core.errors import KrbotError

if TYPE_CHECKING:
    from bot.app import App



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

    app = open_app(db)
    moment = moment_of(app, as_of, workspace, as_of=True)
    language = lang.value if lang else language_of(app, workspace)
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
        fail(error_message(error, lang=language))
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
    """Post the digest of this minute to the boss channel of every configured chat platform (not the console), through
    the delivery ledger as the schedule does: once per minute posted for (a run for the same --as-of posts nothing
    twice and finishes what a crash left), each thread reply retried on its own, digest.posted told to the webhooks."""
    from bot import services, webhooks
    from bot.app import configured_platforms
    from bot.i18n import translate
    from bot.scheduler import Runner

    platforms = [p for p in configured_platforms(app=app, http=None) if p.name in ("slack", "feishu")]
    if not platforms:
        fail(translate("cli.no_platform", lang=lang))
    workspace_id = services.workspace_id_of(uow=app.uow, workspace=workspace)
    view = next((view for view in services.schedule_views(uow=app.uow, at=as_of) if view.workspace_id == workspace_id),
                None)
    if view is None:  # a workspace without a cycle: nothing to report on
        fail(translate("workspace.none", lang=lang))
    for platform in platforms:
        if not view.boss_channel.get(platform.name):
            typer.echo(translate("cli.no_channel", lang=lang, platform=platform.name), err=True)
    runner = Runner(uow=app.uow, platforms=platforms)
    try:
        outcome = runner.digest(view=view, now=as_of, by_hand=True)
        # digest.posted told now, not at the next tick (on the clock the ledger marked the post sent by)
        webhooks.job(uow=app.uow, platforms=platforms, view=view, now=as_of)
    finally:
        for platform in platforms:
            platform.stop()
    for item in outcome.sent:
        typer.echo(translate("cli.posted", lang=lang, platform=item.platform.name, channel=item.target.split(":", 1)[1],
                             id=runner.message_of(item=item) or "—"))
    if outcome.counts["already"]:
        typer.echo(translate("cli.posted_already", lang=lang, count=outcome.counts["already"]))
    failed = outcome.counts["failed"] + outcome.counts["part failed"]
    if failed:
        fail(translate("cli.post_failed", lang=lang, count=failed), code=1)
