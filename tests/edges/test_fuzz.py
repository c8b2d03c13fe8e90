"""Property-based fuzzing (hypothesis) of the chat grammar and the rendered surfaces.

Never an exception other than our domain errors; never a live mention, a template run or a script on any surface.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import commands
from bot.app import App
from bot.core.errors import KrbotError
from bot.platforms import feishu_cards as cards
from bot.platforms import slack_blocks as blocks
from bot.render import inline, markdown_text
from tests.edges.test_hostile_surfaces import _problems
from tests.fakes.hostile import TEXTS, live_mentions, valid_json
from tests.fakes.surfaces import chat_surfaces, digest_surfaces, said

AT = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)

WORDS = [
    "/kr", "kr", "/ｋｒ", "update", "更新", "udpate", "list", "status", "report", "paths", "matrix", "plan", "change",
    "变更", "done", "away", "请假", "help", "KR1", "KR2", "ＫＲ２", "O1", "kr9", "新客转化率", "ACOS", "GMV", "=", "＝",
    "1.8%", "１．８％", "5千欧", "€5.000", "5 000 €", "1,500", "-3", "+0.2%", "2000%!", "90m", "72h", "done", "完成",
    "1e309", "9" * 20, "nan", "inf", "note:", "备注：", "next:", "下一步：", "ask:", "需求：", "risk:", "风险：",
    "reason:", "原因：", "target=2.2%", "due=2026-12-31", "title=x", "2026-12-20..2027-01-03", "2026-02-30", "off",
    ";", "；", "\n", "  ", "：", ":", "'", '"', "\\", "\x00", "\ud800", "\u200b", "\u202e", "@channel", "<!here>",
    '<at user_id="all"></at>', "{{ 7*13337 }}", "{% raw %}", "<script>", "=1+1",
]
_TOKEN = st.sampled_from(WORDS) | st.text(max_size=8) | st.sampled_from(TEXTS)
COMMAND_TEXT = st.lists(_TOKEN, max_size=10).map(" ".join) | st.text(max_size=60)

QUICK = settings(max_examples=300, deadline=None)
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@QUICK
@given(COMMAND_TEXT)
def test_the_grammar_reads_anything_or_refuses_it(text: str) -> None:
    """parse_command and parse_update give a command or a KrbotError, never any other exception."""
    for parse in (commands.parse_command, commands.parse_update):
        try:
            parse(text=text)
        except KrbotError:
            pass


@QUICK
@given(st.text(max_size=300) | st.sampled_from(TEXTS))
def test_user_text_helpers_never_leave_a_live_mention(text: str) -> None:
    """Each surface's escape (plain line, markdown, Slack mrkdwn, Feishu markdown and text) is inert and sendable."""
    for escaped in (blocks.esc(text), cards.md(text), cards.plain(inline(text))):
        assert live_mentions(escaped) == [], escaped
        valid_json({"text": escaped})
    assert len(inline(text)) <= 280 and "\n" not in inline(text)
    assert "\n" not in markdown_text(text)


@pytest.fixture
def clock() -> list[datetime]:
    """A moving clock, so that fuzzed check-ins on one app stay in the cycle and in order."""
    return [AT - timedelta(days=30)]


@SLOW
@given(text=COMMAND_TEXT, person=st.sampled_from(["chen", "zhao", "lin", "boss", "nobody"]))
@example(text="/kr update KR2 1.7% 备注：a\x00b 风险：\ud800", person="chen")  # PostgreSQL refused NUL; UTF-8 the half pair
@example(text="/kr change KR2 target=2.2% 原因：\x00\udfff", person="lin")
def test_any_command_from_anyone_is_answered_never_raised(example: App, clock: list[datetime], text: str, person: str) -> None:
    """run_command answers every text from every person with a reply, and each reply is inert on every chat surface."""
    clock[0] += timedelta(minutes=7)
    try:
        reply = said(example, person=person, text=text, at=clock[0])
    except KrbotError as error:  # a stranger is refused by the edge's own lookup
        assert person == "nobody", error
        return
    for name, payload in chat_surfaces(reply):
        assert _problems(name, payload) == [], (name, text)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(note=st.text(min_size=1, max_size=120) | st.sampled_from(TEXTS), ask=st.text(min_size=1, max_size=60))
def test_any_stored_text_is_inert_in_the_digest_everywhere(example: App, clock: list[datetime], note: str, ask: str) -> None:
    """Random note, risk and ask, stored, then the digest on every surface: text, markdown, HTML, Slack, Feishu, Home, forms."""
    clock[0] += timedelta(hours=3)
    note, ask = note.replace("\n", " "), ask.replace("\n", " ")
    said(example, person="chen", text=f"/kr update KR2 1.7% 备注：{note} 风险：{note} 需求：{ask}", at=clock[0])
    for name, payload in digest_surfaces(example, as_of=clock[0], person="chen"):
        assert _problems(name, payload) == [], name
