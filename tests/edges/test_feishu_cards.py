"""Feishu card builders alone: user text made inert in card markdown and text messages, limits kept on any input."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms

MARKUP = st.text(alphabet=st.sampled_from(list("<>/@*_~`[]()#|\\&=\"' atuserid_all所有人\n")), max_size=80)


@given(text=st.one_of(MARKUP, st.text(max_size=300)))
@settings(max_examples=300, deadline=None)
def test_user_text_in_card_markdown_is_inert(text: str) -> None:
    """No tag, link, emphasis or line break survives md(); an @all is broken."""
    shown = cards.md(text)
    bare = re.sub(r"&(#\d+|amp|lt|gt);", "", shown)  # the entities md() writes instead of the specials
    for special in "<>*_~`[]()#|\\\n&":
        assert special not in bare
    assert "@all" not in shown.lower()


@given(text=st.one_of(MARKUP, st.text(max_size=300)))
@settings(max_examples=300, deadline=None)
def test_text_messages_never_carry_an_at_tag(text: str) -> None:
    """In a text message `<at …>` is a mention: plain() keeps the words but no tag can open."""
    shown = cards.plain(text)
    assert "<at" not in shown.lower() and "@all" not in shown.lower()


def test_text_card_splits_long_text_and_keeps_every_line() -> None:
    """A long reply becomes several cards within the limits; every line is there, in order."""
    text = "\n".join(f"line {n} <at user_id=\"all\"></at> " + "字" * 200 for n in range(400))
    built = cards.text_card(title="t", text=text, lang="zh")
    assert len(built) > 1
    joined = "".join(cards.content_of(card) for card in built)
    positions = [joined.index(f"line {n} ") for n in range(400)]
    assert positions == sorted(positions)
    for card in built:
        assert cards.card_bytes(card) <= cards.MAX_BYTES
        assert cards.component_count(card) <= cards.MAX_COMPONENTS
        json.loads(cards.content_of(card))
    assert "<at" not in joined


def test_checkin_card_with_nothing_to_report() -> None:
    """Someone who owns no KR gets a card that says so, in their language."""
    (card,) = forms.checkin_cards(rows=[], lang="en")
    assert "no KRs" in cards.content_of(card)
