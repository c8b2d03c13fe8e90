"""Every surface a user's text reaches, rendered from one app: text, markdown, HTML, Slack, Feishu, App Home, modals, notices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bot import services
from bot.app import App
from bot.i18n import translate
from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms
from bot.platforms import slack_blocks as blocks
from bot.render import render_digest, render_reply, render_report


def said(app: App, *, person: str, text: str, at: datetime) -> Any:
    """A chat command as the service answers it (a refusal is an answer too)."""
    return services.run_command(uow=app.uow, person=person, text=text, at=at)


def chat_surfaces(reply: Any) -> Iterator[tuple[str, Any]]:
    """One reply as each platform sends it: a Slack message and modal, a Feishu text, card and toast, its notices."""
    text = render_reply(reply=reply)
    yield "console", text
    escaped = blocks.esc_lines(text)
    yield "slack.messages", blocks.text_messages(text=escaped)
    yield "slack.result_view", blocks.result_view(text=escaped, lang=reply.lang)
    yield "feishu.text", {"text": cards.plain(text)}
    yield "feishu.card", cards.text_card(title="krbot", text=text, lang=reply.lang)
    for notice in reply.notices:
        words = translate(notice.key, lang=reply.lang, **notice.params)
        yield "slack.notice", blocks.text_messages(text=blocks.esc_lines(words))
        yield "feishu.notice", {"text": cards.plain(words)}


def digest_surfaces(app: App, *, as_of: datetime, person: str) -> Iterator[tuple[str, Any]]:
    """The digest and the views built from stored text: text, markdown, HTML, Slack, Feishu, App Home, forms."""
    digest, charts = services.compose_report(uow=app.uow, as_of=as_of)
    for lang in ("zh", "en"):
        yield f"text.{lang}", render_digest(digest=digest, fmt="text", lang=lang)
        yield f"markdown.{lang}", render_digest(digest=digest, fmt="markdown", lang=lang)
        yield f"html.{lang}", render_report(digest=digest, charts=charts, lang=lang)
        main, thread = blocks.digest_messages(digest=digest, lang=lang)
        yield f"slack.digest.{lang}", [main, *thread]
        yield f"feishu.digest.{lang}", cards.digest_cards(digest=digest, lang=lang)
    listing = services.list_krs(uow=app.uow, person=person, at=as_of)
    rows = listing.params["rows"]
    yield "slack.home", blocks.home_view(rows=rows, lang=listing.lang, name=listing.params["name"], last={},
                                         tz=digest.timezone, digest=digest)
    yield "slack.form", blocks.checkin_view(rows=rows, code=None, lang=listing.lang)
    yield "feishu.form", forms.checkin_cards(rows=rows, lang=listing.lang)
    status = services.run_command(uow=app.uow, person=person, text="/kr status", at=as_of)
    yield from chat_surfaces(status)
