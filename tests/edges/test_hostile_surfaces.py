"""Every surface, one list of hostile strings: no ping, no template run, no script, valid JSON within the limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import App
from bot.platforms import feishu_cards as cards
from bot.platforms import slack_blocks as blocks
from tests.fakes.hostile import HOSTILE, active_html, evaluated, live_mentions, strings_of, valid_json
from tests.fakes.surfaces import chat_surfaces, digest_surfaces, said

AT = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def _within_limits(name: str, payload: Any) -> list[str]:
    """What a platform would refuse: Slack's block and text limits, Feishu's card size and component count."""
    found = []
    if name.startswith("slack"):
        messages = payload if isinstance(payload, list) else [payload]
        for message in messages:
            message_blocks = message.get("blocks", [])
            limit = blocks.MAX_VIEW_BLOCKS if message.get("type") in ("modal", "home") else blocks.MAX_BLOCKS
            found += [f"{len(message_blocks)} blocks"] if len(message_blocks) > limit else []
            found += [f"text of {len(s)}" for s in strings_of(message_blocks) if len(s) > blocks.MAX_SECTION]
    if name.startswith("feishu") and isinstance(payload, list):
        for card in payload:
            found += [f"{cards.card_bytes(card)} bytes"] if cards.card_bytes(card) > cards.MAX_BYTES else []
            found += ["components"] if cards.component_count(card) > cards.MAX_COMPONENTS else []
    return found


def _problems(name: str, payload: Any) -> list[str]:
    """Every way one rendered surface fails the promise."""
    if isinstance(payload, str):
        text = payload
        payload_problems = []
    else:
        payload_problems = []
        try:
            valid_json(payload)
        except (ValueError, UnicodeError, AssertionError) as error:
            payload_problems.append(f"json: {error!r}"[:200])
        text = "\n".join(strings_of(payload))
    found = payload_problems + [f"evaluated {sign}" for sign in evaluated(text)]
    # A terminal and a web page ping nobody: the console, the CLI's text and markdown digests, the HTML report.
    # (Chat platforms get the text digest only through their own escaping: /kr report is in chat_surfaces.)
    if not name.startswith(("console", "html", "text.", "markdown.")):
        found += [f"live {m}" for m in live_mentions(text)]
    if name.startswith("html"):
        found += [f"active {a}" for a in active_html(text) if a not in ("svg",)]
    return [f"{name}: {p}" for p in found + _within_limits(name, payload)]


@pytest.mark.parametrize("hostile", [text for _, text in HOSTILE], ids=[name for name, _ in HOSTILE])
def test_hostile_text_is_inert_on_every_surface(example: App, hostile: str) -> None:
    """Typed into a note, next step, risk, ask, change reason and as a whole command, then shown everywhere."""
    replies = [
        said(example, person="chen", text=f"/kr update KR2 1.7% 备注：{hostile} 下一步：{hostile} 风险：{hostile}", at=AT),
        said(example, person="chen", text=f"/kr update KR2 1.71% 需求：{hostile}", at=AT),
        said(example, person="lin", text=f"/kr change KR2 target=2.2% 原因：{hostile}", at=AT),
        said(example, person="chen", text=hostile, at=AT),
        said(example, person="chen", text=f"/kr status {hostile}", at=AT),
        said(example, person="chen", text=f"/kr update {hostile}", at=AT),
    ]
    assert [reply.key for reply in replies[:3]] == ["checkin.saved", "checkin.saved", "change.saved"]
    problems = []
    surfaces = [surface for reply in replies for surface in chat_surfaces(reply)]
    surfaces += list(digest_surfaces(example, as_of=AT, person="chen"))
    for name, payload in surfaces:
        problems += _problems(name, payload)
    assert problems == [], "\n".join(problems)
    assert len({name.split(".")[0] for name, _ in surfaces}) >= 6  # console, text, markdown, html, slack, feishu


BROKEN = "a\x00b \ud800 c\x1b"  # PostgreSQL refuses NUL; UTF-8 cannot carry a lone surrogate


def test_form_and_spreadsheet_text_with_nul_and_surrogates_is_stored_clean(example: App) -> None:
    """A form and a CSV carrying NUL, escape and half a surrogate pair save (cleaned), on SQLite and PostgreSQL."""
    from bot import services

    reply, errors = services.record_form(
        uow=example.uow, person="chen", code="KR2", values={"新客转化率": "1.7%\x00"}, note=BROKEN, next_step=BROKEN,
        risk=None, ask_text=BROKEN, ask_kind=None, ask_amount=None, at=AT,
    )
    assert errors == {} and reply is not None and reply.key == "checkin.saved"
    csv_text = f"code,measure,value,person,at,note\nKR2,新客转化率,1.8%,chen,2026-11-19 10:00,{BROKEN}\n"
    assert services.import_checkins(uow=example.uow, text=csv_text, filename="x.csv", now=AT)["rows"] == 1
    notes = [c["note"] for c in services.export_all(uow=example.uow, at=AT)["checkins"] if c["note"]]
    assert notes.count("ab \ufffd c") == 2
    for name, payload in digest_surfaces(example, as_of=AT, person="chen"):
        assert _problems(name, payload) == []
