"""Owners' words cut for a headline: the first sentence, at most so many characters, ended with "…"."""

from __future__ import annotations

import re

RISK_SENTENCE_LIMIT = 80
ELLIPSIS = "…"
# A sentence ends at 。！？ (wherever they stand) or at . ! ? followed by a space or the end (so 1.8% stays whole).
_END = re.compile(r"[。！？]|[.!?](?=\s|$)")


def first_sentence(*, text: str, limit: int = RISK_SENTENCE_LIMIT) -> str:
    """The text's first sentence, on one line, cut to `limit` characters with "…" when longer."""
    line = " ".join(text.split())
    found = _END.search(line)
    sentence = line[: found.start()] if found else line
    sentence = sentence.strip() or line
    if len(sentence) > limit:
        return sentence[: limit - 1].rstrip() + ELLIPSIS
    return sentence
