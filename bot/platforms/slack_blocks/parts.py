"""Block Kit parts and limits: escaping, sections, headers, buttons, and packing text into messages."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.render import inline

OPEN_FORM = "kr_open_form"


PICK_KR = "kr_pick"


APPROVE = "ask_approve"


DECLINE = "ask_decline"


OPEN_REPORT = "kr_open_report"  # the digest's "Open the report": the reader's own sign-in link, privately


CHECKIN_VIEW = "kr_checkin"


TEXT_FIELDS = ("note", "risk", "next")


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


def esc(text: object, /, limit: int = 280) -> str:
    """User text made inert in mrkdwn: one line, `&`, `<`, `>` as entities (no links or pings), mass mentions broken."""
    return _SPECIAL.sub(lambda m: _ENTITIES[m.group(0)], inline(text, limit))


def esc_lines(text: str, /) -> str:
    """A whole reply made inert in mrkdwn, its lines kept."""
    return "\n".join(esc(line, limit=MAX_SECTION) if line.strip() else "" for line in text.splitlines())


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object cut to Slack's limit."""
    text = text or "—"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": text}


def section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    """A section block of mrkdwn text."""
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def header(text: str) -> dict[str, Any]:
    """A header block (plain text, 150 characters at most)."""
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def context(text: str) -> dict[str, Any]:
    """A context block of one mrkdwn line."""
    return {"type": "context", "elements": [mrkdwn(text[:MAX_SECTION])]}


def button(*, text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    """A button element."""
    button: dict[str, Any] = {"type": "button", "text": plain(text, MAX_BUTTON), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def chunks(text: str, limit: int = MAX_SECTION) -> list[str]:
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
    return [section(piece) for piece in chunks(text)]


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
