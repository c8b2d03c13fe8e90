"""Slack end to end: the real Bolt app behind uvicorn, signed requests over HTTP, the real WebClient against a fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import yaml
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import text

from bot import services
from bot.app import App
from bot.charts import chart_font_path
from bot.config import Settings
from bot.core.errors import KrbotError
from bot.http import build_http_app
from bot.platforms import slack, slack_blocks, slack_client
from bot.platforms.base import Reminder
from tests.conftest import ROOT
from tests.fakes.fake_slack import (
    BOT_TOKEN,
    FROZEN_AT,
    SIGNING_SECRET,
    FakeSlack,
    Served,
    SlackSender,
    command_body,
    frozen_now,
    serve,
)

NOW = FROZEN_AT
BOSS, LIN, ZHAO, CHEN, SUN = "U0BOSS0001", "U0LIN00001", "U0ZHAO0001", "U0CHEN0001", "U0SUN00001"
BOSS_CHANNEL = "C0BOSSDIGEST"


def valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Every block passes slack_sdk's own Block Kit model validation, within a message's 50 blocks."""
    assert len(blocks) <= slack_blocks.MAX_BLOCKS
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= slack_blocks.MAX_SECTION


def valid_view(view: dict[str, Any]) -> None:
    """A modal or Home view passes slack_sdk's View validation."""
    View(**view).validate_json()


def submission(*, user: str, view: dict[str, Any], values: dict[str, str], view_id: str = "V0FORM0001",
               hash_: str = "1790000000.abc") -> dict[str, Any]:
    """A view_submission payload of a modal the bot built, with text typed into the inputs named by block id."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        typed = values.get(block["block_id"])
        if element["type"] == "static_select":
            chosen = next((o for o in element["options"] if o["value"] == typed), None)
            state[block["block_id"]] = {"v": {"type": "static_select", "selected_option": chosen}}
        else:
            state[block["block_id"]] = {"v": {"type": "plain_text_input", "value": typed}}
    return {
        "type": "view_submission",
        "team": {"id": "T0KRBOT001", "domain": "krbot"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0KRBOT001"},
        "api_app_id": "A0KRBOT001",
        "token": "deprecated",
        "trigger_id": "trigger-submit",
        "view": {**view, "id": view_id, "team_id": "T0KRBOT001", "state": {"values": state}, "hash": hash_,
                 "root_view_id": view_id, "app_id": "A0KRBOT001", "bot_id": "B0KRBOT001"},
        "response_urls": [],
    }


def click_payload(*, user: str, action_id: str, value: str, response_url: str, message: dict[str, Any] | None = None,
                  channel: str = BOSS_CHANNEL, trigger: str = "trigger-click", view: dict[str, Any] | None = None,
                  selected: str | None = None) -> dict[str, Any]:
    """A block_actions payload: a click on a button (or an option picked) the bot posted."""
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "type": "button", "value": value, "action_ts": "1"}
    if selected is not None:
        action = {"action_id": action_id, "block_id": "pick", "type": "static_select",
                  "selected_option": {"text": {"type": "plain_text", "text": selected}, "value": selected}, "action_ts": "1"}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0KRBOT001"},
        "api_app_id": "A0KRBOT001",
        "token": "deprecated",
        "trigger_id": trigger,
        "team": {"id": "T0KRBOT001", "domain": "krbot"},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:
        payload["container"] = {"type": "message", "message_ts": message["ts"], "channel_id": channel}
        payload["channel"] = {"id": channel, "name": "boss"}
        payload["message"] = {"type": "message", "ts": message["ts"], "text": message.get("text", ""),
                              "blocks": message["blocks"]}
    if view is not None:
        payload["container"] = {"type": "view", "view_id": "V0FORM0001"}
        payload["view"] = {**view, "id": "V0FORM0001", "hash": "h1", "state": {"values": {}}}
    return payload


@dataclass
class Bot:
    """The served bot, its fake Slack and a signed sender."""

    app: App
    platform: slack.SlackPlatform
    fake: FakeSlack
    served: Served
    slack: SlackSender

    def settled(self) -> None:
        """Wait until every follow-up under way (answers, notices, DMs) has ended: what has not happened then was never
        started, so the test may assert it did not happen (instead of sleeping and hoping)."""
        assert self.platform.drain(timeout=20), "follow-ups still running 20 s on"

    def checkins(self) -> list[dict[str, Any]]:
        """Every stored check-in value."""
        return services.export_all(uow=self.app.uow, at=NOW)["checkins"]

    def asks(self) -> list[dict[str, Any]]:
        """Every stored ask."""
        return services.export_all(uow=self.app.uow, at=NOW)["asks"]

    def command(self, *, user: str, text: str, trigger: str) -> dict[str, Any]:
        """Send `/kr text` and return the private answer: the ack's own body (stored before it was sent)."""
        answer = self.slack.command(user_id=user, text=text, response_url=self.fake.response_url(name=trigger), trigger_id=trigger)
        assert answer.status_code == 200
        assert answer.content, f"an empty ack to /kr {text}"
        return answer.json()

    def submit(self, *, user: str, view: dict[str, Any], values: dict[str, str], view_id: str = "V0FORM0001",
               hash_: str = "1790000000.abc") -> httpx.Response:
        """Submit a modal the bot built, with text typed into the inputs named by block id."""
        return self.slack.interaction(payload=submission(user=user, view=view, values=values, view_id=view_id,
                                                         hash_=hash_))

    def click(self, *, user: str, action_id: str, value: str, message: dict[str, Any] | None = None,
              channel: str = BOSS_CHANNEL, trigger: str = "trigger-click", view: dict[str, Any] | None = None,
              selected: str | None = None, name: str = "click") -> httpx.Response:
        """Click a button (or pick an option) the bot posted, as a block_actions payload."""
        return self.slack.interaction(payload=click_payload(
            user=user, action_id=action_id, value=value, message=message, channel=channel, trigger=trigger, view=view,
            selected=selected, response_url=self.fake.response_url(name=name)))


def settings_for(fake: FakeSlack) -> Settings:
    """Settings as the environment would give them, pointing the Web API at the fake."""
    return Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
    )


@contextmanager
def served_bot(*, example: App, settings: Callable[[FakeSlack], Settings] | None = None) -> Iterator[Bot]:
    """krbot's HTTP server with the Slack routes, on the example OKRs, talking to a fake Slack; everything stopped after."""
    fake = FakeSlack().start()
    platform = slack.build(settings=(settings or settings_for)(fake), uow=example.uow, http=True, clock=frozen_now)
    platform.start()
    served = serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": platform.healthy()}))
    sender = SlackSender(url=served.url)
    try:
        yield Bot(app=example, platform=platform, fake=fake, served=served, slack=sender)
    finally:
        sender.client.close()
        served.stop()
        platform.stop()
        fake.stop()


@pytest.fixture
def bot(example: App) -> Iterator[Bot]:
    """The served bot as `krbot run --http` serves it."""
    with served_bot(example=example) as served:
        yield served


# ---------------------------------------------------------------- signatures


def test_forged_and_stale_requests_get_401_and_change_nothing(bot: Bot) -> None:
    url = bot.fake.response_url(name="forged")
    forged = bot.slack.command(user_id=CHEN, text="update KR2 1.8%", response_url=url, trigger_id="t1", secret="not-the-secret")
    stale = bot.slack.command(user_id=CHEN, text="update KR2 1.8%", response_url=url, trigger_id="t2",
                              timestamp=int(time.time()) - 6 * 60)
    unsigned = bot.slack.client.post(bot.served.url + "/slack/events", content=b"text=update+KR2+1.8%25&user_id=U0CHEN0001")
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    bot.settled()
    assert bot.checkins() == []
    assert bot.fake.of("response_url") == []


# ---------------------------------------------------------------- slash commands


def test_update_by_command_is_stored_and_answered_privately(bot: Bot) -> None:
    started = time.monotonic()
    answer = bot.command(user=CHEN, text="update KR2 1.8% note: 素材更新后转化回升", trigger="t-upd")
    assert time.monotonic() - started < 3
    assert answer["response_type"] == "ephemeral"
    assert "KR2" in answer["text"] and "1.8%" in answer["text"]
    valid_blocks(answer["blocks"])
    stored = bot.checkins()
    assert [(c["code"], c["measure"], c["value"], c["person"]) for c in stored] == [("KR2", "新客转化率", 1.8, "chen")]


def test_refusals_are_private_say_what_would_work_and_store_nothing(bot: Bot) -> None:
    not_owner = bot.command(user=CHEN, text="update KR3 100件", trigger="t-r1")["text"]
    assert "KR3" in not_owner and "孙浩" in not_owner
    bad_value = bot.command(user=CHEN, text="update KR2 abc", trigger="t-r2")["text"]
    assert "新客转化率" in bad_value
    unknown = bot.command(user=CHEN, text="update KR9 1.8%", trigger="t-r3")["text"]
    assert "KR9" in unknown and "KR2" in unknown  # names the codes that would work
    change = bot.command(user=CHEN, text="change KR2 target=2.2% reason: 市场变化", trigger="t-r4")["text"]
    assert "林雪" in change  # only the accountable (or an admin) may change it
    stranger = bot.command(user="U0NOBODY01", text="update KR2 1.8%", trigger="t-r5")["text"]
    assert "U0NOBODY01" in stranger
    assert bot.checkins() == []
    assert services.export_all(uow=bot.app.uow, at=NOW)["changes"] == []
    allowed = bot.command(user=LIN, text="change KR2 target=2.2% reason: 市场变化", trigger="t-r6")["text"]
    assert "2.2%" in allowed
    assert len(services.export_all(uow=bot.app.uow, at=NOW)["changes"]) == 1
    told = bot.fake.wait_for("chat.postMessage")[0].args  # the owner hears of the change by DM
    assert told["channel"] == "D0CHEN0001" and "KR2" in told["text"]


def test_every_chat_command_answers_privately_within_block_limits(bot: Bot) -> None:
    expected = {
        "help": "/kr update", "": "/kr update", "list": "KR4", "status": "O1", "status KR2": "KR2", "report": "O1",
        "paths": "P3", "matrix": "KR3", "plan KR3": "海运到港并清关", "away 2026-12-20..2027-01-03": "12",
    }
    for n, (command, needle) in enumerate(expected.items()):
        answer = bot.command(user=CHEN, text=command, trigger=f"t-all{n}")
        assert answer["response_type"] == "ephemeral", command
        assert needle in answer["text"], (command, answer["text"][:200])
        valid_blocks(answer["blocks"])


def test_user_text_is_shown_never_pinging(bot: Bot) -> None:
    note = "<!channel> <@U0BOSS0001> <!here> @channel & <https://evil.example|click> >"
    answer = bot.command(user=CHEN, text=f"update KR2 1.8% note: {note}", trigger="t-esc")
    for shown in (answer["text"], json.dumps(answer["blocks"], ensure_ascii=False)):
        assert "<!channel>" not in shown and "<@U0BOSS0001>" not in shown and "<https://" not in shown
        assert "@channel" not in shown.replace("@\u200bchannel", "")
    echoed = bot.command(user=CHEN, text="update <!channel> & <@U0BOSS0001>", trigger="t-esc2")["text"]
    assert "&lt;!channel&gt;" in echoed and "<!channel>" not in echoed and "<@U0BOSS0001>" not in echoed
    digest = services.compose(uow=bot.app.uow, as_of=NOW)
    main, thread = slack_blocks.digest_messages(digest=digest)
    posted = json.dumps([main, *thread], ensure_ascii=False)
    assert "&lt;!channel&gt;" in posted and "<!channel>" not in posted and "<@U0BOSS0001>" not in posted
    assert bot.checkins()[0]["note"] == note  # stored as typed; only its display is escaped


# ---------------------------------------------------------------- the check-in modal


def test_update_alone_opens_the_modal_and_a_submission_is_checked_then_stored_once(bot: Bot) -> None:
    response = bot.slack.command(user_id=CHEN, text="update", response_url=bot.fake.response_url(name="form"), trigger_id="t-form")
    assert response.status_code == 200
    opened = bot.fake.wait_for("views.open")[0].args
    assert opened["trigger_id"] == "t-form"
    view = opened["view"]
    valid_view(view)
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels[:2] == ["新客转化率（%）", "ACOS（%）"]  # one input per measure of KR2, with its unit
    hint = next(b for b in view["blocks"] if b.get("block_id") == "m0")["hint"]["text"]
    assert "1.5%" in hint and "2%" in hint  # current value and target
    assert {"confidence", "note", "risk", "next", "ask_text", "ask_kind", "ask_amount"} <= {b.get("block_id") for b in view["blocks"]}

    wrong = bot.submit(user=CHEN, view=view, values={"m0": "abc", "m1": "23%", "ask_kind": "money", "ask_amount": "lots",
                                                     "ask_text": "追加预算"})
    assert wrong.status_code == 200
    errors = wrong.json()
    assert errors["response_action"] == "errors"
    assert set(errors["errors"]) == {"m0", "ask_amount"} and "abc" in errors["errors"]["m0"]
    assert bot.checkins() == [] and bot.asks() == []

    values = {"m0": "1.9%", "m1": "23%", "confidence": "7", "note": "素材更新", "next": "扩大精准词",
              "ask_text": "追加广告预算", "ask_kind": "money", "ask_amount": "5000欧"}
    saved = bot.submit(user=CHEN, view=view, values=values)
    assert saved.json()["response_action"] == "update"
    valid_view(saved.json()["view"])
    again = bot.submit(user=CHEN, view=view, values=values)  # Slack delivering the same submission twice
    assert again.status_code == 200
    stored = bot.checkins()
    assert sorted((c["measure"], c["value"]) for c in stored) == [("ACOS", 23.0), ("新客转化率", 1.9)]
    assert {c["confidence"] for c in stored} == {7} and stored[0]["note"] == "素材更新" and stored[0]["next"] == "扩大精准词"
    assert [(a["kind"], a["amount"], a["unit"]) for a in bot.asks()] == [("money", 5000.0, "EUR")]
    only_ask = bot.submit(user=CHEN, view=view, view_id="V0FORM0002",
                          values={"ask_text": "剪辑师", "ask_kind": "people", "ask_amount": "2"})
    assert only_ask.json()["response_action"] == "update"
    assert [(a["kind"], a["amount"], a["unit"]) for a in bot.asks()][1:] == [("people", 2.0, "people")]
    # the owner's confidence is kept until changed: the next modal has 7 chosen already
    rows = services.list_krs(uow=bot.app.uow, person="chen", at=NOW).params["rows"]
    reopened = slack_blocks.checkin_view(rows=rows, code="KR2", lang="zh")
    valid_view(reopened)
    picker = next(b for b in reopened["blocks"] if b.get("block_id") == "confidence")["element"]
    assert picker["initial_option"]["value"] == "7" and [o["value"] for o in picker["options"]][0] == "0"


def test_modal_for_someone_elses_kr_is_refused_on_the_form(bot: Bot) -> None:
    rows = services.list_krs(uow=bot.app.uow, person="chen", at=NOW).params["rows"]
    view = slack_blocks.checkin_view(rows=rows, code="KR2", lang="zh")
    refused = bot.submit(user=ZHAO, view=view, values={"m0": "1.9%"})
    assert refused.json()["response_action"] == "errors"
    assert "陈静" in refused.json()["errors"]["m0"]
    assert bot.checkins() == []


def test_reminder_button_and_picker_open_the_modal_on_that_kr(bot: Bot) -> None:
    rows = services.list_krs(uow=bot.app.uow, person="chen", at=NOW).params["rows"]
    person = services.person_of(uow=bot.app.uow, key="chen", at=NOW)
    assert person is not None
    sent = bot.platform.send_reminder(reminder=Reminder(workspace="欧洲事业部", lang="zh", person=person, rows=rows),
                                      idempotency_key="remind:chen:2026-W47")
    assert bot.fake.of("conversations.open")[0].args["users"] == CHEN
    message = bot.fake.of("chat.postMessage")[0].args
    assert message["channel"] == "D0CHEN0001" and sent.message_id
    valid_blocks(message["blocks"])
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == ["KR2", "KR4"]

    assert bot.click(user=CHEN, action_id=buttons[1]["action_id"], value="KR4", trigger="t-remind").status_code == 200
    view = bot.fake.wait_for("views.open")[0].args["view"]
    valid_view(view)
    assert json.loads(view["private_metadata"])["code"] == "KR4"
    assert bot.click(user=CHEN, action_id=slack_blocks.PICK_KR, value="", view=view, selected="KR2").status_code == 200
    updated = bot.fake.wait_for("views.update")[0].args
    assert updated["view_id"] == "V0FORM0001" and json.loads(updated["view"]["private_metadata"])["code"] == "KR2"
    valid_view(updated["view"])


# ---------------------------------------------------------------- the digest and its asks


def test_digest_in_the_boss_channel_and_asks_decided_by_button(bot: Bot) -> None:
    bot.command(user=CHEN, text="update KR2 1.7% 需求：追加5000欧预算 下一步：扩大精准词", trigger="t-ask")
    ask_id = bot.asks()[0]["id"]
    digest = services.compose(uow=bot.app.uow, as_of=NOW)
    sent = bot.platform.post_digest(digest=digest, channel=BOSS_CHANNEL, idempotency_key="digest:2026-W47")
    posts = bot.fake.of("chat.postMessage")
    main, thread = posts[0].args, posts[1:]
    assert main["channel"] == BOSS_CHANNEL and "thread_ts" not in main and main["text"]
    assert thread and all(p.args["thread_ts"] == sent.message_id for p in thread)
    assert "O1" in main["text"] and "截至" in main["text"]  # the conclusion is the channel message
    for post in posts:
        valid_blocks(post.args["blocks"])
        assert post.args["text"].strip()
    holder = next(p for p in thread if slack_blocks.ask_block_id(ask_id=ask_id) in json.dumps(p.args["blocks"]))
    message = {"ts": "1790000000.000002", "blocks": holder.args["blocks"], "text": holder.args["text"]}
    value = json.dumps({"id": ask_id})

    bot.click(user=CHEN, action_id=slack_blocks.APPROVE, value=value, message=message, name="member")
    refusal = bot.fake.wait_for("response_url")[-1].args
    assert refusal["name"] == "member" and refusal["response_type"] == "ephemeral" and not refusal.get("replace_original")
    assert bot.asks()[0]["status"] == "open" and bot.fake.of("chat.update") == []

    bot.click(user=BOSS, action_id=slack_blocks.DECLINE, value=value, message=message, name="boss")
    update = bot.fake.wait_for("chat.update")[0].args
    assert update["channel"] == BOSS_CHANNEL and update["ts"] == message["ts"]
    valid_blocks(update["blocks"])
    decision = next(b for b in update["blocks"] if b.get("block_id") == slack_blocks.ask_block_id(ask_id=ask_id))
    assert decision["type"] == "context" and "王总" in decision["elements"][0]["text"]
    assert bot.asks()[0]["status"] == "declined"
    dm = bot.fake.wait_for("chat.postMessage", count=len(posts) + 1)[-1].args  # the asker is told by DM
    assert dm["channel"] == "D0CHEN0001" and f"#{ask_id}" in dm["text"]
    valid_blocks(dm["blocks"])
    assert bot.fake.of("conversations.open")[-1].args["users"] == CHEN


# ---------------------------------------------------------------- events


def test_duplicate_event_delivery_stores_once_and_answers_once(bot: Bot) -> None:
    event = {"type": "message", "channel_type": "im", "channel": "D0CHEN0001", "user": CHEN,
             "text": "update KR2 1.9%", "ts": "1790000000.000100"}
    first = bot.slack.event(event=event, event_id="Ev0DUPLICATE1")
    retry = bot.slack.event(event=event, event_id="Ev0DUPLICATE1", headers={"X-Slack-Retry-Num": "1",
                                                                           "X-Slack-Retry-Reason": "http_timeout"})
    assert (first.status_code, retry.status_code) == (200, 200)
    bot.fake.wait_for("chat.postMessage")
    bot.settled()
    assert len(bot.fake.of("chat.postMessage")) == 1
    assert [c["value"] for c in bot.checkins()] == [1.9]


def test_an_event_the_database_cannot_take_gets_a_non_2xx_and_its_retry_is_stored(bot: Bot) -> None:
    event = {"type": "message", "channel_type": "im", "channel": "D0CHEN0001", "user": CHEN,
             "text": "/kr update KR2 1.6%", "ts": "1790000000.000200"}
    with bot.app.uow.engine.begin() as connection:
        connection.execute(text("ALTER TABLE checkin_values RENAME TO checkin_values_away"))
    try:
        failed = bot.slack.event(event=event, event_id="Ev0DBDOWN001")
    finally:
        with bot.app.uow.engine.begin() as connection:
            connection.execute(text("ALTER TABLE checkin_values_away RENAME TO checkin_values"))
    assert failed.status_code >= 500
    bot.settled()
    assert bot.checkins() == [] and bot.fake.of("chat.postMessage") == []
    retried = bot.slack.event(event=event, event_id="Ev0DBDOWN001", headers={"X-Slack-Retry-Num": "1"})
    assert retried.status_code == 200
    bot.fake.wait_for("chat.postMessage")
    assert [c["value"] for c in bot.checkins()] == [1.6]


def test_app_home_shows_krs_with_bars_and_the_boss_sees_objectives(bot: Bot) -> None:
    bot.command(user=CHEN, text="update KR2 1.75%", trigger="t-home")
    bot.slack.event(event={"type": "app_home_opened", "user": CHEN, "channel": "D0CHEN0001", "tab": "home"}, event_id="Ev0HOME0001")
    home = bot.fake.wait_for("views.publish")[0].args
    assert home["user_id"] == CHEN
    valid_view(home["view"])
    text = json.dumps(home["view"], ensure_ascii=False)
    assert "KR2" in text and "KR4" in text and "█" in text and "50%" in text and "11月19日" in text
    assert "O1" not in text.split("KR2")[0]
    button = next(e for b in home["view"]["blocks"] if b["type"] == "actions" for e in b["elements"])
    bot.click(user=CHEN, action_id=button["action_id"], value=button["value"], trigger="t-home-form")
    opened = bot.fake.wait_for("views.open")[0].args
    assert opened["trigger_id"] == "t-home-form" and json.loads(opened["view"]["private_metadata"])["code"] == "KR2"
    bot.slack.event(event={"type": "app_home_opened", "user": BOSS, "channel": "D0BOSS0001", "tab": "home"}, event_id="Ev0HOME0002")
    boss = bot.fake.wait_for("views.publish", count=2)[1].args
    valid_view(boss["view"])
    assert "截至" in json.dumps(boss["view"], ensure_ascii=False)


# ---------------------------------------------------------------- rate limits


def test_429_retry_after_is_honoured_by_sends_and_inside_listeners(bot: Bot) -> None:
    person = services.person_of(uow=bot.app.uow, key="chen", at=NOW)
    assert person is not None
    from bot.metrics import PLATFORM_RETRIES

    retries = PLATFORM_RETRIES.labels(platform="slack")._value.get()
    bot.fake.throttle(method="chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    bot.platform.notify(person=person, text="hello <!channel>", idempotency_key="n1")
    assert time.monotonic() - started >= 1
    assert PLATFORM_RETRIES.labels(platform="slack")._value.get() - retries == 1  # counted for /metrics
    assert [c.status for c in bot.fake.calls if c.method == "chat.postMessage"] == [429, 200]
    assert "&lt;!channel&gt;" in bot.fake.of("chat.postMessage")[0].args["text"]

    bot.fake.throttle(method="views.open", times=1, retry_after=1)
    bot.slack.command(user_id=CHEN, text="update", response_url=bot.fake.response_url(name="x"), trigger_id="t-429")
    bot.fake.wait_for("views.open")
    assert [c.status for c in bot.fake.calls if c.method == "views.open"] == [429, 200]


def test_build_needs_the_secret_for_http_and_the_app_token_for_socket_mode(example: App) -> None:
    with pytest.raises(KrbotError) as http_error:
        slack.build(settings=Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN), uow=example.uow, http=True)
    assert http_error.value.key == "slack.no_signing_secret"
    with pytest.raises(KrbotError) as socket_error:
        slack.build(settings=Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN), uow=example.uow, http=False)
    assert socket_error.value.key == "slack.no_app_token"
    platform = slack.build(settings=Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1"),
                           uow=example.uow, http=False)
    assert platform.routes() == [] and not platform.healthy()
    assert all(isinstance(h, object) for h in platform.client.retry_handlers)

    assert [type(h) for h in platform.client.retry_handlers] == [slack_client.SharedPolicy]  # krbot's one retry policy


def test_the_manifest_declares_what_the_listeners_need() -> None:
    manifest = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text(encoding="utf-8"))
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/kr"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "im:write", "im:history", "files:write",
                                                               "channels:history", "groups:history"}
    assert set(slack.BOT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])  # what an install asks for
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_home_opened", "message.im"}
    assert manifest["settings"]["interactivity"]["is_enabled"] and manifest["features"]["app_home"]["home_tab_enabled"]
    kinds = {(kind, matcher) for kind, matcher, _ack, _lazy, _matchers in slack.SlackPlatform.listeners(_Stub())}  # type: ignore[arg-type]
    assert {("command", "/kr"), ("event", "app_home_opened"), ("event", "message")} <= kinds


class _Stub:
    """Enough of a platform to read its listeners table."""

    def __getattr__(self, name: str) -> Any:
        return name


def test_socket_mode_answers_the_same_command_over_the_websocket(example: App) -> None:
    fake = FakeSlack().start()
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-fake-app-token", SLACK_API_URL=fake.api_url)
    platform = slack.build(settings=settings, uow=example.uow, http=False, clock=lambda: NOW)
    try:
        platform.start()
        deadline = time.monotonic() + 10
        while not (fake.sockets and platform.healthy()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert platform.healthy()
        form = dict(parse_qsl(command_body(user_id=CHEN, text="update KR2 1.85%", response_url=fake.response_url(name="socket"),
                                           trigger_id="t-socket")))
        fake.push(envelope={"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True, "payload": form})
        acked = fake.wait_for("socket_ack")[0].args
        assert acked["envelope_id"] == "env-1"
        answer = acked["payload"]  # the answer rides on the ack, sent after the check-in was stored
        assert answer["response_type"] == "ephemeral" and "KR2" in answer["text"]
        assert [c["value"] for c in services.export_all(uow=example.uow, at=NOW)["checkins"]] == [1.85]
    finally:
        platform.stop()
        fake.stop()
    assert not platform.healthy()


@pytest.mark.skipif(chart_font_path() is None, reason="no CJK-capable font here (.ci/run installs fonts-wqy-microhei)")
def test_matrix_chart_arrives_as_a_png_in_the_dm(bot: Bot) -> None:
    """`/kr matrix` answers privately in text and uploads the chart to the asker's DM (files_upload_v2)."""
    answer = bot.command(user=CHEN, text="matrix", trigger="t-matrix")
    assert "KR3" in answer["text"]
    completed = bot.fake.wait_for("files.completeUploadExternal")[0]
    assert completed.args["channel_id"] == "D0CHEN0001"
    (uploaded,) = bot.fake.uploads.values()
    assert uploaded.startswith(b"\x89PNG")
