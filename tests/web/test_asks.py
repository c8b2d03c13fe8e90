"""`/asks` over the real server app on SQLite and PostgreSQL: open and decided asks; the boss or an admin decides with
an optional comment, once (the same decision the chat's buttons make: whoever comes second, web or Slack, is told
who decided); a member sees no button and a forged POST gets 403; the asker hears in chat — in zh and en."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot import services
from bot.app import App, web_routes
from bot.http import build_http_app
from bot.platforms import slack_blocks
from tests.conftest import EXAMPLE_EN, IMPORTED_AT
from tests.edges.test_once_slack import answers, ask_message, wait
from tests.edges.test_slack import LIN, Bot, served_bot
from tests.fakes.fake_slack import FROZEN_AT
from tests.fakes.web_client import NOW, browser, csrf_of, sign_in, with_key

CHEN_DM = "D0CHEN0001"


def ask(app: App, words: str = "追加5000欧预算", at: Any = NOW) -> int:
    """chen asks in a check-in, as in chat; the new ask's id."""
    services.run_command(uow=app.uow, person="chen", text=f"update KR2 1.7% 需求：{words}", at=at)
    return max(a["id"] for a in services.export_all(uow=app.uow, at=at)["asks"])


def stored(app: App, ask_id: int, at: Any = NOW) -> dict[str, Any]:
    """One ask as stored."""
    return next(a for a in services.export_all(uow=app.uow, at=at)["asks"] if a["id"] == ask_id)


def decide(client: TestClient, ask_id: int, decision: str, comment: str = "") -> str:
    """Press approve or decline on /asks (a plain form post), then read the page it goes back to."""
    page = client.get("/asks")
    done = client.post(f"/asks/{ask_id}/decision",
                       data={"csrf": csrf_of(page.text), "decision": decision, "comment": comment})
    assert (done.status_code, done.headers.get("location")) == (303, "/asks"), done.text
    return client.get("/asks").text


def said(html: str) -> str:
    """What the page says of the last decision pressed."""
    found = re.search(r'<p class="(?:echo|error)" role="status">([^<]+)</p>', html)
    assert found, "the page says nothing of the decision"
    return found.group(1)


def test_a_member_sees_no_button_and_a_forged_post_gets_403(example: App) -> None:
    """chen (a member) reads the asks but has no approve/decline; her hand-made POST is refused, nothing decided."""
    ask_id = ask(example)
    client = sign_in(browser(example), example, "chen")
    page = client.get("/asks")
    assert page.status_code == 200 and "追加5000欧预算" in page.text
    assert f"批准#{ask_id}" not in page.text and 'name="decision"' not in page.text
    assert "只有老板或管理员可以决定需求。" in page.text
    forged = client.post(f"/asks/{ask_id}/decision", data={"csrf": csrf_of(page.text), "decision": "approve"})
    assert forged.status_code == 403 and "只有老板或管理员可以批准或拒绝需求。" in forged.text
    assert stored(example, ask_id)["status"] == "open"


def test_the_boss_approves_with_a_comment_and_a_later_decline_is_told_who_decided(example: App) -> None:
    """The boss's approval (with words) is stored and shown; lin's decline after it decides nothing and names him."""
    ask_id = ask(example)
    boss = sign_in(browser(example), example, "boss")
    page = decide(boss, ask_id, "approve", comment="黑五当周先投，11月底复盘")
    assert said(page) == f"需求#{ask_id}“追加5000欧预算”已由王总批准"
    decided = page.split('id="decided"', 1)[1]
    assert "已决定（1）" in page and "王总于" in decided and "<blockquote>黑五当周先投，11月底复盘</blockquote>" in decided
    assert f"批准#{ask_id}" not in page  # no button on a decided ask
    lin = sign_in(browser(example), example, "lin")
    late = decide(lin, ask_id, "decline")
    assert said(late) == f"需求#{ask_id}已由王总批准——你的决定未被记录"
    assert (stored(example, ask_id)["status"], stored(example, ask_id)["decided_by"]) == ("approved", "boss")


def test_the_same_form_sent_twice_decides_once(example: App) -> None:
    """A double click (one page's form twice): one decision; the second press is answered as a repeat."""
    ask_id = ask(example)
    boss = sign_in(browser(example), example, "boss")
    page = boss.get("/asks").text
    once = re.search(rf'name="once" value="([^"]+-{ask_id})"', page).group(1)
    data = {"csrf": csrf_of(page), "decision": "approve", "once": once}
    assert boss.post(f"/asks/{ask_id}/decision", data=data).status_code == 303
    assert said(boss.get("/asks").text).endswith("已由王总批准")
    assert boss.post(f"/asks/{ask_id}/decision", data={**data, "decision": "decline"}).status_code == 303
    assert "重复的请求" in said(boss.get("/asks").text)
    assert stored(example, ask_id)["status"] == "approved"


def test_a_decision_needs_the_csrf_token_and_a_known_choice(example: App) -> None:
    """No token: 403. A decision that is neither approve nor decline: 400 saying what works. Nothing decided."""
    ask_id = ask(example)
    boss = sign_in(browser(example), example, "boss")
    page = boss.get("/asks")
    assert boss.post(f"/asks/{ask_id}/decision", data={"decision": "approve"}).status_code == 403
    odd = boss.post(f"/asks/{ask_id}/decision", data={"csrf": csrf_of(page.text), "decision": "maybe"})
    assert odd.status_code == 400 and "决定只能是批准或拒绝。" in odd.text
    long = boss.post(f"/asks/{ask_id}/decision",
                     data={"csrf": csrf_of(page.text), "decision": "approve", "comment": "长" * 1001})
    assert long.status_code == 400 and "最多写1000个字符" in long.text
    assert stored(example, ask_id)["status"] == "open"


@pytest.fixture
def example_en(app: App) -> App:
    """The English example workspace."""
    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename=str(EXAMPLE_EN),
                         at=IMPORTED_AT)
    return app


def test_asks_in_english(example_en: App) -> None:
    """The English workspace: the member's page, the boss's decline and the late admin's answer in English."""
    services.run_command(uow=example_en.uow, person="chen", text="update KR2 1.7% ask: 2 more people", at=NOW)
    ask_id = max(a["id"] for a in services.export_all(uow=example_en.uow, at=NOW)["asks"])
    member = sign_in(browser(example_en), example_en, "chen").get("/asks").text
    assert "Only the boss or an admin decides asks." in member and "Open (1)" in member and "people · 2" in member
    boss = sign_in(browser(example_en), example_en, "boss")
    page = decide(boss, ask_id, "decline", comment="not this quarter")
    assert said(page) == f"ask #{ask_id} “2 more people” declined by Mr. Wang"
    assert "Decided (1)" in page and "not this quarter" in page
    late = decide(sign_in(browser(example_en), example_en, "lin"), ask_id, "approve")
    assert said(late) == f"ask #{ask_id} was already declined by Mr. Wang — your decision was not recorded"


# ---------------------------------------------------------------- the web and Slack's buttons on one ask


@pytest.fixture
def bot(example: App) -> Iterator[Bot]:
    """The Slack bot served on the example OKRs, talking to a fake Slack."""
    with served_bot(example=example) as served:
        yield served


def web_beside(bot: Bot) -> TestClient:
    """The web pages on the same database, telling what they decide through the Slack platform's outbox."""
    routes = web_routes(app=with_key(bot.app), clock=lambda: FROZEN_AT, platforms=[bot.platform])
    return TestClient(build_http_app(routes=routes, health=lambda: {"ok": True}), raise_server_exceptions=False,
                      follow_redirects=False)


def told_chen(bot: Bot, ask_id: int) -> list[str]:
    """The DMs chen got about one ask."""
    return [p.args["text"] for p in bot.fake.of("chat.postMessage")
            if p.args["channel"] == CHEN_DM and f"#{ask_id}" in p.args["text"]]


def test_a_web_decision_is_told_to_the_asker_in_chat_with_its_comment(bot: Bot) -> None:
    """The boss approves on the web: chen gets one DM naming him and his words."""
    ask_id = ask(bot.app, at=FROZEN_AT)
    boss = sign_in(web_beside(bot), bot.app, "boss")
    decide(boss, ask_id, "approve", comment="先投黑五")
    dm = wait(lambda: told_chen(bot, ask_id))
    assert len(dm) == 1 and "王总" in dm[0] and "先投黑五" in dm[0]


def test_slack_after_the_web_is_told_who_decided(bot: Bot) -> None:
    """The boss approved on the web; lin's Decline in the digest thread gets a private 'already approved by 王总'."""
    ask_id = ask(bot.app, at=FROZEN_AT)
    message = ask_message(bot, ask_id=ask_id)
    decide(sign_in(web_beside(bot), bot.app, "boss"), ask_id, "approve")
    bot.click(user=LIN, action_id=slack_blocks.DECLINE, value=json.dumps({"id": ask_id}), message=message, name="lin")
    answer = wait(lambda: answers(bot, "lin"))[0]
    assert answer["response_type"] == "ephemeral" and "王总" in answer["text"] and "未被记录" in answer["text"]
    assert stored(bot.app, ask_id, at=FROZEN_AT)["status"] == "approved"


def test_web_and_slack_at_once_decide_once_and_the_loser_is_told(bot: Bot) -> None:
    """5 trials: the boss approves on the web while lin clicks Decline in Slack at the same moment — one decision,
    the asker told once, and whoever came second told who decided."""
    web = sign_in(web_beside(bot), bot.app, "boss")
    for trial in range(5):
        ask_id = ask(bot.app, words=f"追加{5000 + trial}欧预算", at=FROZEN_AT)
        message = ask_message(bot, ask_id=ask_id)
        token = csrf_of(web.get("/asks").text)
        barrier = threading.Barrier(2)
        results: dict[str, Any] = {}

        def on_web(ask_id: int = ask_id, barrier: threading.Barrier = barrier, results: dict[str, Any] = results,
                   token: str = token) -> None:
            barrier.wait()
            results["web"] = web.post(f"/asks/{ask_id}/decision", data={"csrf": token, "decision": "approve"})

        def on_slack(ask_id: int = ask_id, message: dict[str, Any] = message, barrier: threading.Barrier = barrier,
                     trial: int = trial, results: dict[str, Any] = results) -> None:
            barrier.wait()
            results["slack"] = bot.click(user=LIN, action_id=slack_blocks.DECLINE, value=json.dumps({"id": ask_id}),
                                         message=message, name=f"lin-{trial}")

        threads = [threading.Thread(target=on_web), threading.Thread(target=on_slack)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results["web"].status_code == 303 and results["slack"].status_code == 200
        final = stored(bot.app, ask_id, at=FROZEN_AT)
        web_said = said(web.get("/asks").text)
        if final["status"] == "approved":  # the web won: Slack's click is told privately
            assert final["decided_by"] == "boss" and web_said.endswith("已由王总批准")
            loser = wait(lambda trial=trial: answers(bot, f"lin-{trial}"))[0]
            assert "王总" in loser["text"] and "未被记录" in loser["text"]
        else:  # Slack won: the web page says so
            assert (final["status"], final["decided_by"]) == ("declined", "lin")
            assert web_said == f"需求#{ask_id}已由林雪拒绝——你的决定未被记录"
        dm = wait(lambda ask_id=ask_id: told_chen(bot, ask_id))
        assert len(dm) == 1, (trial, dm)
