"""The Feishu check-in form: one card part per KR, an input per measure it asks for (a synced one is shown, never
asked), then note, risk, next step and ask; sent again with the values and errors of a refused submission."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.i18n import translate
from bot.locale_words import value_for
from bot.platforms.feishu_cards import card_json, content_of, markdown_element, md, pack, text_object


def _shown(number: float | None, unit: str | None, lang: str, locale: str | None = None) -> str:
    """A value with its unit in the reader's locale, or a dash."""
    return value_for(number=number, unit=unit, lang=lang, locale=locale, digits=None)


def _current(measure: Mapping[str, Any], lang: str) -> str:
    """A measure's value now: a milestone done or not, a number with its unit, or a dash."""
    if measure["kind"] == "milestone":
        return translate("digest.measure.milestone", lang=lang, name="", reached=measure.get("reached")).lstrip(":：")
    return _shown(measure.get("value"), measure.get("unit"), lang, measure.get("locale"))


def checkin_elements(
    *,
    row: Mapping[str, Any],
    lang: str,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    saved: str | None = None,
) -> list[dict[str, Any]]:
    """One KR's form (a list_krs row): an input per measure with unit, current value and target; note, risk, next, ask."""
    code = str(row["code"])
    head = markdown_element(translate("feishu.checkin.kr", lang=lang, code=md(code), title=md(row["title"])), element_id=form_id(code))
    if saved is not None:
        return [head, markdown_element(translate("feishu.checkin.saved", lang=lang, text=md(saved, limit=2000)))]
    values = values or {}
    errors = errors or {}
    fields: list[dict[str, Any]] = []
    names = []
    synced = [  # pulled by its data source: shown with its value, never asked (§9)
        markdown_element(translate("form.synced", lang=lang, name=md(m["name"]), current=_current(m, lang)))
        for m in row["measures"] if m.get("synced")
    ]
    for j, measure in enumerate(m for m in row["measures"] if not m.get("synced")):
        names.append(measure["name"])
        milestone = measure["kind"] == "milestone"
        current = _current(measure, lang)
        target = "" if milestone else _shown(measure.get("target"), measure.get("unit"), lang, measure.get("locale"))
        label = translate(
            "feishu.checkin.measure", lang=lang, name=measure["name"], unit=measure.get("unit") or "", current=current,
            target=target if measure.get("target") is not None else "", kind=measure["kind"],
        )
        placeholder = (
            translate("feishu.checkin.milestone_placeholder", lang=lang)
            if milestone
            else translate("feishu.checkin.placeholder", lang=lang, example=target if target != "—" else current)
        )
        field: dict[str, Any] = {
            "tag": "input",
            "name": f"m{j}",
            "label": text_object(label),
            "label_position": "top",
            "placeholder": text_object(placeholder),
            "max_length": 100,
        }
        if values.get(f"m{j}"):
            field["default_value"] = str(values[f"m{j}"])[:100]
        fields.append(field)
        if measure["name"] in errors:
            fields.append(markdown_element(translate("feishu.checkin.field_error", lang=lang, text=md(errors[measure["name"]]))))
    said = values.get("confidence") or ("" if row.get("confidence") is None else str(row["confidence"]))
    confidence: dict[str, Any] = {  # kept until changed: the owner's last call is filled in
        "tag": "input",
        "name": "confidence",
        "label": text_object(translate("confidence.field", lang=lang)),
        "label_position": "top",
        "placeholder": text_object(translate("confidence.placeholder", lang=lang)),
        "max_length": 20,
    }
    if said:
        confidence["default_value"] = str(said)[:20]
    fields.append(confidence)
    if "confidence" in errors:
        refusal = translate("feishu.checkin.field_error", lang=lang, text=md(errors["confidence"]))
        fields.append(markdown_element(refusal))
    for name in ("note", "risk", "next", "ask"):
        field = {
            "tag": "input",
            "name": name,
            "label": text_object(translate(f"feishu.checkin.{name}", lang=lang)),
            "label_position": "top",
            "placeholder": text_object(translate(f"feishu.checkin.{name}", lang=lang)),
            "max_length": 500,
        }
        if values.get(name):
            field["default_value"] = str(values[name])[:500]
        fields.append(field)
    submit = {
        "tag": "button",
        "text": text_object(translate("feishu.checkin.submit", lang=lang, code=code)),
        "type": "primary",
        "name": "submit",
        "form_action_type": "submit",
        "behaviors": [{"type": "callback", "value": {"a": "checkin", "code": code, "measures": names}}],
    }
    return [head, *synced, {"tag": "form", "name": "f" + form_id(code), "elements": [*fields, submit]}]


def checkin_cards(
    *,
    rows: Sequence[Mapping[str, Any]],
    lang: str,
    chaser: bool = False,
    values: Mapping[str, Mapping[str, Any]] | None = None,
    errors: Mapping[str, Mapping[str, str]] | None = None,
    saved: Mapping[str, str] | None = None,
    words_only: bool = False,
) -> list[dict[str, Any]]:
    """The check-in card(s) for a person's KRs: one form per KR, with submitted values, field errors or saved notes."""
    title = translate("feishu.checkin.chaser_title" if chaser else (
        "feishu.checkin.words_title" if words_only else "feishu.checkin.title"), lang=lang)
    if not rows:
        return [card_json(title, [markdown_element(translate("feishu.checkin.none", lang=lang))])]
    elements: list[dict[str, Any]] = []
    for row in rows:
        code = str(row["code"])
        elements.extend(
            checkin_elements(
                row=row,
                lang=lang,
                values=(values or {}).get(code),
                errors=(errors or {}).get(code),
                saved=(saved or {}).get(code),
            )
        )
    return pack(title=title, elements=elements, lang=lang, template="orange" if chaser else "blue")


def form_id(code: str) -> str:
    """The element id that marks a KR's place in the check-in card."""
    return ("k_" + re.sub(r"[^A-Za-z0-9_]", "_", code))[:20]


def card_with_form(*, cards: Sequence[dict[str, Any]], code: str) -> dict[str, Any]:
    """The card among several that holds the form (or the saved note) of `code`."""
    marker = f'"element_id":"{form_id(code)}"'
    return next((card for card in cards if marker in content_of(card)), cards[0])
