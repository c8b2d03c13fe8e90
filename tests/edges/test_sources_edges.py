"""What people see of data sources: words-only reminders and forms, no chasing for pulled numbers, and `krbot jobs`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.owed import owed_chasers
from bot.platforms.base import Reminder
from bot.platforms.console import ConsolePlatform
from bot.platforms.feishu_cards import content_of
from bot.platforms.feishu_form import checkin_cards
from bot.platforms.slack_blocks.messages import reminder_message
from bot.platforms.slack_blocks.views import checkin_view
from bot.scheduler import Runner
from tests.fakes.synced import FAST, OCT15, Synced, synced_workspace

MONDAY = datetime(2026, 10, 19, 7, 31, tzinfo=UTC)  # Mon 09:31 in Berlin: the reminder slot
FRIDAY = datetime(2026, 10, 23, 10, 31, tzinfo=UTC)  # the chasers' slot, four hours before the Friday digest


@pytest.fixture
def synced(app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Synced]:
    """The example with sourced measures (tests/fakes/synced.py)."""
    with synced_workspace(app=app, db_url=db_url, tmp_path=tmp_path, monkeypatch=monkeypatch) as workspace:
        yield workspace


def _reminder(synced: Synced, person: str) -> Reminder:
    rows = services.reminder_rows(uow=synced.app.uow, people=[person], at=MONDAY)[person]
    owner = services.person_of(uow=synced.app.uow, key=person, at=MONDAY)
    assert owner is not None
    return Reminder(workspace="Sync Test", lang="en", person=owner, rows=rows)


def test_the_reminder_pulls_first_and_an_all_synced_owner_is_asked_only_for_words(synced: Synced) -> None:
    out = io.StringIO()
    console = ConsolePlatform(uow=synced.app.uow, stdout=out)
    outcome = Runner(uow=synced.app.uow, platforms=[console], policy=FAST).run(job="reminders", now=MONDAY)
    assert outcome.counts["pulled"] == 3 and outcome.counts["sent"] == 3, outcome.counts
    printed = out.getvalue()
    ana = printed.split("→ Ana")[1].split("→ ")[0]
    assert "only your words are asked" in ana and "GMV: €3,500" in ana and "(synced)" in ana, ana
    assert "/kr update CODE VALUE" not in ana
    ben = printed.split("→ Ben")[1].split("→ ")[0]
    assert "only your words" not in ben and "/kr update CODE VALUE" in ben


def test_an_all_synced_owners_forms_have_no_number_fields(synced: Synced) -> None:
    synced.runner().run(job="sync", now=OCT15)
    ana, ben = _reminder(synced, "ana"), _reminder(synced, "ben")
    assert ana.words_only and not ben.words_only
    modal = checkin_view(rows=ana.rows, code="KR1", lang="en")
    inputs = [b["block_id"] for b in modal["blocks"] if b["type"] == "input"]
    assert not [i for i in inputs if i.startswith("m")] and {"note", "next", "risk", "ask_text"} <= set(inputs)
    assert json.loads(modal["private_metadata"])["names"] == []
    assert "synced from its data source" in json.dumps(modal)
    mixed = checkin_view(rows=ben.rows, code="KR2", lang="en")
    assert json.loads(mixed["private_metadata"])["names"] == ["Conversion"]
    cards = checkin_cards(rows=ana.rows, lang="en", words_only=ana.words_only)
    content = "".join(content_of(card) for card in cards)
    assert '"name":"m0"' not in content and "only your words are asked" in content
    assert '"measures":[]' in content
    assert "GMV: €3,500.75 — synced from its data source" in content  # shown with its value, as in Slack's form
    assert "Orders: 420 orders — synced from its data source" in content
    mixed_card = "".join(content_of(card) for card in checkin_cards(rows=ben.rows, lang="zh"))
    assert '"name":"m0"' in mixed_card and '"name":"m1"' not in mixed_card and "已从数据源同步" in mixed_card


def test_pulled_numbers_are_no_ones_missing_report_and_hide_no_typed_one(synced: Synced) -> None:
    synced.runner().run(job="sync", now=FRIDAY.replace(hour=4))  # Friday 06:00: ana's and ben's sources pulled
    view = next(v for v in services.schedule_views(uow=synced.app.uow, at=FRIDAY) if v.workspace == "Sync Test")
    assert view.synced_only == frozenset({"ana"})
    due, _, _ = owed_chasers(view=view, now=FRIDAY)
    assert sorted(item.target for item in due) == ["ben", "lead"]  # ben's synced Returns is not his Conversion
    digest = services.compose(uow=synced.app.uow, as_of=FRIDAY)
    assert "Ben" in digest.missing and "Ana" not in digest.missing


def test_jobs_list_shows_the_sync_and_its_last_outcome_and_jobs_run_sync_pulls_again(
    synced: Synced, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "FEISHU_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    synced.json.document = {"data": {}}
    code, out, err = run_cli("jobs", "run", "sync", "--as-of", "2026-10-15T06:30")
    assert code == 0, err
    assert "sync: 2 pulled, 1 failed" in out, out
    code, out, _ = run_cli("jobs", "run", "sync", "--as-of", "2026-10-15T06:31")
    assert "sync: 2 pulled, 1 failed" in out, out  # by hand it pulls again, whatever ran before
    code, out, _ = run_cli("jobs", "list")
    line = next(line for line in out.splitlines() if line.strip().startswith("sync"))
    assert "daily 06:00" in line and "2 pulled, 1 failed" in line, out


def test_the_digest_pulls_first_and_a_slack_reminder_says_the_numbers_are_synced(synced: Synced) -> None:
    out = io.StringIO()
    console = ConsolePlatform(uow=synced.app.uow, stdout=out)
    outcome = Runner(uow=synced.app.uow, platforms=[console], policy=FAST).run(
        job="digest", now=FRIDAY.replace(hour=14, minute=31))
    assert outcome.counts["pulled"] == 3 and outcome.counts["sent"] == 1, outcome.counts
    assert len(synced.synced()) == 2
    assert "3,500" in out.getvalue() and "420" in out.getvalue()  # pulled first, then composed: the digest shows them
    message = json.dumps(reminder_message(reminder=_reminder(synced, "ana")), ensure_ascii=False)
    assert "your numbers arrive by themselves (synced)" in message
    assert "your numbers arrive by themselves" not in json.dumps(reminder_message(reminder=_reminder(synced, "ben")))
