"""Feishu end to end: signed, encrypted pushes over real HTTP into the bot, the real lark-oapi client out to a fake Open API."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from bot import services
from bot.app import App
from bot.charts import chart_font_path
from bot.config import Settings
from bot.core.errors import KrbotError
from bot.http import build_http_app
from bot.i18n import error_message
from bot.platforms import feishu
from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms
from tests.fakes import fake_feishu as ff

NOW = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)
BOSS, LIN, ZHAO, CHEN, SUN = "ou_boss0001", "ou_lin00001", "ou_zhao0001", "ou_chen0001", "ou_sun00001"
BOSS_CHAT = "oc_bossdigest0001"


class Clock:
    """A settable clock for the bot (the cycle of the example is 2026-Q4)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def settings_for(*, domain: str, encrypt_key: str | None = ff.ENCRYPT_KEY) -> Settings:
    """Feishu settings pointing at the fake Open API."""
    return Settings(
        _env_file=None,
        FEISHU_APP_ID=ff.APP_ID,
        FEISHU_APP_SECRET=ff.APP_SECRET,
        FEISHU_VERIFICATION_TOKEN=ff.VERIFICATION_TOKEN,
        FEISHU_ENCRYPT_KEY=encrypt_key,
        FEISHU_DOMAIN=domain,
    )


@pytest.fixture(scope="module")
def open_api() -> Iterator[ff.FakeFeishu]:
    fake = ff.FakeFeishu()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(open_api: ff.FakeFeishu) -> Iterator[ff.FakeFeishu]:
    """The fake Open API, emptied for this test; every card it received is checked against Feishu's limits."""
    with open_api.lock:
        open_api.calls.clear()
        open_api.messages.clear()
        open_api.failures.clear()
        open_api._by_uuid.clear()
    yield open_api
    for message in open_api.sent(kind=None):
        for content in [message["content"], *message["updates"]]:
            if message["msg_type"] == "interactive":
                assert_within_limits(json.loads(content))


def assert_within_limits(card: dict[str, Any]) -> None:
    """Feishu's card limits: 30 KB as sent, 200 components."""
    assert cards.card_bytes(card) <= cards.MAX_BYTES
    assert cards.component_count(card) <= cards.MAX_COMPONENTS
    assert card["schema"] == "2.0"


class Bot:
    """The Feishu platform served over real HTTP, and a way to push to it as Feishu does."""

    def __init__(self, *, platform: feishu.FeishuPlatform, url: str, clock: Clock, app: App) -> None:
        self.platform = platform
        self.url = url
        self.clock = clock
        self.app = app
        self.http = httpx.Client(base_url=url, timeout=10)
        self._n = 0

    def push(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        body, headers = ff.signed_push(payload=payload, **kwargs)
        return self.http.post("/feishu/events", content=body, headers=headers)

    def ids(self) -> tuple[str, str]:
        self._n += 1
        return f"ev_{self._n:04d}_{time.monotonic_ns()}", f"om_in_{self._n:04d}_{time.monotonic_ns()}"

    def say(self, open_id: str, text: str, **kwargs: Any) -> tuple[httpx.Response, str]:
        event_id, message_id = self.ids()
        answer = self.push(ff.message_event(text=text, open_id=open_id, event_id=event_id, message_id=message_id, **kwargs))
        return answer, message_id

    def click(self, open_id: str, value: dict[str, Any], form: dict[str, Any] | None = None) -> dict[str, Any]:
        event_id, _ = self.ids()
        answer = self.push(ff.card_action(open_id=open_id, value=value, event_id=event_id, form_value=form))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def settled(self) -> None:
        """Wait until the replies and notices under way have been sent: what has not happened then was never started,
        so the test may assert it did not happen (instead of sleeping and hoping)."""
        assert self.platform.drain(timeout=20), "sends still running 20 s on"

    def checkins(self) -> list[dict[str, Any]]:
        return services.export_all(uow=self.app.uow, at=self.clock.now)["checkins"]

    def asks(self) -> list[dict[str, Any]]:
        return services.export_all(uow=self.app.uow, at=self.clock.now)["asks"]


@pytest.fixture
def bot(example: App, fake: ff.FakeFeishu) -> Iterator[Bot]:
    clock = Clock()
    platform = feishu.build(
        settings=settings_for(domain=fake._served.url), uow=example.uow, http=True, clock=clock, backoff=0.01
    )
    served = ff.serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": platform.healthy()}))
    runner = Bot(platform=platform, url=served.url, clock=clock, app=example)
    yield runner
    runner.http.close()
    served.stop()
    platform.stop()


def replies_to(fake: ff.FakeFeishu, message_id: str) -> list[dict[str, Any]]:
    return [m for m in fake.sent(kind="reply") if m["reply_to"] == message_id]


def text_of(message: dict[str, Any]) -> str:
    return json.loads(message["content"])["text"]


# ---------------------------------------------------------------- the checks on every push


def test_url_verification_challenge_is_answered_and_checked(bot: Bot) -> None:
    """The URL check Feishu makes when the callback URL is saved: answered with the token, refused without."""
    challenge = {"challenge": "ch-123", "token": ff.VERIFICATION_TOKEN, "type": "url_verification"}
    answer = bot.push(challenge)
    assert answer.status_code == 200 and answer.json() == {"challenge": "ch-123"}
    assert bot.push({**challenge, "token": "wrong"}).status_code == 401
    assert bot.push(challenge, encrypt_key="not-the-key").status_code == 401


def test_pushes_failing_a_check_get_401_and_change_nothing(bot: Bot, fake: ff.FakeFeishu) -> None:
    """Bad signature, stale or future timestamp, wrong key, wrong token, plaintext or junk: 401, nothing stored."""
    event_id, message_id = bot.ids()
    event = ff.message_event(text="/kr update KR2 1.8%", open_id=CHEN, event_id=event_id, message_id=message_id)
    body, headers = ff.signed_push(payload=event)
    now = int(time.time())
    cases = {
        "signature": (body, {**headers, "X-Lark-Signature": "0" * 64}),
        "signed with another key": ff.signed_push(payload=event, sign_key="other"),
        "stale": ff.signed_push(payload=event, timestamp=now - 330),
        "future": ff.signed_push(payload=event, timestamp=now + 330),
        "no timestamp": (body, {k: v for k, v in headers.items() if k != "X-Lark-Request-Timestamp"}),
        "body changed": (body.replace(b'"}', b'" }'), headers),
        "wrong encrypt key": ff.signed_push(payload=event, encrypt_key="another-key", sign_key=ff.ENCRYPT_KEY),
        "wrong token": ff.signed_push(payload={**event, "header": {**event["header"], "token": "nope"}}),
        "plaintext": (json.dumps(event).encode(), headers),
        "junk": (b"\x00not json", headers),
        "encrypt not base64": (b'{"encrypt": "%%%"}', headers),
    }
    for name, (case_body, case_headers) in cases.items():
        answer = bot.http.post("/feishu/events", content=case_body, headers=case_headers)
        assert answer.status_code == 401, name
    bot.settled()
    assert bot.checkins() == []
    assert fake.sent() == []
    # the same event, properly sent, still goes through: nothing above claimed it
    assert bot.http.post("/feishu/events", content=body, headers=headers).status_code == 200
    fake.wait_for(lambda: len(bot.checkins()) == 1)


def test_http_mode_refuses_to_start_without_an_encrypt_key(example: App) -> None:
    """CONTRACT §8: Feishu HTTP mode needs an encrypt key; the message says where to set it."""
    with pytest.raises(KrbotError) as refused:
        feishu.build(settings=settings_for(domain="http://127.0.0.1:9", encrypt_key=None), uow=example.uow, http=True)
    assert refused.value.key == "feishu.no_encrypt_key"
    assert "FEISHU_ENCRYPT_KEY" in error_message(refused.value, lang="en")
    assert "FEISHU_ENCRYPT_KEY" in error_message(refused.value, lang="zh")
    assert "FEISHU_ENCRYPT_KEY" in str(refused.value)
    # the long connection needs none
    feishu.build(settings=settings_for(domain="http://127.0.0.1:9", encrypt_key=None), uow=example.uow, http=False)


# ---------------------------------------------------------------- commands in chat


def test_p2p_checkin_is_stored_once_and_answered_once_whatever_the_redeliveries(bot: Bot, fake: ff.FakeFeishu) -> None:
    """A retry (same event_id) and a ws re-delivery (new event_id, same message_id) neither store nor answer again."""
    event_id, message_id = bot.ids()
    event = ff.message_event(text="/kr update KR2 1.8% 备注：素材更新", open_id=CHEN, event_id=event_id, message_id=message_id)
    assert bot.push(event).status_code == 200
    assert bot.push(event).status_code == 200
    redelivered = {**event, "header": {**event["header"], "event_id": event_id + "-again"}}
    assert bot.push(redelivered).status_code == 200
    reply = fake.wait_for(lambda: replies_to(fake, message_id))[0]
    bot.settled()
    assert len(replies_to(fake, message_id)) == 1
    assert len([c for c in fake.calls if c.get("path", "").endswith(f"{message_id}/reply")]) == 1
    assert [(c["code"], c["value"], c["person"]) for c in bot.checkins()] == [("KR2", 1.8, "chen")]
    assert "已保存KR2" in text_of(reply)  # the workspace language: zh
    assert reply["reply_in_thread"] is False
    assert reply["uuid"] == feishu.message_uuid(key=f"reply:{message_id}:ok:0")


def test_group_needs_a_mention_which_is_stripped_and_the_reply_goes_in_thread(bot: Bot, fake: ff.FakeFeishu) -> None:
    """In a group the bot answers when mentioned (mention keys stripped), in the message's thread."""
    mention = [{"key": "@_user_1", "id": {"open_id": "ou_thebot"}, "name": "krbot"}]
    _, quiet = bot.say(CHEN, "/kr update KR2 1.9%", chat_type="group", chat_id="oc_team")
    answer, asked = bot.say(CHEN, "@_user_1 /kr update KR2 1.7%", chat_type="group", chat_id="oc_team", mentions=mention)
    assert answer.status_code == 200
    reply = fake.wait_for(lambda: replies_to(fake, asked))[0]
    assert reply["reply_in_thread"] is True
    assert "@_user_1" not in text_of(reply)
    assert replies_to(fake, quiet) == []
    assert [c["value"] for c in bot.checkins()] == [1.7]


def test_mention_markup_typed_by_users_stays_inert(bot: Bot, fake: ff.FakeFeishu) -> None:
    """`<at user_id="all">` typed in a note never pings: not in the reply, not in the digest card."""
    sneaky = '<at user_id="all">所有人</at> @all <at id=all></at>'
    bot.say(CHEN, f"/kr update KR2 1.8% 备注：{sneaky} 需求：追加5000欧预算 {sneaky}")
    _, status = bot.say(CHEN, "/kr status KR2")
    reply = fake.wait_for(lambda: replies_to(fake, status))[0]
    assert "<at" not in text_of(reply) and "@all" not in text_of(reply)
    bot.clock.now = NOW + timedelta(hours=1)
    digest = services.compose(uow=bot.app.uow, as_of=bot.clock.now)
    bot.platform.post_digest(digest=digest, channel=BOSS_CHAT, idempotency_key="digest:w43")
    for message in fake.sent(kind="create"):
        assert "<at" not in message["content"]
        assert "所有人" in message["content"]  # the words are kept, only the markup is inert


def test_strangers_are_told_who_to_ask(bot: Bot, fake: ff.FakeFeishu) -> None:
    """Someone krbot does not know gets a reply in the workspace language; nothing is stored."""
    _, message_id = bot.say("ou_stranger01", "/kr update KR2 1.8%")
    reply = fake.wait_for(lambda: replies_to(fake, message_id))[0]
    assert "open_id" in text_of(reply) and "管理员" in text_of(reply)
    assert bot.checkins() == []


def test_rate_limits_are_retried_and_post_once(bot: Bot, fake: ff.FakeFeishu) -> None:
    """Code 99991400 and HTTP 429 are retried with backoff under the same uuid; the reply is posted once."""
    fake.fail_next("busy", "http429")
    _, message_id = bot.say(CHEN, "/kr help")
    fake.wait_for(lambda: replies_to(fake, message_id))
    attempts = [c for c in fake.calls if c.get("path", "").endswith(f"{message_id}/reply")]
    assert len(attempts) == 3
    assert len({c["body"]["uuid"] for c in attempts}) == 1
    assert len(replies_to(fake, message_id)) == 1


def test_a_send_retried_by_the_caller_posts_once(bot: Bot, fake: ff.FakeFeishu, example: App) -> None:
    """The same idempotency key gives the same uuid: a notice or a digest sent twice shows once."""
    chen = services.person_of(uow=example.uow, key="chen", at=NOW)
    assert chen is not None
    first = bot.platform.notify(person=chen, text="hello", idempotency_key="n:1")
    again = bot.platform.notify(person=chen, text="hello", idempotency_key="n:1")
    assert first.message_id == again.message_id
    digest = services.compose(uow=example.uow, as_of=NOW)
    one = bot.platform.post_digest(digest=digest, channel=BOSS_CHAT, idempotency_key="digest:1")
    two = bot.platform.post_digest(digest=digest, channel=BOSS_CHAT, idempotency_key="digest:1")
    assert one.extra["message_ids"] == two.extra["message_ids"]
    assert len(fake.sent()) == 1 + len(one.extra["message_ids"])


def test_a_refused_rate_limit_after_all_retries_raises(bot: Bot, fake: ff.FakeFeishu, example: App) -> None:
    """When Feishu keeps refusing, the caller (the scheduler) hears of it and retries later."""
    chen = services.person_of(uow=example.uow, key="chen", at=NOW)
    assert chen is not None
    fake.fail_next(*["busy"] * 6)
    with pytest.raises(feishu.FeishuError):
        bot.platform.notify(person=chen, text="hello", idempotency_key="n:2")


# ---------------------------------------------------------------- the check-in card


def _form(card: dict[str, Any], code: str) -> dict[str, Any]:
    for index, element in enumerate(card["body"]["elements"]):
        if element.get("element_id") == f"k_{code}":
            return card["body"]["elements"][index + 1]
    raise AssertionError(f"no form for {code}")


def test_kr_update_and_the_menu_open_the_checkin_card(bot: Bot, fake: ff.FakeFeishu) -> None:
    """`/kr update` and the bot menu answer with a card: one input per measure (unit, current, target) and the notes."""
    _, message_id = bot.say(CHEN, "/kr update")
    reply = fake.wait_for(lambda: replies_to(fake, message_id))[0]
    assert reply["msg_type"] == "interactive"
    card = json.loads(reply["content"])
    form = _form(card, "KR2")
    assert form["tag"] == "form"
    labels = [e["label"]["content"] for e in form["elements"] if e["tag"] == "input"]
    assert labels[0].startswith("新客转化率（%）——当前") and "目标2%" in labels[0]
    inputs = [e["name"] for e in form["elements"] if e["tag"] == "input"]
    assert inputs == ["m0", "m1", "confidence", "note", "risk", "next", "ask"]
    assert _form(card, "KR4")
    event_id, _ = bot.ids()
    assert bot.push(ff.menu_event(open_id=CHEN, event_id=event_id)).status_code == 200
    assert bot.push(ff.menu_event(open_id=CHEN, event_id=event_id)).status_code == 200
    direct = fake.wait_for(lambda: [m for m in fake.sent(kind="create") if m["receive_id"] == CHEN])
    bot.settled()
    assert len([m for m in fake.sent(kind="create") if m["receive_id"] == CHEN]) == 1
    assert direct[0]["receive_id_type"] == "open_id" and direct[0]["msg_type"] == "interactive"


def test_checkin_form_shows_errors_on_the_fields_and_stores_only_when_valid(bot: Bot) -> None:
    """An unreadable value comes back on its field with a toast and nothing stored; a valid form stores once."""
    submit = {"a": "checkin", "code": "KR2", "measures": ["新客转化率", "ACOS"]}
    answer = bot.click(CHEN, submit, {"m0": "abc", "m1": "23%", "note": "素材更新"})
    assert answer["toast"]["type"] == "error"
    card = answer["card"]["data"]
    assert_within_limits(card)
    form = _form(card, "KR2")
    assert any(e["tag"] == "markdown" and "新客转化率" in e["content"] for e in form["elements"])
    assert next(e for e in form["elements"] if e.get("name") == "m0")["default_value"] == "abc"
    assert bot.checkins() == []
    event_id, _ = bot.ids()
    good = ff.card_action(open_id=CHEN, value=submit, event_id=event_id,
                          form_value={"m0": "1.8%", "m1": "23%", "note": "素材更新", "ask": "追加5000欧预算"})
    first = bot.push(good).json()
    again = bot.push(good).json()  # a re-pushed callback
    assert first["toast"]["type"] == "success" and "已保存KR2" in first["toast"]["content"]
    assert "已保存过" in again["toast"]["content"]
    assert_within_limits(first["card"]["data"])
    assert "✓" in json.dumps(first["card"]["data"], ensure_ascii=False)
    assert sorted((c["measure"], c["value"]) for c in bot.checkins()) == [("ACOS", 23.0), ("新客转化率", 1.8)]
    assert [(a["kind"], a["amount"]) for a in bot.asks()] == [("money", 5000.0)]


def test_checkin_card_stores_the_owners_confidence_and_keeps_it_until_changed(bot: Bot) -> None:
    """`有风险` in the confidence field is stored as 5 beside the values; an unreadable one comes back on its field with
    nothing stored; the next card has the last confidence filled in."""
    submit = {"a": "checkin", "code": "KR2", "measures": ["新客转化率", "ACOS"]}
    answer = bot.click(CHEN, submit, {"m0": "1.8%", "confidence": "很高"})
    assert answer["toast"]["type"] == "error" and "很高" in answer["toast"]["content"]
    form = _form(answer["card"]["data"], "KR2")
    assert any(e["tag"] == "markdown" and "不是信心值" in e["content"] for e in form["elements"])
    assert bot.checkins() == []
    saved = bot.click(CHEN, submit, {"m0": "1.8%", "confidence": "有风险"})
    assert saved["toast"]["type"] == "success" and "信心5/10" in saved["toast"]["content"]
    assert [(c["measure"], c["value"], c["confidence"]) for c in bot.checkins()] == [("新客转化率", 1.8, 5)]
    rows = services.list_krs(uow=bot.app.uow, person="chen", at=bot.clock.now).params["rows"]
    card = forms.checkin_cards(rows=rows, lang="en")[0]
    field = next(e for e in _form(card, "KR2")["elements"] if e.get("name") == "confidence")
    assert field["default_value"] == "5" and "on track / at risk / off track" in field["label"]["content"]


# ---------------------------------------------------------------- authorization, as for Slack


def test_only_the_owner_updates_by_text_or_by_form(bot: Bot, fake: ff.FakeFeishu) -> None:
    """zhao (a member, not KR2's owner) is refused by text and by card; chen (owner) is not."""
    _, by_text = bot.say(ZHAO, "/kr update KR2 1.8%")
    refusal = text_of(fake.wait_for(lambda: replies_to(fake, by_text))[0])
    assert "KR2是陈静负责的KR" in refusal
    answer = bot.click(ZHAO, {"a": "checkin", "code": "KR2", "measures": ["新客转化率", "ACOS"]}, {"m0": "1.8%"})
    assert answer["toast"]["type"] == "error" and "陈静" in answer["toast"]["content"]
    assert "card" not in answer
    assert bot.checkins() == []


def test_only_the_accountable_or_an_admin_changes_a_goal(bot: Bot, fake: ff.FakeFeishu) -> None:
    """chen (owner) may not change KR2's target; lin (accountable, admin) may, and chen is told."""
    _, by_owner = bot.say(CHEN, "/kr change KR2 target=2.2% reason: 旺季")
    assert "只有" in text_of(fake.wait_for(lambda: replies_to(fake, by_owner))[0])
    _, by_lin = bot.say(LIN, "/kr change KR2 target=2.2% 原因：旺季流量更大")
    assert "2.2%" in text_of(fake.wait_for(lambda: replies_to(fake, by_lin))[0])
    told = fake.wait_for(lambda: [m for m in fake.sent(kind="create") if m["receive_id"] == CHEN])
    assert "KR2" in text_of(told[0])


def _post_digest_with_asks(bot: Bot, fake: ff.FakeFeishu) -> tuple[list[dict[str, Any]], list[int]]:
    bot.say(CHEN, "/kr update KR2 1.8% 需求：追加5000欧预算；2名剪辑师")
    fake.wait_for(lambda: len(bot.asks()) == 2)
    bot.clock.now = NOW + timedelta(hours=1)
    digest = services.compose(uow=bot.app.uow, as_of=bot.clock.now)
    sent = bot.platform.post_digest(digest=digest, channel=BOSS_CHAT, idempotency_key="digest:w43")
    posted = [json.loads(fake.messages[i]["content"]) for i in sent.extra["message_ids"]]
    bot.clock.now = NOW + timedelta(hours=2)
    return posted, [a["id"] for a in bot.asks()]


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") == "button":
                found.append(node["behaviors"][0]["value"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def test_digest_card_conclusions_first_panels_and_ask_buttons(bot: Bot, fake: ff.FakeFeishu) -> None:
    """One interactive card in the boss chat: conclusions on top, folded panels, Approve/Decline per ask."""
    posted, ask_ids = _post_digest_with_asks(bot, fake)
    assert len(posted) == 1
    card = posted[0]
    message = next(iter(fake.sent(kind="create")))
    assert message["receive_id"] == BOSS_CHAT and message["receive_id_type"] == "chat_id"
    elements = card["body"]["elements"]
    assert elements[0]["content"] == "**结论**"
    assert elements[1]["content"].startswith("■ 截至10月20日")
    assert [e["tag"] for e in elements if e["tag"] == "collapsible_panel"] and all(
        not e["expanded"] for e in elements if e["tag"] == "collapsible_panel"
    )
    values = _buttons(card)
    assert sorted((v["id"], v["ok"]) for v in values) == sorted((i, ok) for i in ask_ids for ok in (True, False))


def test_only_the_boss_or_an_admin_decides_asks_from_the_card(bot: Bot, fake: ff.FakeFeishu) -> None:
    """Members (asker or owner alike) get a refusal toast; the boss approves, an admin declines; the asker is told."""
    posted, (money, people) = _post_digest_with_asks(bot, fake)
    approve = next(v for v in _buttons(posted[0]) if v["id"] == money and v["ok"])
    decline = next(v for v in _buttons(posted[0]) if v["id"] == people and not v["ok"])
    for member in (CHEN, ZHAO, SUN):
        refused = bot.click(member, approve)
        assert refused["toast"]["type"] == "error" and "只有老板或管理员" in refused["toast"]["content"]
        assert "card" not in refused
    assert {a["status"] for a in bot.asks()} == {"open"}
    decided = bot.click(BOSS, approve)
    assert decided["toast"]["type"] == "success"
    card = decided["card"]["data"]
    assert_within_limits(card)
    shown = json.dumps(card, ensure_ascii=False)
    assert "已由王总批准" in shown
    assert {v["id"] for v in _buttons(card)} == {people}  # the decided ask lost its buttons, the other kept them
    declined = bot.click(LIN, decline)
    assert "已由林雪拒绝" in json.dumps(declined["card"]["data"], ensure_ascii=False)
    assert "已由王总批准" in json.dumps(declined["card"]["data"], ensure_ascii=False)
    assert _buttons(declined["card"]["data"]) == []
    assert {a["id"]: a["status"] for a in bot.asks()} == {money: "approved", people: "declined"}
    told = fake.wait_for(lambda: len([m for m in fake.sent(kind="create") if m["receive_id"] == CHEN]) == 2 and
                         [m for m in fake.sent(kind="create") if m["receive_id"] == CHEN])
    assert {"批准" in text_of(m) or "拒绝" in text_of(m) for m in told} == {True}
    again = bot.click(BOSS, approve)
    assert again["toast"]["type"] == "info"
    bot.settled()
    assert len([m for m in fake.sent(kind="create") if m["receive_id"] == CHEN]) == 2


# ---------------------------------------------------------------- limits: a digest of 200 KRs


def _big_okrs(krs: int = 200, per_objective: int = 20) -> str:
    people = [{"id": f"p{n}", "name": f"Person {n}", "feishu": f"ou_p{n:08d}"} for n in range(10)]
    people[0]["role"] = "boss"
    objectives = []
    for o in range(krs // per_objective):
        objectives.append(
            {
                "code": f"O{o + 1}",
                "title": f"Objective {o + 1}: grow the European stores with a long and descriptive title",
                "owner": "p1",
                "deadline": "2026-12-31",
                "measures": [{"name": "GMV", "unit": "EUR", "baseline": 0, "target": 1000000}],
                "paths": [
                    {
                        "code": f"P{o + 1}",
                        "title": f"Path {o + 1}",
                        "priority": 1,
                        "krs": [
                            {
                                "code": f"KR{o * per_objective + k + 1}",
                                "title": f"Key result {o * per_objective + k + 1} with a fairly long title to weigh",
                                "owner": f"p{1 + (k % 9)}",
                                "measures": [
                                    {"name": "conversion", "unit": "%", "baseline": 1.5, "target": 2.0},
                                    {"name": "ACOS", "unit": "%", "at_most": 25},
                                ],
                            }
                            for k in range(per_objective)
                        ],
                    }
                ],
            }
        )
    return yaml.safe_dump(
        {
            "workspace": {"name": "Big", "language": "zh", "timezone": "Europe/Berlin",
                          "boss_channel": {"feishu": "oc_big"}},
            "people": people,
            "cycle": {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31"},
            "objectives": objectives,
        },
        allow_unicode=True,
        sort_keys=False,
    )


def test_a_digest_of_200_krs_is_split_into_cards_within_the_limits(app: App, fake: ff.FakeFeishu) -> None:
    """200 KRs, each with notes, next steps and asks: several cards, each under 30 KB and 200 components, nothing cut."""
    services.import_okrs(uow=app.uow, text=_big_okrs(), filename="big.yaml", at=NOW - timedelta(days=30))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "measure", "value", "person", "at", "note", "next", "ask"])
    for n in range(200):
        code, owner = f"KR{n + 1}", f"p{1 + (n % 20) % 9}"
        writer.writerow([code, "conversion", "1.7%", owner, "2026-10-15T10:00", f"note {n} <at user_id=\"all\"></at>",
                         f"next step {n} for the team", f"追加{n + 1}000欧预算"])
    services.import_checkins(uow=app.uow, text=out.getvalue(), filename="h.csv", now=NOW)
    digest = services.compose(uow=app.uow, as_of=NOW)
    built = cards.digest_cards(digest=digest)
    assert len(built) > 1
    for card in built:
        assert_within_limits(card)
    everything = "".join(cards.content_of(card) for card in built)
    for n in range(200):
        assert f"Key result {n + 1} with" in everything and f"next step {n} " in everything
    assert len({v["id"] for card in built for v in _buttons(card)}) == 200
    assert "<at" not in everything
    platform = feishu.build(settings=settings_for(domain=fake._served.url), uow=app.uow, http=True, backoff=0.01)
    sent = platform.post_digest(digest=digest, channel="oc_big", idempotency_key="big")
    assert len(sent.extra["message_ids"]) == len(built)
    for n in range(200):
        assert f"KR{n + 1}" in everything
    platform.stop()


def test_checkin_card_of_many_krs_stays_within_limits() -> None:
    """Someone owning 40 KRs of 5 measures gets several check-in cards, each within the limits."""
    rows = [
        {
            "code": f"KR{n}",
            "title": f"KR {n}",
            "measures": [
                {"name": f"m{j}", "kind": "target", "unit": "%", "value": 1.0, "target": 2.0} for j in range(5)
            ],
        }
        for n in range(40)
    ]
    built = forms.checkin_cards(rows=rows, lang="en")
    assert len(built) > 1
    for card in built:
        assert_within_limits(card)
    assert all(forms.card_with_form(cards=built, code=f"KR{n}") for n in range(40))


# (the long connection: tests/edges/test_feishu_ws.py, against a fake long-connection endpoint)


# ---------------------------------------------------------------- when the database can't take it


def _rename(app: App, old: str, new: str) -> None:
    with app.uow.engine.begin() as connection:
        connection.execute(text(f'ALTER TABLE "{old}" RENAME TO "{new}"'))


def test_a_database_that_cannot_claim_gets_a_500_so_feishu_retries(bot: Bot, fake: ff.FakeFeishu) -> None:
    """CONTRACT §8: no claim possible → non-2xx; Feishu's retry of the same event is then stored once."""
    event_id, message_id = bot.ids()
    event = ff.message_event(text="/kr update KR2 1.8%", open_id=CHEN, event_id=event_id, message_id=message_id)
    _rename(bot.app, "processed_events", "processed_events_away")
    try:
        assert bot.push(event).status_code == 500
    finally:
        _rename(bot.app, "processed_events_away", "processed_events")
    assert bot.checkins() == []
    assert bot.push(event).status_code == 200
    fake.wait_for(lambda: replies_to(fake, message_id))
    assert len(bot.checkins()) == 1


def test_a_message_the_database_cannot_take_gets_a_5xx_and_feishus_push_again_is_stored_once(
    bot: Bot, fake: ff.FakeFeishu
) -> None:
    """Claim and check-in are one transaction: a failed store claims nothing, so Feishu's re-push is handled in full."""
    event_id, message_id = bot.ids()
    event = ff.message_event(text="/kr update KR2 1.8%", open_id=CHEN, event_id=event_id, message_id=message_id)
    _rename(bot.app, "checkin_values", "checkin_values_away")
    try:
        assert bot.push(event).status_code >= 500
    finally:
        _rename(bot.app, "checkin_values_away", "checkin_values")
    bot.settled()
    assert bot.checkins() == [] and replies_to(fake, message_id) == []
    assert bot.push(event).status_code == 200
    fake.wait_for(lambda: replies_to(fake, message_id))
    assert bot.push(event).status_code == 200  # and once more: a duplicate now
    bot.settled()
    assert len(replies_to(fake, message_id)) == 1
    assert "已保存KR2" in text_of(replies_to(fake, message_id)[0])
    assert len(bot.checkins()) == 1


def test_long_connection_deliveries_share_the_database_dedup(bot: Bot, fake: ff.FakeFeishu) -> None:
    """An event the ws client hands to the same dispatcher (as lark.ws.Client does) after an HTTP delivery: one answer."""
    event_id, message_id = bot.ids()
    event = ff.message_event(text="/kr update KR2 1.8%", open_id=CHEN, event_id=event_id, message_id=message_id)
    assert bot.push(event).status_code == 200
    redelivered = {**event, "header": {**event["header"], "event_id": event_id + "-ws"}}
    bot.platform.dispatcher._do_without_validation(json.dumps(redelivered).encode())
    _, fresh = bot.ids()
    bot.platform.dispatcher._do_without_validation(
        json.dumps(ff.message_event(text="/kr update KR4 70%", open_id=CHEN, event_id="ev-ws-1", message_id=fresh)).encode()
    )
    fake.wait_for(lambda: replies_to(fake, fresh))
    bot.settled()
    assert len(replies_to(fake, message_id)) == 1
    assert sorted(c["code"] for c in bot.checkins()) == ["KR2", "KR4"]


def test_report_is_a_private_card_preview_even_asked_in_a_group(bot: Bot, fake: ff.FakeFeishu) -> None:
    """`/kr report` in a group goes to the sender alone, as the digest card; nothing in the group's thread."""
    mention = [{"key": "@_user_1", "id": {"open_id": "ou_thebot"}, "name": "krbot"}]
    _, asked = bot.say(LIN, "@_user_1 /kr report", chat_type="group", chat_id="oc_team", mentions=mention)
    direct = fake.wait_for(lambda: len([m for m in fake.sent(kind="create") if m["receive_id"] == LIN]) >= 2 and
                           [m for m in fake.sent(kind="create") if m["receive_id"] == LIN])
    assert [m["msg_type"] for m in direct] == ["text", "interactive"]
    assert "■ 截至10月20日" in direct[1]["content"]
    assert replies_to(fake, asked) == []


def test_reminders_and_chasers_are_checkin_cards_sent_once(bot: Bot, fake: ff.FakeFeishu, example: App) -> None:
    """send_reminder DMs the check-in card; a chaser looks different; the same key never sends twice."""
    from bot.platforms.base import Reminder

    chen = services.person_of(uow=example.uow, key="chen", at=NOW)
    assert chen is not None
    rows = services.list_krs(uow=example.uow, person="chen", at=NOW).params["rows"]
    first = bot.platform.send_reminder(reminder=Reminder(workspace="欧洲事业部", lang="zh", person=chen, rows=rows),
                                       idempotency_key="remind:chen:w43")
    again = bot.platform.send_reminder(reminder=Reminder(workspace="欧洲事业部", lang="zh", person=chen, rows=rows),
                                       idempotency_key="remind:chen:w43")
    chaser = bot.platform.send_reminder(
        reminder=Reminder(workspace="欧洲事业部", lang="zh", person=chen, rows=rows, chaser=True),
        idempotency_key="chase:chen:w43",
    )
    assert first.message_id == again.message_id != chaser.message_id
    sent = fake.sent(kind="create")
    assert [m["receive_id"] for m in sent] == [CHEN, CHEN]
    assert "每周填报" in sent[0]["content"] and "提醒" in sent[1]["content"]
    assert _form(json.loads(sent[0]["content"]), "KR2")["tag"] == "form"


def test_an_english_workspace_is_answered_in_english(app: App, fake: ff.FakeFeishu) -> None:
    """The workspace language decides: the English example gets English replies and cards."""
    from tests.conftest import EXAMPLE_EN, IMPORTED_AT

    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename=str(EXAMPLE_EN),
                         at=IMPORTED_AT)
    platform = feishu.build(settings=settings_for(domain=fake._served.url), uow=app.uow, http=True,
                            clock=lambda: NOW, backoff=0.01)
    served = ff.serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": True}))
    try:
        runner = Bot(platform=platform, url=served.url, clock=Clock(), app=app)
        _, saved = runner.say(CHEN, "/kr update KR2 1.8%")
        _, form = runner.say(CHEN, "/kr update")
        assert text_of(fake.wait_for(lambda: replies_to(fake, saved))[0]).startswith("Saved KR2")
        assert "Weekly check-in" in fake.wait_for(lambda: replies_to(fake, form))[0]["content"]
        runner.http.close()
    finally:
        served.stop()
        platform.stop()


def test_a_sent_card_can_be_updated(bot: Bot, fake: ff.FakeFeishu) -> None:
    """update_card patches a message the bot sent (through the real client's message patch)."""
    sent = bot.platform.post_digest(digest=services.compose(uow=bot.app.uow, as_of=NOW), channel=BOSS_CHAT,
                                    idempotency_key="digest:patch")
    card = cards.text_card(title="t", text="updated", lang="zh")[0]
    bot.platform.update_card(message_id=sent.message_id, card=card)
    assert [json.loads(u) for u in fake.messages[sent.message_id]["updates"]] == [card]
    with pytest.raises(feishu.FeishuError):
        bot.platform.update_card(message_id="om_nope", card=card)


@pytest.mark.skipif(chart_font_path() is None, reason="no CJK-capable font here (.ci/run installs fonts-wqy-microhei)")
def test_matrix_comes_with_its_png_chart(bot: Bot, fake: ff.FakeFeishu) -> None:
    """`/kr matrix` answers with the four quadrants as text and, since Feishu shows images, the chart as a PNG."""
    _, asked = bot.say(CHEN, "/kr matrix")
    fake.wait_for(lambda: len(replies_to(fake, asked)) >= 2)
    replies = replies_to(fake, asked)
    assert [m["msg_type"] for m in replies] == ["text", "image"]
    assert "KR3" in text_of(replies[0])
    key = json.loads(replies[1]["content"])["image_key"]
    assert b"\x89PNG" in fake.images[key]
