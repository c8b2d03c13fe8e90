"""Numbers in the reader's locale on every surface: a de-DE or fr-FR workspace's digest (text, Markdown, HTML, Slack,
Feishu), `/kr status`, `/kr list` and the reminders; zh and en workspaces unchanged (CONTRACT §5, §7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.core.model import Person
from bot.i18n import translate
from bot.platforms.base import Reminder
from bot.platforms.feishu_form import checkin_cards
from bot.platforms.slack_blocks.messages import reminder_message
from tests.conftest import EXAMPLE_EN, EXAMPLE_ZH

NBSP = "\u00a0"
AS_OF = "2026-10-23"
# what KR1's GMV (12,500 of 50,000 EUR, 25%) reads like to each locale's boss
WRITTEN = {
    "de-DE": (f"12.500{NBSP}€", f"50.000{NBSP}€", f"(25{NBSP}%)"),
    "fr-FR": (f"12,5{NBSP}k{NBSP}€", f"50{NBSP}k{NBSP}€", f"(25{NBSP}%)"),
}


def _imported(run_cli: Any, tmp_path: Path, *, locale: str | None, example: Path = EXAMPLE_EN) -> Any:
    """The example OKRs in a workspace of `locale`, with check-ins of O1's and KR1's GMV; returns run_cli."""
    text = example.read_text(encoding="utf-8")
    if locale:
        text = text.replace("  language: ", f"  locale: {locale}\n  language: ", 1)
    path = tmp_path / "okrs.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run_cli("import", str(path))
    assert code == 0, err
    english = example == EXAMPLE_EN
    for person, at, words in (
        ("lin", "2026-10-05T10:00", "O1 23.600 €" if english else "O1 2.36万欧"),
        ("lin", "2026-10-20T10:00", "O1 48.500 €" if english else "O1 4.85万欧"),
        ("zhao", "2026-10-20T10:00", "KR1 GMV=12500 €" if english else "KR1 GMV=1.25万欧"),
    ):
        code, out, err = run_cli("checkin", "--as", person, "--at", at, words)
        assert code == 0, out + err
    return run_cli


def _texts(payload: Any) -> str:
    """Every string inside a JSON payload, joined (Slack blocks, Feishu card content)."""
    if isinstance(payload, str):
        try:
            return _texts(json.loads(payload))
        except ValueError:
            return payload
    if isinstance(payload, dict):
        return "\n".join(_texts(v) for v in payload.values())
    if isinstance(payload, list):
        return "\n".join(_texts(v) for v in payload)
    return ""


def _digest(run_cli: Any, fmt: str) -> str:
    """`krbot digest --format FMT` as the words a reader sees."""
    code, out, err = run_cli("digest", "--format", fmt, "--as-of", AS_OF)
    assert code == 0, err
    return _texts(json.loads(out)) if fmt in ("slack", "feishu") else out


@pytest.mark.parametrize("locale", sorted(WRITTEN))
def test_a_german_or_french_boss_reads_the_digest_in_their_locale_on_every_surface(
    run_cli: Any, tmp_path: Path, locale: str
) -> None:
    _imported(run_cli, tmp_path, locale=locale)
    target, percent, value = WRITTEN[locale]
    for fmt in ("text", "markdown", "html", "slack", "feishu"):
        words = _digest(run_cli, fmt)
        assert target in words and percent in words and value in words, (fmt, words[:3000])
        assert "€50k" not in words and "50,000" not in words and "12,500" not in words, fmt
        assert "€12.5k" not in words and "(25%)" not in words, fmt


def test_status_and_list_are_written_in_the_readers_own_locale_not_the_workspaces(
    run_cli: Any, tmp_path: Path
) -> None:
    """A French workspace: Lin (de-DE) reads `/kr status` and `/kr list` the German way, Sun (none) the French."""
    _imported(run_cli, tmp_path, locale="fr-FR")
    at = ("--at", f"{AS_OF}T12:00")
    _, lin_status, _ = run_cli("say", "--as", "lin", *at, "/kr status KR1")
    _, lin_list, _ = run_cli("say", "--as", "lin", *at, "/kr list")
    assert f"GMV: 12.500{NBSP}€ / 50.000{NBSP}€" in lin_status and f"{NBSP}% done" in lin_status, lin_status
    assert f"48.500{NBSP}€ / 500.000{NBSP}€" in lin_list and f"10{NBSP}% done" in lin_list, lin_list
    _, sun_status, _ = run_cli("say", "--as", "sun", *at, "/kr status KR1")
    assert f"GMV: 12,5{NBSP}k{NBSP}€ / 50{NBSP}k{NBSP}€" in sun_status, sun_status  # no locale of his own: the workspace's


def test_a_reminder_writes_the_last_value_and_target_in_the_owners_locale(
    app: App, run_cli: Any, tmp_path: Path
) -> None:
    """Slack's DM, Feishu's card and the console's text all write Lin's numbers the German way, Sun's the English."""
    _imported(run_cli, tmp_path, locale=None)
    rows = services.reminder_rows(uow=app.uow, people=["lin", "sun"], at=datetime(2026, 10, 22, 8, tzinfo=UTC))
    for key, wanted, unwanted in (("lin", f"48.500{NBSP}€", "€48.5k"), ("sun", "6M units", f"6{NBSP}Mio.")):
        person = Person(key=key, name=key.title())
        reminder = Reminder(workspace="Europe Division", lang="en", person=person, rows=rows[key])
        slack = _texts(reminder_message(reminder=reminder))
        feishu = _texts(checkin_cards(rows=reminder.rows, lang="en"))
        console = translate("scheduler.reminder", lang="en", locale=reminder.locale, name=key, rows=list(rows[key]))
        for surface, words in (("slack", slack), ("feishu", feishu), ("console", console)):
            assert wanted in words and unwanted not in words, (key, surface, words[:2000])


def test_an_english_workspace_writes_numbers_as_before(run_cli: Any, tmp_path: Path) -> None:
    _imported(run_cli, tmp_path, locale=None)
    english = _digest(run_cli, "text")
    assert "€12.5k of €50k (25%)" in english, english[:3000]


def test_a_chinese_workspace_writes_numbers_as_before(run_cli: Any, tmp_path: Path) -> None:
    _imported(run_cli, tmp_path, locale=None, example=EXAMPLE_ZH)
    chinese = _digest(run_cli, "text")
    assert "1.25万欧" in chinese and "5万欧" in chinese and "（25%）" in chinese, chinese[:3000]


@pytest.mark.parametrize(("example", "lang", "limit", "target"), [
    (EXAMPLE_EN, "en", "ACOS: — / limit ≤ 25", "target 25"), (EXAMPLE_ZH, "zh", "ACOS：— / 上限 25", "目标 25"),
])
def test_a_reminder_calls_a_guardrails_limit_a_limit_never_a_target(
    app: App, run_cli: Any, tmp_path: Path, example: Path, lang: str, limit: str, target: str
) -> None:
    """One word for a guardrail everywhere: the digest's "limit ≤ 25%" is the reminder's and the form's word too."""
    _imported(run_cli, tmp_path, locale=None, example=example)
    rows = services.reminder_rows(uow=app.uow, people=["chen"], at=datetime(2026, 10, 22, 8, tzinfo=UTC))
    reminder = Reminder(workspace="w", lang=lang, person=Person(key="chen", name="Chen"), rows=rows["chen"])
    slack = _texts(reminder_message(reminder=reminder))
    feishu = _texts(checkin_cards(rows=reminder.rows, lang=lang))
    assert limit in slack and target not in slack, slack
    assert limit.split("/ ")[1].replace(" ", "") in feishu.replace(" ", "") and target not in feishu, feishu


def test_a_goal_change_notice_writes_numbers_in_the_told_persons_locale(app: App, run_cli: Any, tmp_path: Path) -> None:
    """Lin (de-DE) changes KR2's target; Chen (fr-FR), its owner, is told in French numbers."""
    _imported(run_cli, tmp_path, locale=None)
    reply = services.run_command(uow=app.uow, person="lin", at=datetime(2026, 10, 22, 8, tzinfo=UTC),
                                 text="/kr change KR2 target=2,25 % reason: new ads")
    assert reply.ok, reply
    (told,) = [n for n in reply.notices if n.person == "chen"]
    words = translate(told.key, lang="en", locale=told.locale, **told.params)
    assert f"2{NBSP}% → 2,25{NBSP}%" in words, words
