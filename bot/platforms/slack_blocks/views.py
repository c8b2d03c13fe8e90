"""Views: the check-in modal and its values, the result view, and the App Home."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.core.digest import Digest
from bot.i18n import translate
from bot.locale_words import percent_for
from bot.platforms.slack_blocks.messages import current_text, measure_line, names_escaped, target_text
from bot.platforms.slack_blocks.parts import (
    ASK_KINDS,
    BAR_CELLS,
    CHECKIN_VIEW,
    MAX_LABEL,
    MAX_OPTION,
    MAX_VIEW_BLOCKS,
    OPEN_FORM,
    PICK_KR,
    TEXT_FIELDS,
    button,
    chunks,
    esc,
    header,
    plain,
    section,
    sections,
)
from bot.render import day_text, line_renderer


def _option(text: str, value: str) -> dict[str, Any]:
    """A select option."""
    return {"text": plain(text, MAX_OPTION), "value": value}


def _input(
    *, block_id: str, label: str, element: dict[str, Any], hint: str | None = None, optional: bool = True
) -> dict[str, Any]:
    """An input block."""
    block: dict[str, Any] = {
        "type": "input", "block_id": block_id, "label": plain(label, MAX_LABEL), "element": element, "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, MAX_LABEL)
    return block


def _text_input(*, multiline: bool = False, placeholder: str | None = None, initial: str | None = None) -> dict[str, Any]:
    """A plain-text input element (action id `v`)."""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "v", "multiline": multiline, "max_length": 500}
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial[:500]
    return element


def measure_block_id(*, index: int) -> str:
    """The block id of a measure's input in the modal."""
    return f"m{index}"


def checkin_view(*, rows: Sequence[Mapping[str, Any]], code: str | None, lang: str) -> dict[str, Any]:
    """The check-in modal for one KR (list_krs rows; `code` picks one, else the first), with a KR picker when there are several."""
    title = plain(translate("slack.form.title", lang=lang), 24)
    if not rows:
        return {"type": "modal", "callback_id": "kr_none", "title": title,
                "close": plain(translate("slack.form.close", lang=lang), 24),
                "blocks": [section(translate("slack.form.none", lang=lang))]}
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
    blocks.append(section(f"*{esc(row['code'])}* {esc(row['title'])}"))
    names = []
    for measure in row["measures"]:
        if measure.get("synced"):  # pulled by its data source: shown, never asked (§9)
            blocks.append(section(translate("form.synced", lang=lang, name=esc(measure["name"]),
                                            current=current_text(measure, lang))))
    for index, measure in enumerate(m for m in row["measures"] if not m.get("synced")):
        names.append(measure["name"])
        unit = measure.get("unit") or ""
        milestone = measure["kind"] == "milestone"
        target = target_text(measure, lang)
        blocks.append(
            _input(
                block_id=measure_block_id(index=index),
                label=translate("slack.form.measure", lang=lang, name=measure["name"], unit=unit),
                element=_text_input(
                    placeholder=translate("slack.form.milestone_placeholder" if milestone else "slack.form.placeholder",
                                          lang=lang, example=target or current_text(measure, lang))
                ),
                hint=translate("slack.form.hint", lang=lang, current=current_text(measure, lang), target=target, kind=measure["kind"]),
            )
        )
    confidence = [_option(str(n), str(n)) for n in range(0, 11)]
    picker: dict[str, Any] = {"type": "static_select", "action_id": "v", "options": confidence,
                              "placeholder": plain(translate("slack.form.confidence_placeholder", lang=lang), 150)}
    if row.get("confidence") is not None:  # kept until changed: the owner's last call is already chosen
        picker["initial_option"] = confidence[int(row["confidence"])]
    blocks.append(_input(block_id="confidence", label=translate("slack.form.confidence", lang=lang), element=picker))
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
                        "placeholder": plain(translate("slack.form.ask_kind_placeholder", lang=lang), 150)})
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
        "submit": plain(translate("slack.form.submit", lang=lang), 24),
        "close": plain(translate("slack.form.close", lang=lang), 24),
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
        "title": plain(translate("slack.form.title", lang=lang), 24),
        "close": plain(translate("slack.form.close", lang=lang), 24),
        "blocks": sections(text=text)[: MAX_VIEW_BLOCKS],
    }


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
    blocks: list[dict[str, Any]] = [header(translate("slack.home.title", lang=lang, name=name))]
    if rows:
        blocks.append(
            {"type": "actions", "block_id": "home_form",
             "elements": [button(text=translate("slack.home.checkin", lang=lang), action_id=OPEN_FORM, value="", style="primary")]}
        )
    else:
        blocks.append(section(translate("slack.form.none", lang=lang)))
    budget = MAX_VIEW_BLOCKS - 2 - (2 + len(digest.objectives) if digest else 0)
    for row in rows[: max(0, budget)]:
        moment = last.get(str(row["code"]))
        text = translate(
            "slack.home.kr", lang=lang, code=esc(row["code"]), title=esc(row["title"]), bar=bar(ratio=row.get("completion")),
            completion=percent_for(ratio=row.get("completion"), locale=next(
                (m.get("locale") for m in row["measures"]), None)),
            status=translate(f"status.{row['status']}", lang=lang),
            last=day_text(moment, lang, tz) if moment else "",
        )
        text += "\n" + "\n".join(measure_line(m, lang) for m in row["measures"])
        blocks.append(section(chunks(text)[0]))
    if digest is not None:
        digest = names_escaped(digest=digest)
        line = line_renderer(digest=digest, lang=lang, escape=esc)
        blocks.append({"type": "divider"})
        blocks.append(header(translate("slack.home.objectives", lang=lang)))
        for o in digest.objectives:
            text = line("conclusion", o)
            blocks.append(section(chunks(f"{bar(ratio=o.completion)} " + text)[0]))
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
