"""Feishu card JSON 2.0 builders: the parts, cards packed within Feishu's limits, text cards, the digest with its ask
buttons (the check-in form is feishu_form)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.core.digest import Digest
from bot.i18n import translate
from bot.render import inline, line_renderer, surface_helpers

MAX_BYTES = 30 * 1024
MAX_COMPONENTS = 200
BUDGET_BYTES = 27 * 1024  # room for the header and the part number added after packing
BUDGET_COMPONENTS = 190
_MD_SPECIAL = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "`": "&#96;",
    "[": "&#91;",
    "]": "&#93;",
    "(": "&#40;",
    ")": "&#41;",
    "#": "&#35;",
    "|": "&#124;",
    "\\": "&#92;",
}
_MD_PATTERN = re.compile("|".join(re.escape(c) for c in _MD_SPECIAL))
_MARKUP = re.compile(r"<(?=[/a-zA-Z!])")


def md(text: object, /, limit: int = 280) -> str:
    """User text made inert inside card markdown: one line, markup and mentions escaped."""
    return _MD_PATTERN.sub(lambda m: _MD_SPECIAL[m.group(0)], inline(text, limit))


def plain(text: str, /) -> str:
    """Text for a Feishu text message with tags such as <at user_id="all"> made inert."""
    return _MARKUP.sub("<\u200b", inline_mentions(text))


def inline_mentions(text: str, /) -> str:
    """Mass mentions typed as words (@all, @所有人) broken with a zero-width space, lines kept."""
    return re.sub(r"@(all|here|channel|everyone|所有人)", "@\u200b\\1", text, flags=re.IGNORECASE)


def content_of(card: dict[str, Any]) -> str:
    """The `content` string sent to the Open API for a card."""
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"))


def card_bytes(card: dict[str, Any]) -> int:
    """The size of a card as sent, in bytes."""
    return len(content_of(card).encode("utf-8"))


def component_count(node: Any) -> int:
    """Every component (any object with a `tag`) in a card or element, nested ones included."""
    if isinstance(node, dict):
        own = 1 if "tag" in node else 0
        return own + sum(component_count(value) for value in node.values())
    if isinstance(node, list):
        return sum(component_count(item) for item in node)
    return 0


def text_object(content: str) -> dict[str, Any]:
    """A plain_text object."""
    return {"tag": "plain_text", "content": content}


def markdown_element(content: str, *, element_id: str | None = None) -> dict[str, Any]:
    """A markdown component (its content already escaped)."""
    element: dict[str, Any] = {"tag": "markdown", "content": content}
    if element_id:
        element["element_id"] = element_id
    return element


def _panel(title: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    """A folded collapsible panel."""
    return {
        "tag": "collapsible_panel",
        "expanded": False,
        "header": {
            "title": {"tag": "markdown", "content": f"**{title}**"},
            "icon": {"tag": "standard_icon", "token": "down-small-ccm_outlined", "size": "16px 16px"},
            "icon_position": "right",
            "icon_expanded_angle": -180,
        },
        "border": {"color": "grey", "corner_radius": "5px"},
        "vertical_spacing": "8px",
        "elements": elements,
    }


def card_json(title: str, elements: list[dict[str, Any]], *, template: str = "blue") -> dict[str, Any]:
    """A card JSON 2.0 with a header."""
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "summary": {"content": title}},
        "header": {"title": text_object(title), "template": template},
        "body": {"elements": elements},
    }


def _size(element: dict[str, Any]) -> tuple[int, int]:
    """(components, bytes) an element adds to a card."""
    return component_count(element), len(json.dumps(element, ensure_ascii=False, separators=(",", ":")).encode()) + 1


def _split_panel(panel: dict[str, Any], *, lang: str) -> list[dict[str, Any]]:
    """A panel too big for one card cut into several panels, none of its lines lost."""
    title = panel["header"]["title"]["content"].strip("*")
    chunks: list[list[dict[str, Any]]] = [[]]
    count, size = _size(_panel(title, []))
    used = [count, size]
    for element in panel["elements"]:
        c, s = _size(element)
        if chunks[-1] and (used[0] + c > BUDGET_COMPONENTS or used[1] + s > BUDGET_BYTES):
            chunks.append([])
            used = [count, size]
        chunks[-1].append(element)
        used[0] += c
        used[1] += s
    if len(chunks) == 1:
        return [panel]
    return [
        _panel(title if n == 0 else translate("feishu.digest.more", lang=lang, title=title, n=n + 1), chunk)
        for n, chunk in enumerate(chunks)
    ]


def pack(*, title: str, elements: Sequence[dict[str, Any]], lang: str, template: str = "blue") -> list[dict[str, Any]]:
    """Elements laid into as many cards as the limits need (30 KB, 200 components each), in order, nothing cut."""
    blocks: list[dict[str, Any]] = []
    for element in elements:
        if element.get("tag") == "collapsible_panel":
            c, s = _size(element)
            if c > BUDGET_COMPONENTS or s > BUDGET_BYTES:
                blocks.extend(_split_panel(element, lang=lang))
                continue
        blocks.append(element)
    base_count, base_size = _size(card_json(title, []))
    parts: list[list[dict[str, Any]]] = [[]]
    used = [base_count, base_size]
    for block in blocks:
        c, s = _size(block)
        if parts[-1] and (used[0] + c > BUDGET_COMPONENTS or used[1] + s > BUDGET_BYTES):
            parts.append([])
            used = [base_count, base_size]
        parts[-1].append(block)
        used[0] += c
        used[1] += s
    if len(parts) == 1:
        return [card_json(title, parts[0], template=template)]
    total = len(parts)
    return [
        card_json(translate("feishu.digest.part", lang=lang, title=title, n=n + 1, total=total), part, template=template)
        for n, part in enumerate(parts)
    ]


def text_card(*, title: str, text: str, lang: str, template: str = "blue") -> list[dict[str, Any]]:
    """A reply or notice as card(s): each line escaped, as many cards as it needs."""
    lines = [markdown_element(md(line, limit=2000)) for line in text.splitlines() if line.strip()]
    return pack(title=title, elements=lines, lang=lang, template=template)


# ---------------------------------------------------------------- the digest

def digest_cards(
    *, digest: Digest, decisions: Mapping[int, tuple[str, str]] | None = None, lang: str | None = None,
    report_button: bool = False,
) -> list[dict[str, Any]]:
    """The digest as interactive card(s): conclusions on top, data, next steps and asks folded; ask buttons;
    `report_button` (the web pages are on): 打开完整报告, which sends each reader their own link privately."""
    language = lang or digest.language
    helpers = surface_helpers(lang=language, tz=digest.timezone, escape=md, locale=digest.locale)
    decisions = decisions or {}

    line = line_renderer(digest=digest, lang=language, escape=md)

    def t(key: str, **params: Any) -> str:
        return translate(key, lang=language, **params)

    title_key = "digest.final_title" if digest.final else "digest.title"
    title = t(title_key, workspace=md(digest.workspace), cycle=md(digest.cycle), date=helpers["day"](digest.as_of))
    elements: list[dict[str, Any]] = [
        markdown_element("**" + t("feishu.digest.conclusions") + "**"),
        *(markdown_element("■ " + line("conclusion", o)) for o in digest.objectives),
        *(markdown_element("■ " + line("unavailable", x)) for x in digest.unavailable),
    ]
    if report_button:
        elements.append({"tag": "button", "text": text_object(t("web.chat_open_report")), "type": "primary",
                         "behaviors": [{"type": "callback", "value": {"a": "web"}}]})
    if digest.missing:
        elements.append(markdown_element(t("digest.labelled", label=t("digest.section.missing"), items=", ".join(md(n) for n in digest.missing))))
    if digest.away:
        elements.append(markdown_element(t("digest.labelled", label=t("digest.section.away"), items=", ".join(md(n) for n in digest.away))))
    as_of = digest.as_of.isoformat()
    for o in digest.objectives:
        data = []
        path = None
        for k in o.krs:
            if k.path_code != path:
                path = k.path_code
                data.append(markdown_element("**" + t("digest.path", code=md(k.path_code), title=md(k.path_title)) + "**"))
            text = "· " + line("kr", k)
            for m in k.measures:
                text += "\n    " + line("measure", m)
            if k.cause:
                text += "\n    " + line("cause", k)
            elif not k.last_at:
                text += "\n    " + t("digest.no_checkin")
            data.append(markdown_element(text))
        if not o.krs and o.headline_line is not None:  # only a headline: it is the key data
            data.append(markdown_element("· " + line("measure", o.headline_line)))
        elements.append(_panel(t("feishu.digest.panel", code=o.code, section=t("digest.section.data")), data or [markdown_element(t("digest.none"))]))
        steps = [markdown_element("· " + line("step", replace(s, owner=md(s.owner)))) for s in o.next_steps]
        elements.append(_panel(t("feishu.digest.panel", code=o.code, section=t("digest.section.next")), steps or [markdown_element(t("digest.none"))]))
        asks: list[dict[str, Any]] = []
        for a in o.asks:
            asks.append(markdown_element("· " + line("ask", a), element_id=f"ask{a.id}"))
            if a.id in decisions:
                status, by = decisions[a.id]
                asks.append(markdown_element(t("feishu.ask.decision", status=status, by=md(by))))
            elif a.id is not None:
                asks.append(_ask_buttons(ask_id=a.id, as_of=as_of, lang=language))
        elements.append(_panel(t("feishu.digest.panel", code=o.code, section=t("digest.section.asks")), asks or [markdown_element(t("digest.none"))]))
    if digest.calibration:
        calibrated = [markdown_element("· " + line("calibration", c)) for c in digest.calibration]
        elements.append(_panel(t("confidence.section"), calibrated))
    if digest.changes:
        elements.append(_panel(t("digest.section.changes"), [markdown_element("· " + line("change", c)) for c in digest.changes]))
    if digest.overdue:
        elements.append(
            _panel(
                t("digest.section.overdue"),
                [
                    markdown_element("· " + t("digest.overdue", code=x.code, title=md(x.title), owner=md(x.owner), due=helpers["day"](x.due), days=x.days_late))
                    for x in digest.overdue
                ],
            )
        )
    if digest.stale:
        elements.append(
            _panel(
                t("digest.section.stale"),
                [
                    markdown_element("· " + t("digest.stale", code=s.code, title=md(s.title), owner=md(s.owner), last=(helpers["day"](s.last_at) if s.last_at else ""), days=s.days))
                    for s in digest.stale
                ],
            )
        )
    return pack(title=title, elements=elements, lang=language, template="indigo")


def _ask_buttons(*, ask_id: int, as_of: str, lang: str) -> dict[str, Any]:
    """Approve and Decline buttons of one ask."""
    def button(approve: bool) -> dict[str, Any]:
        return {
            "tag": "button",
            "text": text_object(translate("feishu.ask.approve" if approve else "feishu.ask.decline", lang=lang)),
            "type": "primary" if approve else "danger",
            "behaviors": [{"type": "callback", "value": {"a": "ask", "id": ask_id, "ok": approve, "as_of": as_of}}],
        }

    return {
        "tag": "column_set",
        "flex_mode": "none",
        "columns": [
            {"tag": "column", "width": "auto", "elements": [button(True)]},
            {"tag": "column", "width": "auto", "elements": [button(False)]},
        ],
    }


def card_with_ask(*, cards: Sequence[dict[str, Any]], ask_id: int) -> dict[str, Any] | None:
    """The card among several that shows ask `ask_id`, if any."""
    marker = f'"element_id":"ask{ask_id}"'
    return next((card for card in cards if marker in content_of(card)), None)
