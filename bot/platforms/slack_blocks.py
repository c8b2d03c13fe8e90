"""Slack Block Kit builders: replies, reminders, the check-in modal, App Home and the digest, within Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.core.digest import Digest
from bot.core.values import format_percent, format_value
from bot.i18n import translate
from bot.platforms.base import Reminder
from bot.render import day_text, inline, line_renderer, surface_helpers

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FALLBACK = 3000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_OPTION = 75
MAX_LABEL = 2000
MAX_VIEW_BLOCKS = 100
BAR_CELLS = 10
ASK_KINDS = ("money", "people", "permission", "other")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SPECIAL = re.compile("[&<>]")

# action and callback ids: the listeners table in slack.py routes on these
OPEN_FORM = "kr_open_form"
PICK_KR = "kr_pick"
APPROVE = "ask_approve"
DECLINE = "ask_decline"
CHECKIN_VIEW = "kr_checkin"
TEXT_FIELDS = ("note", "risk", "next")


def esc(text: object, /, limit: int = 280) -> str:
    """User text made inert in mrkdwn: one line, `&`, `<`, `>` as entities (no links or pings), mass mentions broken."""
    return _SPECIAL.sub(lambda m: _ENTITIES[m.group(0)], inline(text, limit))


def esc_lines(text: str, /) -> str:
    """A whole reply made inert in mrkdwn, its lines kept."""
    return "\n".join(esc(line, limit=MAX_SECTION) if line.strip() else "" for line in text.splitlines())


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object cut to Slack's limit."""
    text = text or "—"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": text}


def _section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    """A section block of mrkdwn text."""
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def _header(text: str) -> dict[str, Any]:
    """A header block (plain text, 150 characters at most)."""
    return {"type": "header", "text": _plain(text, MAX_HEADER)}


def _context(text: str) -> dict[str, Any]:
    """A context block of one mrkdwn line."""
    return {"type": "context", "elements": [_mrkdwn(text[:MAX_SECTION])]}


def _button(*, text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    """A button element."""
    button: dict[str, Any] = {"type": "button", "text": _plain(text, MAX_BUTTON), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def _chunks(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Text cut at line ends into pieces of at most `limit` characters (a longer line is cut where it must)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            candidate = line
        current = candidate
    if current.strip():
        pieces.append(current)
    return pieces


def sections(*, text: str) -> list[dict[str, Any]]:
    """Mrkdwn text as as many section blocks as Slack's 3,000-character limit needs, nothing cut."""
    return [_section(piece) for piece in _chunks(text)]


def fallback(*, blocks: Sequence[Mapping[str, Any]]) -> str:
    """The plain-text version of some blocks, for notifications and clients that show no blocks."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                texts.append(node["text"])
                return
            for key, value in node.items():
                if key not in ("accessory", "elements") or node.get("type") != "actions":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for block in blocks:
        if block.get("type") != "actions":
            walk(block)
    text = "\n".join(texts) or "—"
    return text if len(text) <= MAX_FALLBACK else text[: MAX_FALLBACK - 1] + "…"


def pack(*, blocks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks laid into as many messages (≤50 blocks each) as they need, each with its plain-text fallback."""
    parts = [list(blocks[i : i + MAX_BLOCKS]) for i in range(0, len(blocks), MAX_BLOCKS)] or [[]]
    return [{"text": fallback(blocks=part), "blocks": part} for part in parts]


def text_messages(*, text: str) -> list[dict[str, Any]]:
    """A reply or notice (already escaped mrkdwn) as message payload(s) within the limits."""
    return pack(blocks=sections(text=text))


# ---------------------------------------------------------------- the digest

def names_escaped(*, digest: Digest) -> Digest:
    """The digest with people's names (from the OKR file, so typed by users) made inert for mrkdwn."""
    sections_ = tuple(
        replace(
            o,
            owner=esc(o.owner),
            main_risk=replace(o.main_risk, owner=esc(o.main_risk.owner)) if o.main_risk else None,
            krs=tuple(replace(k, owner=esc(k.owner)) for k in o.krs),
            next_steps=tuple(replace(s, owner=esc(s.owner)) for s in o.next_steps),
            asks=tuple(replace(a, person=esc(a.person), deciders=tuple(esc(n) for n in a.deciders)) for a in o.asks),
        )
        for o in digest.objectives
    )
    return replace(
        digest,
        objectives=sections_,
        missing=tuple(esc(n) for n in digest.missing),
        away=tuple(esc(n) for n in digest.away),
        changes=tuple(replace(c, person=esc(c.person) if c.person else c.person) for c in digest.changes),
        overdue=tuple(replace(x, owner=esc(x.owner)) for x in digest.overdue),
        stale=tuple(replace(x, owner=esc(x.owner)) for x in digest.stale),
    )


def ask_block_id(*, ask_id: int) -> str:
    """The block id of an ask's buttons (and of its decision, once made)."""
    return f"ask_{ask_id}"


def digest_messages(*, digest: Digest, lang: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The digest as the channel message (the conclusions) and its thread replies (data, next steps, asks, the rest)."""
    language = lang or digest.language
    helpers = surface_helpers(lang=language, tz=digest.timezone, escape=esc)
    digest = names_escaped(digest=digest)
    line = line_renderer(digest=digest, lang=language, escape=esc)

    def t(key: str, **params: Any) -> str:
        return translate(key, lang=language, **params)

    title_key = "digest.final_title" if digest.final else "digest.title"
    title = t(title_key, workspace=digest.workspace, cycle=digest.cycle, date=helpers["day"](digest.as_of))
    head: list[dict[str, Any]] = [_header(title)]
    for o in digest.objectives:
        head.extend(sections(text="■ " + line("conclusion", o)))
    for x in digest.unavailable:
        head.extend(sections(text="■ " + line("unavailable", x)))
    head.append(_context(t("slack.digest.thread_hint", asks=digest.open_asks)))

    thread: list[dict[str, Any]] = []
    for o in digest.objectives:
        thread.append(_header(f"{o.code} {o.title}"))
        data: list[str] = [f"*{t('digest.section.data')}*"]
        path = None
        for k in o.krs:
            if k.path_code != path:
                path = k.path_code
                data.append("_" + t("digest.path", code=esc(k.path_code), title=esc(k.path_title)) + "_")
            data.append("• " + line("kr", k))
            data.extend("      " + line("measure", m) for m in k.measures)
            if k.cause:
                data.append("      " + line("cause", k))
            elif not k.last_at:
                data.append("      " + t("digest.no_checkin"))
        if not o.krs:
            data.append(t("digest.none"))
        thread.extend(sections(text="\n".join(data)))
        steps = [f"*{t('digest.section.next')}*"]
        steps += ["• " + line("step", s) for s in o.next_steps]
        if not o.next_steps:
            steps.append(t("digest.none"))
        thread.extend(sections(text="\n".join(steps)))
        thread.append(_section(f"*{t('digest.section.asks')}*" + ("" if o.asks else "\n" + t("digest.none"))))
        for a in o.asks:
            thread.extend(sections(text="• " + line("ask", a)))
            if a.id is not None:
                thread.append(ask_buttons(ask_id=a.id, lang=language))
    extras: list[str] = []
    if digest.missing:
        extras.append(t("digest.labelled", label=t("digest.section.missing"), items=", ".join(digest.missing)))
    if digest.away:
        extras.append(t("digest.labelled", label=t("digest.section.away"), items=", ".join(digest.away)))
    if digest.changes:
        extras.append(f"*{t('digest.section.changes')}*")
        extras.extend("• " + line("change", c) for c in digest.changes)
    if digest.overdue:
        extras.append(f"*{t('digest.section.overdue')}*")
        extras.extend(
            "• " + t("digest.overdue", code=x.code, title=esc(x.title), owner=x.owner, due=helpers["day"](x.due), days=x.days_late)
            for x in digest.overdue
        )
    if digest.stale:
        extras.append(f"*{t('digest.section.stale')}*")
        extras.extend(
            "• " + t("digest.stale", code=s.code, title=esc(s.title), owner=s.owner,
                     last=helpers["day"](s.last_at) if s.last_at else "", days=s.days)
            for s in digest.stale
        )
    if digest.failed:
        extras.append(f"*{t('digest.section.failed')}*")
        extras.extend(
            "• " + t("digest.failed", kind=t("delivery." + f.kind), target=esc(f.target), period=f.period,
                     attempts=f.attempts, error=esc(f.error or "", 120))
            for f in digest.failed
        )
    if extras:
        thread.append({"type": "divider"})
        thread.extend(sections(text="\n".join(extras)))
    heads = pack(blocks=head)
    main, overflow = heads[0], heads[1:]
    return main, overflow + pack(blocks=thread)


def ask_buttons(*, ask_id: int, lang: str) -> dict[str, Any]:
    """Approve / Decline for one open ask."""
    value = json.dumps({"id": ask_id})
    return {
        "type": "actions",
        "block_id": ask_block_id(ask_id=ask_id),
        "elements": [
            _button(text=translate("slack.ask.approve", lang=lang), action_id=APPROVE, value=value, style="primary"),
            _button(text=translate("slack.ask.decline", lang=lang), action_id=DECLINE, value=value, style="danger"),
        ],
    }


def decided(*, blocks: Sequence[Mapping[str, Any]], ask_id: int, text: str) -> list[dict[str, Any]]:
    """A posted message's blocks with one ask's buttons replaced by its decision (escaped mrkdwn `text`)."""
    wanted = ask_block_id(ask_id=ask_id)
    return [
        {"type": "context", "block_id": wanted, "elements": [_mrkdwn(text)]} if block.get("block_id") == wanted else dict(block)
        for block in blocks
    ]


# ---------------------------------------------------------------- reminders


def _current(measure: Mapping[str, Any], lang: str) -> str:
    """A measure's current value as shown (a milestone: done or not)."""
    if measure["kind"] == "milestone":
        return translate("slack.milestone." + ("done" if measure.get("reached") else "open"), lang=lang)
    value = measure.get("value")
    return "—" if value is None else format_value(number=value, unit=measure.get("unit"), lang=lang)


def _target(measure: Mapping[str, Any], lang: str) -> str:
    """A measure's target as shown ('' for milestones and guardrails)."""
    target = measure.get("target")
    if measure["kind"] == "milestone" or target is None:
        return ""
    return format_value(number=target, unit=measure.get("unit"), lang=lang)


def _measure_line(measure: Mapping[str, Any], lang: str) -> str:
    """One measure with its current value and target."""
    return translate(
        "slack.measure", lang=lang, name=esc(measure["name"]), current=_current(measure, lang), target=_target(measure, lang),
        kind=measure["kind"],
    )


def reminder_message(*, reminder: Reminder) -> dict[str, Any]:
    """A reminder (or chaser) DM: the person's KRs with value and target, and an Update button for each."""
    lang = reminder.lang
    key = "slack.reminder.chaser" if reminder.chaser else "slack.reminder.title"
    blocks: list[dict[str, Any]] = [_section(translate(key, lang=lang, name=esc(reminder.person.name)))]
    if not reminder.rows:
        blocks.append(_section(translate("slack.form.none", lang=lang)))
    for row in reminder.rows[: (MAX_BLOCKS - 1) // 2]:
        text = f"*{esc(row['code'])}* {esc(row['title'])}\n" + "\n".join(_measure_line(m, lang) for m in row["measures"])
        blocks.append(_section(_chunks(text)[0]))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"remind_{row['code']}",
                "elements": [
                    _button(text=translate("slack.reminder.button", lang=lang, code=row["code"]), action_id=OPEN_FORM,
                            value=str(row["code"]), style="primary")
                ],
            }
        )
    return pack(blocks=blocks)[0]


# ---------------------------------------------------------------- the check-in modal


def _option(text: str, value: str) -> dict[str, Any]:
    """A select option."""
    return {"text": _plain(text, MAX_OPTION), "value": value}


def _input(
    *, block_id: str, label: str, element: dict[str, Any], hint: str | None = None, optional: bool = True
) -> dict[str, Any]:
    """An input block."""
    block: dict[str, Any] = {
        "type": "input", "block_id": block_id, "label": _plain(label, MAX_LABEL), "element": element, "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, MAX_LABEL)
    return block


def _text_input(*, multiline: bool = False, placeholder: str | None = None, initial: str | None = None) -> dict[str, Any]:
    """A plain-text input element (action id `v`)."""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "v", "multiline": multiline, "max_length": 500}
    if placeholder:
        element["placeholder"] = _plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial[:500]
    return element


def measure_block_id(*, index: int) -> str:
    """The block id of a measure's input in the modal."""
    return f"m{index}"


def checkin_view(*, rows: Sequence[Mapping[str, Any]], code: str | None, lang: str) -> dict[str, Any]:
    """The check-in modal for one KR (list_krs rows; `code` picks one, else the first), with a KR picker when there are several."""
    title = _plain(translate("slack.form.title", lang=lang), 24)
    if not rows:
        return {"type": "modal", "callback_id": "kr_none", "title": title,
                "close": _plain(translate("slack.form.close", lang=lang), 24),
                "blocks": [_section(translate("slack.form.none", lang=lang))]}
    row = next((r for r in rows if str(r["code"]).upper() == (code or "").upper()), rows[0])
    blocks: list[dict[str, Any]] = []
    if len(rows) > 1:
        chosen = _option(f"{row['code']} {row['title']}", str(row["code"]))
        others = [_option(f"{r['code']} {r['title']}", str(r["code"])) for r in rows if r is not row]
        options = sorted([chosen, *others[:99]], key=lambda o: [r["code"] for r in rows].index(o["value"]))
        blocks.append(
            {"type": "actions", "block_id": "pick",
             "elements": [{"type": "static_select", "action_id": PICK_KR, "options": options, "initial_option": chosen}]}
        )
    blocks.append(_section(f"*{esc(row['code'])}* {esc(row['title'])}"))
    names = []
    for index, measure in enumerate(row["measures"]):
        names.append(measure["name"])
        unit = measure.get("unit") or ""
        milestone = measure["kind"] == "milestone"
        target = _target(measure, lang)
        blocks.append(
            _input(
                block_id=measure_block_id(index=index),
                label=translate("slack.form.measure", lang=lang, name=measure["name"], unit=unit),
                element=_text_input(
                    placeholder=translate("slack.form.milestone_placeholder" if milestone else "slack.form.placeholder",
                                          lang=lang, example=target or _current(measure, lang))
                ),
                hint=translate("slack.form.hint", lang=lang, current=_current(measure, lang), target=target, kind=measure["kind"]),
            )
        )
    confidence = [_option(str(n), str(n)) for n in range(1, 11)]
    blocks.append(
        _input(block_id="confidence", label=translate("slack.form.confidence", lang=lang),
               element={"type": "static_select", "action_id": "v", "options": confidence,
                        "placeholder": _plain(translate("slack.form.confidence_placeholder", lang=lang), 150)})
    )
    for name in TEXT_FIELDS:
        blocks.append(_input(block_id=name, label=translate(f"slack.form.{name}", lang=lang), element=_text_input(multiline=True)))
    kinds = [_option(translate(f"ask_kind.{kind}", lang=lang), kind) for kind in ASK_KINDS]
    blocks.append(
        _input(block_id="ask_text", label=translate("slack.form.ask", lang=lang),
               element=_text_input(placeholder=translate("slack.form.ask_placeholder", lang=lang)))
    )
    blocks.append(
        _input(block_id="ask_kind", label=translate("slack.form.ask_kind", lang=lang),
               element={"type": "static_select", "action_id": "v", "options": kinds,
                        "placeholder": _plain(translate("slack.form.ask_kind_placeholder", lang=lang), 150)})
    )
    blocks.append(
        _input(block_id="ask_amount", label=translate("slack.form.ask_amount", lang=lang),
               element=_text_input(placeholder=translate("slack.form.ask_amount_placeholder", lang=lang)))
    )
    metadata = json.dumps({"code": str(row["code"]), "names": names}, ensure_ascii=False)
    return {
        "type": "modal",
        "callback_id": CHECKIN_VIEW,
        "title": title,
        "submit": _plain(translate("slack.form.submit", lang=lang), 24),
        "close": _plain(translate("slack.form.close", lang=lang), 24),
        "private_metadata": metadata,  # a code and measure names: far below Slack's 3,000 characters
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def form_values(*, view: Mapping[str, Any]) -> dict[str, Any]:
    """What a submitted check-in modal holds: code, {measure name: text}, the words, confidence and the ask."""
    meta = json.loads(view.get("private_metadata") or "{}")
    state = view.get("state", {}).get("values", {})

    def read(block_id: str) -> str:
        element = state.get(block_id, {}).get("v", {})
        if element.get("type") == "static_select":
            return (element.get("selected_option") or {}).get("value") or ""
        return element.get("value") or ""

    names = meta.get("names", [])
    return {
        "code": meta.get("code", ""),
        "values": {name: read(measure_block_id(index=i)) for i, name in enumerate(names)},
        "note": read("note"),
        "risk": read("risk"),
        "next": read("next"),
        "confidence": read("confidence"),
        "ask_text": read("ask_text"),
        "ask_kind": read("ask_kind"),
        "ask_amount": read("ask_amount"),
        "blocks": {name: measure_block_id(index=i) for i, name in enumerate(names)},
    }


def result_view(*, text: str, lang: str) -> dict[str, Any]:
    """The modal after a save (or a refusal that no field can show): the answer, escaped, and a Close button."""
    return {
        "type": "modal",
        "callback_id": "kr_done",
        "title": _plain(translate("slack.form.title", lang=lang), 24),
        "close": _plain(translate("slack.form.close", lang=lang), 24),
        "blocks": sections(text=text)[: MAX_VIEW_BLOCKS],
    }


# ---------------------------------------------------------------- App Home


def bar(*, ratio: float | None) -> str:
    """A progress bar of ten cells (full at 100% and above, empty below 0)."""
    if ratio is None:
        return "░" * BAR_CELLS
    filled = max(0, min(BAR_CELLS, round(ratio * BAR_CELLS)))
    return "█" * filled + "░" * (BAR_CELLS - filled)


def home_view(
    *,
    rows: Sequence[Mapping[str, Any]],
    lang: str,
    name: str,
    last: Mapping[str, datetime | None],
    tz: str,
    digest: Digest | None = None,
) -> dict[str, Any]:
    """The App Home tab: the person's KRs with a bar, status and last update; the objectives' conclusions for the boss."""
    blocks: list[dict[str, Any]] = [_header(translate("slack.home.title", lang=lang, name=name))]
    if rows:
        blocks.append(
            {"type": "actions", "block_id": "home_form",
             "elements": [_button(text=translate("slack.home.checkin", lang=lang), action_id=OPEN_FORM, value="", style="primary")]}
        )
    else:
        blocks.append(_section(translate("slack.form.none", lang=lang)))
    budget = MAX_VIEW_BLOCKS - 2 - (2 + len(digest.objectives) if digest else 0)
    for row in rows[: max(0, budget)]:
        moment = last.get(str(row["code"]))
        text = translate(
            "slack.home.kr", lang=lang, code=esc(row["code"]), title=esc(row["title"]), bar=bar(ratio=row.get("completion")),
            completion=format_percent(ratio=row["completion"]) if row.get("completion") is not None else "—",
            status=translate(f"status.{row['status']}", lang=lang),
            last=day_text(moment, lang, tz) if moment else "",
        )
        text += "\n" + "\n".join(_measure_line(m, lang) for m in row["measures"])
        blocks.append(_section(_chunks(text)[0]))
    if digest is not None:
        digest = names_escaped(digest=digest)
        line = line_renderer(digest=digest, lang=lang, escape=esc)
        blocks.append({"type": "divider"})
        blocks.append(_header(translate("slack.home.objectives", lang=lang)))
        for o in digest.objectives:
            text = line("conclusion", o)
            blocks.append(_section(_chunks(f"{bar(ratio=o.completion)} " + text)[0]))
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
