"""The chat's doors to the web, over the real slack-bolt and lark-oapi against the local fakes: `/kr web` (Feishu:
`web` sent to the bot) answers privately with a one-time link; every digest post carries "Open the report" /
打开完整报告, which gives the READER their own link privately; nothing of it without KRBOT_SECRET_KEY."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.config import Settings
from bot.platforms import feishu, slack_blocks
from bot.platforms import feishu_cards as cards
from bot.render import render_reply
from tests.edges import test_feishu as tf
from tests.edges.test_once_slack import answers, wait
from tests.edges.test_slack import BOSS, BOSS_CHANNEL, CHEN, Bot, served_bot, settings_for
from tests.fakes import fake_feishu as ff
from tests.fakes.fake_slack import FROZEN_AT, FakeSlack
from tests.fakes.web_client import PUBLIC, SECRET, Clock, browser, csrf_of

LINK = re.compile(re.escape(PUBLIC) + r"/signin/[A-Za-z0-9_.\-]+")


def keyed(fake: FakeSlack) -> Settings:
    """The Slack settings with the web pages on."""
    return settings_for(fake).model_copy(update={"secret_key": SECRET, "public_url": PUBLIC})


def signed_in_as(app: App, text: str, *, at: datetime = FROZEN_AT) -> str:
    """Open the link a text carries (within its 10 minutes of `at`) and press its button: the page's greeting."""
    found = LINK.search(text)
    assert found, f"no sign-in link in {text!r}"
    client = browser(app, clock=Clock(at))
    path = found.group(0).removeprefix(PUBLIC)
    page = client.get(path)
    assert client.post(path, data={"csrf": csrf_of(page.text)}).status_code == 303
    me = client.get("/me")
    assert me.status_code == 200
    return re.search(r"<h1>([^<]+)</h1>", me.text).group(1)


@pytest.fixture
def bot(example: App) -> Iterator[Bot]:
    """The served Slack bot with KRBOT_SECRET_KEY set."""
    with served_bot(example=example, settings=keyed) as served:
        yield served


def test_kr_web_on_slack_answers_privately_with_a_link_that_signs_in_once(bot: Bot) -> None:
    """`/kr web`: an ephemeral answer with chen's own link; it signs her in, and only once."""
    answer = bot.command(user=CHEN, text="web", trigger="t-web")
    assert answer["response_type"] == "ephemeral"
    assert "个人登录链接" in answer["text"]
    assert signed_in_as(bot.app, answer["text"]) == "陈静：我的本周"
    url = LINK.search(answer["text"]).group(0).removeprefix(PUBLIC)
    again = browser(bot.app, clock=Clock(FROZEN_AT))
    assert again.post(url, data={"csrf": csrf_of(again.get(url).text)}).status_code == 403
    assert LINK.search(bot.command(user=CHEN, text="网页", trigger="t-web-zh")["text"])  # the Chinese word works too


def test_the_digest_button_gives_each_reader_their_own_link(bot: Bot) -> None:
    """The digest's headline carries 打开完整报告; chen's click and the boss's click each get their own private link."""
    digest = services.compose(uow=bot.app.uow, as_of=FROZEN_AT)
    bot.platform.post_digest(digest=digest, channel=BOSS_CHANNEL, idempotency_key="digest:web")
    head = next(p for p in bot.fake.of("chat.postMessage") if p.args.get("channel") == BOSS_CHANNEL)
    buttons = [e for b in head.args["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == slack_blocks.OPEN_REPORT]
    assert [b["text"]["text"] for b in buttons] == ["打开完整报告"]
    assert not LINK.search(json.dumps(head.args))  # no link in the channel: the button asks the bot
    message = {"ts": "1790000000.000001", "blocks": head.args["blocks"], "text": head.args["text"]}
    for user, name, greeting in ((CHEN, "chen", "陈静：我的本周"), (BOSS, "boss", "王总：我的本周")):
        bot.click(user=user, action_id=slack_blocks.OPEN_REPORT, value="report", message=message, name=name)
        answer = wait(lambda name=name: answers(bot, name))[0]
        assert answer["response_type"] == "ephemeral" and answer.get("replace_original") is False
        assert signed_in_as(bot.app, answer["text"]) == greeting


def test_without_the_secret_key_no_button_and_kr_web_says_the_pages_are_off(example: App) -> None:
    """KRBOT_SECRET_KEY unset: the digest has no 打开完整报告; `/kr web` says the pages are off, with no link."""
    with served_bot(example=example) as plain:
        answer = plain.command(user=CHEN, text="web", trigger="t-off")
        assert "网页未开启" in answer["text"] and "KRBOT_SECRET_KEY" in answer["text"] and not LINK.search(answer["text"])
        main, _ = slack_blocks.digest_messages(digest=services.compose(uow=example.uow, as_of=tf.NOW))
        assert slack_blocks.OPEN_REPORT not in json.dumps(main)
        posts = plain.platform.digest_posts(digest=services.compose(uow=example.uow, as_of=tf.NOW))
        assert slack_blocks.OPEN_REPORT not in json.dumps(posts[0])


# ---------------------------------------------------------------- Feishu


@pytest.fixture
def feishu_bot(example: App, fake: ff.FakeFeishu) -> Iterator[tf.Bot]:
    """The Feishu platform served with KRBOT_SECRET_KEY set."""
    clock = tf.Clock()
    settings = tf.settings_for(domain=fake._served.url).model_copy(update={"secret_key": SECRET, "public_url": PUBLIC})
    platform = feishu.build(settings=settings, uow=example.uow, http=True, clock=clock, backoff=0.01)
    from bot.http import build_http_app

    served = ff.serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": platform.healthy()}))
    runner = tf.Bot(platform=platform, url=served.url, clock=clock, app=example)
    yield runner
    runner.http.close()
    served.stop()
    platform.stop()


fake = tf.fake
open_api = tf.open_api


def direct_to(fake: ff.FakeFeishu, open_id: str) -> list[dict[str, Any]]:
    """Messages the bot created in one person's chat with it."""
    return [m for m in fake.sent(kind="create") if m["receive_id"] == open_id]


def test_web_sent_to_the_feishu_bot_answers_with_a_link_and_never_in_a_group(feishu_bot: tf.Bot,
                                                                             fake: ff.FakeFeishu) -> None:
    """`web` in the bot's chat: a reply with chen's link; asked in a group, the link goes to her alone."""
    _, asked = feishu_bot.say(tf.CHEN, "web")
    reply = fake.wait_for(lambda: tf.replies_to(fake, asked))[0]
    assert signed_in_as(feishu_bot.app, tf.text_of(reply), at=tf.NOW) == "陈静：我的本周"
    mention = [{"key": "@_user_1", "id": {"open_id": "ou_thebot"}, "name": "krbot"}]
    _, in_group = feishu_bot.say(tf.LIN, "@_user_1 web", chat_type="group", chat_id="oc_team", mentions=mention)
    direct = fake.wait_for(lambda: direct_to(fake, tf.LIN))
    assert signed_in_as(feishu_bot.app, tf.text_of(direct[0]), at=tf.NOW) == "林雪：我的本周"
    assert tf.replies_to(fake, in_group) == []


def test_the_feishu_digest_button_sends_the_reader_their_own_link(feishu_bot: tf.Bot, fake: ff.FakeFeishu) -> None:
    """The digest card carries 打开完整报告; a click answers with a toast and DMs that reader their own link."""
    feishu_bot.platform.post_digest(digest=services.compose(uow=feishu_bot.app.uow, as_of=tf.NOW),
                                    channel=tf.BOSS_CHAT, idempotency_key="digest:web")
    card = json.loads(fake.wait_for(lambda: [m for m in fake.sent(kind="create")
                                             if m["receive_id"] == tf.BOSS_CHAT])[0]["content"])
    assert "打开完整报告" in json.dumps(card, ensure_ascii=False) and not LINK.search(json.dumps(card))
    answer = feishu_bot.click(tf.ZHAO, {"a": "web"})
    assert answer["toast"]["type"] == "success" and "私信" in answer["toast"]["content"]
    direct = fake.wait_for(lambda: direct_to(fake, tf.ZHAO))
    assert signed_in_as(feishu_bot.app, tf.text_of(direct[0]), at=tf.NOW) == "赵磊：我的本周"
    assert "打开完整报告" not in json.dumps(cards.digest_cards(digest=services.compose(uow=feishu_bot.app.uow,
                                                                                          as_of=tf.NOW)),
                                          ensure_ascii=False)  # off without the key


def test_kr_web_and_the_button_in_english(app: App) -> None:
    """The English workspace: `/kr web` through the one command path every edge uses, the pages-off answer, and the
    digest button's words on Slack and Feishu."""
    from tests.conftest import EXAMPLE_EN, IMPORTED_AT

    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="en.yaml", at=IMPORTED_AT)
    door = services.WebDoor(secret_key=SECRET, public_url=PUBLIC)
    reply = services.run_command(uow=app.uow, person="chen", text="/kr web", at=FROZEN_AT, door=door)
    text = render_reply(reply=reply)
    assert reply.shows is services.Shows.LINK and text.startswith("Your personal sign-in link")
    assert signed_in_as(app, text) == "Chen Jing: my week"
    off = render_reply(reply=services.run_command(uow=app.uow, person="chen", text="/kr web", at=FROZEN_AT))
    assert off.startswith("The web pages are off") and not LINK.search(off)
    stranger = services.run_command(uow=app.uow, person="nobody", text="/kr web", at=FROZEN_AT, door=door)
    assert not stranger.ok and not LINK.search(render_reply(reply=stranger))
    digest = services.compose(uow=app.uow, as_of=FROZEN_AT)
    main, _ = slack_blocks.digest_messages(digest=digest, report_button=True)
    assert "Open the report" in json.dumps(main)
    assert "Open the report" in json.dumps(cards.digest_cards(digest=digest, report_button=True))
