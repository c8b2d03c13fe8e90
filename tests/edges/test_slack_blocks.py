"""Slack Block Kit within Slack's limits: a 200-KR digest split across thread replies, every block validated by slack_sdk."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot import services
from bot.app import App
from bot.core.digest import FailedDelivery
from bot.core.model import Person
from bot.platforms import slack, slack_blocks
from bot.platforms.base import Reminder
from tests.edges.test_slack import settings_for, valid_blocks, valid_view
from tests.fakes.fake_slack import FakeSlack

IMPORTED = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
OBJECTIVES = 4
KRS_PER_OBJECTIVE = 50


def big_okr_file() -> str:
    """An English OKR file with 200 KRs (two measures each) over 4 objectives; owner0 owns 50 of them."""
    lines = [
        "workspace:",
        "  name: Big Corp",
        "  language: en",
        "  timezone: Europe/Berlin",
        "  boss_channel: {slack: C0BIGBOSS01}",
        "people:",
        "  - {id: boss, name: Boss <!channel>, role: boss, slack: U0BIGBOSS1}",
    ]
    lines += [f"  - {{id: owner{n}, name: Owner {n}, slack: U0OWNER00{n}}}" for n in range(4)]
    lines += ["cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}", "objectives:"]
    for o in range(OBJECTIVES):
        lines += [
            f"  - code: O{o + 1}",
            f"    title: Grow the German Amazon store revenue, stream {o + 1}",
            "    owner: boss",
            "    deadline: 2026-12-31",
            "    measures:",
            "      - {name: GMV, unit: EUR, baseline: 0, target: 500000}",
            "    paths:",
        ]
        for p in range(5):
            lines += [f"      - code: P{o + 1}{p}", f"        title: Path {p} of objective {o + 1}", f"        priority: {p + 1}", "        krs:"]
            for k in range(KRS_PER_OBJECTIVE // 5):
                n = o * KRS_PER_OBJECTIVE + p * 10 + k
                lines += [
                    f"          - code: KR{n}",
                    f"            title: Raise the new-customer conversion of campaign {n} on Amazon DE from 1.5% to 2.0%",
                    f"            owner: owner{o}",
                    "            measures:",
                    "              - {name: conversion, unit: '%', baseline: 1.5, target: 2.0}",
                    "              - {name: ACOS, unit: '%', at_most: 25}",
                ]
    return "\n".join(lines) + "\n"


def big_history() -> str:
    """A check-in for every KR, with a long note, a next step and (for every third KR) an ask."""
    rows = ["code,measure,value,person,at,note,next,ask,risk"]
    for n in range(OBJECTIVES * KRS_PER_OBJECTIVE):
        owner = f"owner{n // KRS_PER_OBJECTIVE}"
        at = (NOW - timedelta(days=2, minutes=n)).isoformat()
        note = f"note {n}: " + "creative refresh lifted conversion <!channel> & more " * 4
        ask = f"{1000 + n} EUR more ad budget" if n % 3 == 0 else ""
        rows.append(f'KR{n},conversion,{1.5 + (n % 7) / 10:.1f}%,{owner},{at},"{note}",widen exact keywords,{ask},')
    return "\n".join(rows) + "\n"


def test_a_digest_of_200_krs_stays_within_slack_limits_and_loses_nothing(app: App) -> None:
    services.import_okrs(uow=app.uow, text=big_okr_file(), filename="big.yaml", at=IMPORTED)
    services.import_checkins(uow=app.uow, text=big_history(), filename="big.csv", now=NOW)
    digest = services.compose(uow=app.uow, as_of=NOW)
    assert sum(len(o.krs) for o in digest.objectives) == 200

    main, thread = slack_blocks.digest_messages(digest=digest)
    assert len(thread) >= 4  # the data could not fit one message: split across thread replies
    for message in (main, *thread):
        valid_blocks(message["blocks"])
        assert message["text"].strip() and len(message["text"]) <= slack_blocks.MAX_FALLBACK
    shown = json.dumps([main, *thread], ensure_ascii=False)
    for n in range(200):
        assert f"KR{n} " in shown, f"KR{n} lost"  # split, never truncated
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    buttons = [b for m in thread for b in m["blocks"] if b["type"] == "actions"]
    assert len(buttons) == digest.open_asks == 67
    assert "O4" in main["text"]

    failed = FailedDelivery(kind="reminder", target="Owner <!here>", period="2026-W47", attempts=3,
                            error="channel_not_found <@U0BIGBOSS1>", at=NOW)
    _main, with_failed = slack_blocks.digest_messages(digest=replace(digest, failed=(failed,)))
    valid_blocks(with_failed[-1]["blocks"])
    last = json.dumps(with_failed[-1], ensure_ascii=False)
    assert "2026-W47" in last and "&lt;!here&gt;" in last and "<@U0BIGBOSS1>" not in last

    fake = FakeSlack().start()
    try:
        platform = slack.build(settings=settings_for(fake), uow=app.uow, http=True, clock=lambda: NOW)
        sent = platform.post_digest(digest=digest, channel="C0BIGBOSS01", idempotency_key="big")
        posted = fake.of("chat.postMessage")
        assert len(posted) == 1 + len(thread) and len(sent.extra["thread"]) == len(thread)
        assert not [c for c in fake.calls if c.status != 200]  # the fake refuses what Slack would refuse

        rows = services.list_krs(uow=app.uow, person="owner0", at=NOW).params["rows"]
        assert len(rows) == 50
        person = services.person_of(uow=app.uow, key="owner0", at=NOW)
        assert person is not None
        reminder = slack_blocks.reminder_message(reminder=Reminder(workspace="Big Corp", lang="en", person=person, rows=rows))
        valid_blocks(reminder["blocks"])
        view = slack_blocks.checkin_view(rows=rows, code="KR7", lang="en")
        valid_view(view)
        assert json.loads(view["private_metadata"])["code"] == "KR7"
        last = {k.code: k.last_at for o in digest.objectives for k in o.krs}
        valid_view(slack_blocks.home_view(rows=rows, lang="en", name="Owner 0", last=last, tz="Europe/Berlin", digest=digest))
    finally:
        fake.stop()


def test_long_text_is_split_into_sections_at_line_ends_not_cut() -> None:
    lines = [f"line {n}: " + "x" * 90 for n in range(100)] + ["y" * 7000]
    blocks = slack_blocks.sections(text="\n".join(lines))
    texts = [b["text"]["text"] for b in blocks]
    assert all(len(t) <= slack_blocks.MAX_SECTION for t in texts)
    assert "".join(t.replace("\n", "") for t in texts) == "".join(lines)
    for message in slack_blocks.pack(blocks=blocks * 30):
        valid_blocks(message["blocks"])


def test_escaping_makes_links_and_mentions_inert() -> None:
    assert slack_blocks.esc("<!here> <@U1|x> a&b <#C1>") == "&lt;!here&gt; &lt;@U1|x&gt; a&amp;b &lt;#C1&gt;"
    assert "@channel" not in slack_blocks.esc("ping @channel now")
    assert slack_blocks.esc_lines("a <b>\n\nc & d") == "a &lt;b&gt;\n\nc &amp; d"


def test_progress_bar() -> None:
    assert slack_blocks.bar(ratio=None) == "░" * 10
    assert slack_blocks.bar(ratio=0.5) == "█" * 5 + "░" * 5
    assert slack_blocks.bar(ratio=1.7) == "█" * 10
    assert slack_blocks.bar(ratio=-0.2) == "░" * 10


def test_empty_states_validate_in_both_languages() -> None:
    person = Person(key="sun", name="孙浩 <!here>", slack_id="U0SUN00001")
    for lang in ("zh", "en"):
        valid_view(slack_blocks.checkin_view(rows=[], code=None, lang=lang))
        valid_view(slack_blocks.result_view(text="saved &lt;b&gt;", lang=lang))
        valid_view(slack_blocks.home_view(rows=[], lang=lang, name="孙浩", last={}, tz="UTC"))
        for chaser in (False, True):
            message = slack_blocks.reminder_message(reminder=Reminder(workspace="w", lang=lang, person=person, rows=[], chaser=chaser))
            valid_blocks(message["blocks"])
            assert "<!here>" not in json.dumps(message, ensure_ascii=False)
