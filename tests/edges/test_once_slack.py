"""§5 and §8 over signed Slack requests: a removed person is a stranger; two clicks on one ask decide it once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.platforms import slack_blocks
from storage.models import GoalChangeRow
from tests.conftest import EXAMPLE_ZH
from tests.edges.test_slack import BOSS, BOSS_CHANNEL, CHEN, LIN, NOW, Bot, served_bot
from tests.fakes.okr_helpers import count, okr_file_without, reimport

TRIALS = 10
STRANGER = "我还不认识你"


@pytest.fixture
def bot(example: App) -> Iterator[Bot]:
    """The served Slack bot as `krbot run --http` serves it."""
    with served_bot(example=example) as served:
        yield served


def ask_message(bot: Bot, *, ask_id: int) -> dict[str, Any]:
    """The digest thread message that carries the ask's buttons, as Slack would send it back on a click."""
    digest = services.compose(uow=bot.app.uow, as_of=NOW)
    bot.platform.post_digest(digest=digest, channel=BOSS_CHANNEL, idempotency_key=f"digest:{ask_id}")
    holder = next(
        p for p in bot.fake.of("chat.postMessage")
        if slack_blocks.ask_block_id(ask_id=ask_id) in json.dumps(p.args.get("blocks", []))
    )
    return {"ts": f"1790000000.{ask_id:06d}", "blocks": holder.args["blocks"], "text": holder.args["text"]}


def answers(bot: Bot, name: str) -> list[dict[str, Any]]:
    """The private answers posted to one response_url."""
    return [c.args for c in bot.fake.of("response_url") if c.args["name"] == name]


def wait(condition: Any, timeout: float = 10.0) -> Any:
    """Poll until `condition()` is true (follow-ups answer after the ack)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("waited in vain")


def test_a_removed_admin_is_a_stranger_to_commands_and_buttons(bot: Bot) -> None:
    """lin dropped from the file: her signed `/kr change` and Approve click get the stranger's answer, change nothing."""
    bot.command(user=CHEN, text="update KR2 1.7% 需求：追加5000欧预算", trigger="t-ask")
    ask_id = bot.asks()[0]["id"]
    message = ask_message(bot, ask_id=ask_id)
    reimport(bot.app, okr_file_without(person="lin", heir="zhao"))
    for n, line in enumerate(("change KR2 target=2.2% reason: 旺季", "update O1 17.5万欧", "report", "list")):
        assert STRANGER in bot.command(user=LIN, text=line, trigger=f"t-lin-{n}")["text"], line
    bot.click(user=LIN, action_id=slack_blocks.APPROVE, value=json.dumps({"id": ask_id}), message=message, name="lin")
    refusal = wait(lambda: answers(bot, "lin"))[0]
    assert STRANGER in refusal["text"] and refusal["response_type"] == "ephemeral"
    bot.settled()
    assert bot.asks()[0]["status"] == "open" and bot.fake.of("chat.update") == []
    assert count(bot.app, GoalChangeRow) == 0 and [c for c in bot.checkins() if c["code"] == "O1"] == []


def test_a_removed_boss_is_a_stranger_until_the_file_has_him_again(bot: Bot) -> None:
    """The boss dropped from the file cannot decline; re-imported, the same click decides the ask."""
    bot.command(user=CHEN, text="update KR2 1.7% 需求：追加5000欧预算", trigger="t-ask")
    ask_id = bot.asks()[0]["id"]
    message = ask_message(bot, ask_id=ask_id)
    value = json.dumps({"id": ask_id})
    reimport(bot.app, okr_file_without(person="boss", heir="lin"))
    bot.click(user=BOSS, action_id=slack_blocks.DECLINE, value=value, message=message, name="removed")
    assert STRANGER in wait(lambda: answers(bot, "removed"))[0]["text"]
    assert bot.asks()[0]["status"] == "open"
    reimport(bot.app, EXAMPLE_ZH.read_text(encoding="utf-8"))
    bot.click(user=BOSS, action_id=slack_blocks.DECLINE, value=value, message=message, name="back", trigger="t2")
    wait(lambda: bot.fake.of("chat.update"))
    assert bot.asks()[0]["status"] == "declined"


def test_boss_approve_and_admin_decline_at_once_decide_once_and_tell_once(bot: Bot) -> None:
    """10 trials of two signed clicks at the same moment: one decision, one message update, one DM to the asker,
    and the loser privately told it was already decided."""
    for trial in range(TRIALS):
        bot.command(user=CHEN, text=f"update KR2 1.7% 需求：追加{5000 + trial}欧预算", trigger=f"t-ask-{trial}")
        ask_id = max(a["id"] for a in bot.asks())
        message = ask_message(bot, ask_id=ask_id)
        value = json.dumps({"id": ask_id})
        barrier = threading.Barrier(2)

        def click(user: str, action_id: str, name: str, *, message: dict[str, Any] = message, value: str = value,
                  barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            assert bot.click(user=user, action_id=action_id, value=value, message=message, name=name).status_code == 200

        threads = [
            threading.Thread(target=click, args=(BOSS, slack_blocks.APPROVE, f"boss-{trial}")),
            threading.Thread(target=click, args=(LIN, slack_blocks.DECLINE, f"lin-{trial}")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait(lambda ask_id=ask_id: [u for u in bot.fake.of("chat.update") if u.args["ts"] == f"1790000000.{ask_id:06d}"])
        loser = wait(lambda trial=trial: answers(bot, f"boss-{trial}") + answers(bot, f"lin-{trial}"))
        bot.settled()
        updates = [u for u in bot.fake.of("chat.update") if u.args["ts"] == f"1790000000.{ask_id:06d}"]
        told = [p for p in bot.fake.of("chat.postMessage")
                if p.args["channel"] == "D0CHEN0001" and f"#{ask_id}" in p.args["text"]]
        assert (len(updates), len(told), len(loser)) == (1, 1, 1), (trial, len(updates), len(told), len(loser))
        status = next(a["status"] for a in bot.asks() if a["id"] == ask_id)
        assert status in ("approved", "declined")
        assert "已由" in loser[0]["text"] and loser[0]["response_type"] == "ephemeral"


def test_a_replayed_click_decides_and_answers_once(bot: Bot) -> None:
    """The same signed click delivered twice (same action_ts): one update, one DM, no second answer."""
    bot.command(user=CHEN, text="update KR2 1.7% 需求：追加5000欧预算", trigger="t-ask")
    ask_id = bot.asks()[0]["id"]
    message = ask_message(bot, ask_id=ask_id)
    value = json.dumps({"id": ask_id})
    for _ in range(2):
        bot.click(user=BOSS, action_id=slack_blocks.APPROVE, value=value, message=message, name="boss")
    wait(lambda: bot.fake.of("chat.update"))
    bot.settled()
    told = [p for p in bot.fake.of("chat.postMessage") if p.args["channel"] == "D0CHEN0001"]
    assert (len(bot.fake.of("chat.update")), len(told), len(answers(bot, "boss"))) == (1, 1, 0)
