"""Messages: the digest with its Approve/Decline buttons, a decided ask, a reminder DM."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.core.digest import Digest
from bot.i18n import translate
from bot.locale_words import value_for
from bot.platforms.base import Reminder
from bot.platforms.slack_blocks.parts import (
    APPROVE,
    DECLINE,
    MAX_BLOCKS,
    OPEN_FORM,
    OPEN_REPORT,
    button,
    chunks,
    context,
    esc,
    header,
    mrkdwn,
    pack,
    section,
    sections,
)
from bot.render import line_renderer, surface_helpers


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


def digest_messages(
    *, digest: Digest, lang: str | None = None, report_button: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The digest as the channel message (the conclusions) and its thread replies (data, next steps, asks, the rest);
    `report_button` (the web pages are on): "Open the report", which answers each reader with their own link."""
    language = lang or digest.language
    helpers = surface_helpers(lang=language, tz=digest.timezone, escape=esc, locale=digest.locale)
    digest = names_escaped(digest=digest)
    line = line_renderer(digest=digest, lang=language, escape=esc)

    def t(key: str, **params: Any) -> str:
        return translate(key, lang=language, **params)

    title_key = "digest.final_title" if digest.final else "digest.title"
    title = t(title_key, workspace=digest.workspace, cycle=digest.cycle, date=helpers["day"](digest.as_of))
    head: list[dict[str, Any]] = [header(title)]
    for o in digest.objectives:
        head.extend(sections(text="■ " + line("conclusion", o)))
    for x in digest.unavailable:
        head.extend(sections(text="■ " + line("unavailable", x)))
    head.append(context(t("slack.digest.thread_hint", asks=digest.open_asks)))
    if report_button:
        head.append({"type": "actions", "block_id": OPEN_REPORT, "elements": [
            button(text=t("web.chat_open_report"), action_id=OPEN_REPORT, value="report", style="primary")]})

    thread: list[dict[str, Any]] = []
    for o in digest.objectives:
        thread.append(header(f"{o.code} {o.title}"))
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
        if not o.krs and o.headline_line is not None:  # only a headline: it is the key data
            data.append("• " + line("measure", o.headline_line))
        elif not o.krs:
            data.append(t("digest.none"))
        thread.extend(sections(text="\n".join(data)))
        steps = [f"*{t('digest.section.next')}*"]
        steps += ["• " + line("step", s) for s in o.next_steps]
        if not o.next_steps:
            steps.append(t("digest.none"))
        thread.extend(sections(text="\n".join(steps)))
        thread.append(section(f"*{t('digest.section.asks')}*" + ("" if o.asks else "\n" + t("digest.none"))))
        for a in o.asks:
            thread.extend(sections(text="• " + line("ask", a)))
            if a.id is not None:
                thread.append(ask_buttons(ask_id=a.id, lang=language))
    extras: list[str] = []
    if digest.calibration:
        extras.append(f"*{t('confidence.section')}*")
        extras.extend("• " + line("calibration", c) for c in digest.calibration)
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
            button(text=translate("slack.ask.approve", lang=lang), action_id=APPROVE, value=value, style="primary"),
            button(text=translate("slack.ask.decline", lang=lang), action_id=DECLINE, value=value, style="danger"),
        ],
    }


def decided(*, blocks: Sequence[Mapping[str, Any]], ask_id: int, text: str) -> list[dict[str, Any]]:
    """A posted message's blocks with one ask's buttons replaced by its decision (escaped mrkdwn `text`)."""
    wanted = ask_block_id(ask_id=ask_id)
    return [
        {"type": "context", "block_id": wanted, "elements": [mrkdwn(text)]} if block.get("block_id") == wanted else dict(block)
        for block in blocks
    ]


def current_text(measure: Mapping[str, Any], lang: str) -> str:
    """A measure's current value as shown (a milestone: done or not)."""
    if measure["kind"] == "milestone":
        return translate("slack.milestone." + ("done" if measure.get("reached") else "open"), lang=lang)
    return value_for(number=measure.get("value"), unit=measure.get("unit"), lang=lang, locale=measure.get("locale"),
                     digits=None)


def target_text(measure: Mapping[str, Any], lang: str) -> str:
    """A measure's target as shown ('' for milestones and guardrails)."""
    target = measure.get("target")
    if measure["kind"] == "milestone" or target is None:
        return ""
    return value_for(number=target, unit=measure.get("unit"), lang=lang, locale=measure.get("locale"), digits=None)


def measure_line(measure: Mapping[str, Any], lang: str) -> str:
    """One measure with its current value and target."""
    return translate(
        "slack.measure", lang=lang, name=esc(measure["name"]), current=current_text(measure, lang), target=target_text(measure, lang),
        kind=measure["kind"],
    )


def reminder_message(*, reminder: Reminder) -> dict[str, Any]:
    """A reminder (or chaser) DM: the person's KRs with value and target, and an Update button for each."""
    lang = reminder.lang
    key = "slack.reminder.chaser" if reminder.chaser else (
        "slack.reminder.words" if reminder.words_only else "slack.reminder.title")
    blocks: list[dict[str, Any]] = [section(translate(key, lang=lang, name=esc(reminder.person.name)))]
    if not reminder.rows:
        blocks.append(section(translate("slack.form.none", lang=lang)))
    for row in reminder.rows[: (MAX_BLOCKS - 1) // 2]:
        text = f"*{esc(row['code'])}* {esc(row['title'])}\n" + "\n".join(measure_line(m, lang) for m in row["measures"])
        blocks.append(section(chunks(text)[0]))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"remind_{row['code']}",
                "elements": [
                    button(text=translate("slack.reminder.button", lang=lang, code=row["code"]), action_id=OPEN_FORM,
                            value=str(row["code"]), style="primary")
                ],
            }
        )
    return pack(blocks=blocks)[0]
