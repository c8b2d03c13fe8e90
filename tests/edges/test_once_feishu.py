"""§5 and §8 over signed Feishu pushes: a removed person is a stranger; two card clicks on one ask decide it once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import services
from bot.platforms import feishu
from storage.models import GoalChangeRow
from tests.conftest import EXAMPLE_ZH
from tests.edges import test_feishu
from tests.edges.test_feishu import (
    BOSS,
    CHEN,
    LIN,
    SUN,
    Bot,
    _buttons,
    _post_digest_with_asks,
    replies_to,
    settings_for,
    text_of,
)
from tests.edges.test_slack_owed_notices import notices
from tests.fakes import fake_feishu as ff
from tests.fakes.okr_helpers import count, okr_file_without, reimport

open_api, fake, bot = test_feishu.open_api, test_feishu.fake, test_feishu.bot  # the Feishu tests' fixtures

TRIALS = 10
STRANGER = "我还不认识你"


def told_chen(fake: ff.FakeFeishu, ask_id: int) -> list[dict[str, Any]]:
    """Messages krbot sent chen about one ask."""
    return [m for m in fake.sent(kind="create") if m["receive_id"] == CHEN and f"#{ask_id}" in text_of(m)]


def test_a_removed_admin_is_a_stranger_to_messages_and_cards(bot: Bot, fake: ff.FakeFeishu) -> None:
    """lin dropped from the file: her `/kr change` and her Approve click are a stranger's; nothing changes."""
    posted, (money, _) = _post_digest_with_asks(bot, fake)
    approve = next(v for v in _buttons(posted[0]) if v["id"] == money and v["ok"])
    reimport(bot.app, okr_file_without(person="lin", heir="zhao"))
    for line in ("/kr change KR2 target=2.2% reason: 旺季", "/kr update O1 17.5万欧"):
        _, message_id = bot.say(LIN, line)
        assert STRANGER in text_of(fake.wait_for(lambda message_id=message_id: replies_to(fake, message_id))[0])
    refused = bot.click(LIN, approve)
    assert refused["toast"]["type"] == "error" and STRANGER in refused["toast"]["content"] and "card" not in refused
    assert {a["status"] for a in bot.asks()} == {"open"}
    assert count(bot.app, GoalChangeRow) == 0
    assert [c for c in bot.checkins() if c["code"] == "O1"] == []


def test_a_removed_boss_is_a_stranger_until_re_added(bot: Bot, fake: ff.FakeFeishu) -> None:
    """The boss dropped from the file cannot approve; back in the file, the same button works."""
    posted, (money, _) = _post_digest_with_asks(bot, fake)
    approve = next(v for v in _buttons(posted[0]) if v["id"] == money and v["ok"])
    reimport(bot.app, okr_file_without(person="boss", heir="lin"))
    assert STRANGER in bot.click(BOSS, approve)["toast"]["content"]
    assert {a["status"] for a in bot.asks()} == {"open"}
    reimport(bot.app, EXAMPLE_ZH.read_text(encoding="utf-8"))
    assert bot.click(BOSS, approve)["toast"]["type"] == "success"
    assert next(a for a in bot.asks() if a["id"] == money)["status"] == "approved"


def test_approve_and_decline_clicked_at_once_decide_once_and_tell_once(bot: Bot, fake: ff.FakeFeishu) -> None:
    """10 trials of the boss's Approve and the admin's Decline pushed at the same moment: one decision, one message to
    the asker, and the loser's toast says who decided."""
    for trial in range(TRIALS):
        _, message_id = bot.say(CHEN, f"/kr update KR2 1.8% 需求：追加{5000 + trial}欧预算")
        fake.wait_for(lambda message_id=message_id: replies_to(fake, message_id))
        ask_id = max(a["id"] for a in bot.asks())
        approve = {"a": "ask", "id": ask_id, "ok": True}
        decline = {"a": "ask", "id": ask_id, "ok": False}
        barrier = threading.Barrier(2)
        answers: list[dict[str, Any]] = []

        def click(open_id: str, value: dict[str, Any], barrier: threading.Barrier = barrier,
                  answers: list[dict[str, Any]] = answers) -> None:
            barrier.wait()
            answers.append(bot.click(open_id, value))

        threads = [threading.Thread(target=click, args=(BOSS, approve)), threading.Thread(target=click, args=(LIN, decline))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fake.wait_for(lambda ask_id=ask_id: told_chen(fake, ask_id))
        bot.settled()
        kinds = sorted(a["toast"]["type"] for a in answers)
        assert kinds == ["info", "success"], (trial, kinds)
        loser = next(a for a in answers if a["toast"]["type"] == "info")
        assert "已由" in loser["toast"]["content"]
        assert len(told_chen(fake, ask_id)) == 1, trial


def test_a_redelivered_card_click_decides_once(bot: Bot, fake: ff.FakeFeishu) -> None:
    """The same callback (same event_id) pushed twice: one decision, the asker told once."""
    posted, (money, _) = _post_digest_with_asks(bot, fake)
    approve = next(v for v in _buttons(posted[0]) if v["id"] == money and v["ok"])
    payload = ff.card_action(open_id=BOSS, value=approve, event_id="ev_card_replayed_0001")
    first, replay = bot.push(payload), bot.push(payload)
    assert (first.status_code, replay.status_code) == (200, 200)
    assert first.json()["toast"]["type"] == "success" and replay.json()["toast"]["type"] == "info"
    fake.wait_for(lambda: told_chen(fake, money))
    bot.settled()
    assert len(told_chen(fake, money)) == 1



def test_notices_of_a_card_check_in_and_decision_owed_at_a_stop_are_sent_once_by_the_next_start(
    bot: Bot, fake: ff.FakeFeishu
) -> None:
    """The sends stop right after the commits (as when the process ends there): KR4's drop and the decision are owed in
    the ledger with what they say; the next start's sweep tells sun and chen once, and a callback pushed again, no one."""
    posted, (money, _) = _post_digest_with_asks(bot, fake)
    approve = next(v for v in _buttons(posted[0]) if v["id"] == money and v["ok"])
    bot.clock.now = datetime(2026, 11, 16, 9, tzinfo=UTC)  # 15 days after KR4's first check-in: a forecast to drop
    services.run_command(uow=bot.app.uow, person="chen", text="/kr update KR4 竞品监控覆盖率=90% 会员复购率=31%",
                         at=bot.clock.now - timedelta(days=15))
    bot.platform.pool.shutdown(wait=True)  # nothing is sent after the commits any more
    checkin = ff.card_action(open_id=CHEN, event_id="ev_card_kr4_0001", form_value={"m0": "70%", "m2": "26%"},
                             value={"a": "checkin", "code": "KR4", "measures": ["竞品监控覆盖率", "价格响应", "会员复购率"]})
    decision = ff.card_action(open_id=BOSS, value=approve, event_id="ev_card_owed_0001")
    assert bot.push(checkin).json()["toast"]["type"] == "success"
    assert bot.push(decision).json()["toast"]["type"] == "success"
    assert sorted(notices(bot.app)) == [("chen", "queued", True), ("sun", "queued", True)]
    told_sun = lambda: [m for m in fake.sent(kind="create") if m["receive_id"] == SUN and "KR4" in text_of(m)]  # noqa: E731
    assert told_chen(fake, money) == [] and told_sun() == []
    restarted = feishu.build(settings=settings_for(domain=fake._served.url), uow=bot.app.uow, http=True,
                             clock=bot.clock, backoff=0.01)
    try:
        assert restarted.sweep() == 2
        assert [status for _, status, _ in notices(bot.app)] == ["sent", "sent"]
        assert restarted.sweep() == 0
        assert bot.push(decision).json()["toast"]["type"] == "info"  # the same callback pushed again
        assert "已保存过" in bot.push(checkin).json()["toast"]["content"]
        assert restarted.sweep() == 0
    finally:
        restarted.stop()
    assert len(told_chen(fake, money)) == 1 and len(told_sun()) == 1
