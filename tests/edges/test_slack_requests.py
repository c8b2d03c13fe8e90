"""Slack requests under attack: malformed, replayed, from a foreign team, fuzzed, or with the database cut — never a 500 or a lie."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import services
from bot.app import App
from bot.config import Settings
from bot.http import build_http_app
from bot.i18n import translate
from bot.platforms import slack, slack_blocks
from storage.db import UnitOfWork, make_engine
from tests.edges.test_slack import BOSS, BOSS_CHANNEL, CHEN, NOW, Bot, served_bot
from tests.fakes.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    SlackSender,
    command_body,
    frozen_now,
    serve,
)


@pytest.fixture
def bot(example: App) -> Iterator[Bot]:
    """The served bot as `krbot run --http` serves it."""
    with served_bot(example=example) as served:
        yield served


def signed_post(bot: Bot, *, body: bytes, content_type: str, timestamp: str | None = None) -> httpx.Response:
    """POST raw bytes to /slack/events, signed with the right secret over exactly these bytes."""
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, "Content-Type": content_type}
    return bot.slack.client.post(bot.served.url + "/slack/events", content=body, headers=headers)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that carry a traceback."""
    return [record.getMessage() for record in caplog.records if record.exc_info]


FORM = "application/x-www-form-urlencoded"
NESTED = "[" * 100_000 + "]" * 100_000
MALFORMED: dict[str, tuple[bytes, str]] = {
    "bad JSON in payload=": (b"payload=%7Bnot+json", FORM),
    "payload= is a list": (urlencode({"payload": "[1, 2]"}).encode(), FORM),
    "payload= nested too deep": (urlencode({"payload": NESTED}).encode(), FORM),
    "events body nested too deep": (NESTED.encode(), "application/json"),
    "events body not UTF-8": (b'{"type": "event_callback", "x": "\xff\xfe"}', "application/json"),
    "command not UTF-8": (b"command=%2Fkr&text=\xff\xfe&user_id=U0CHEN0001", FORM),
    "user is a string": (urlencode({"payload": json.dumps({"type": "block_actions", "user": "U0CHEN0001", "team": {"id": TEAM_ID},
                                                           "actions": [{"action_id": slack_blocks.APPROVE, "value": "{}"}]})}).encode(), FORM),
    "ask id not a number": (urlencode({"payload": json.dumps({
        "type": "block_actions", "user": {"id": BOSS}, "team": {"id": TEAM_ID}, "trigger_id": "t",
        "actions": [{"action_id": slack_blocks.APPROVE, "value": json.dumps({"id": "abc"})}]})}).encode(), FORM),
    "ask value not JSON": (urlencode({"payload": json.dumps({
        "type": "block_actions", "user": {"id": BOSS}, "team": {"id": TEAM_ID}, "trigger_id": "t",
        "actions": [{"action_id": slack_blocks.APPROVE, "value": "{{{"}]})}).encode(), FORM),
    "view without state": (urlencode({"payload": json.dumps({
        "type": "view_submission", "user": {"id": CHEN}, "team": {"id": TEAM_ID},
        "view": {"id": "V1", "callback_id": slack_blocks.CHECKIN_VIEW, "state": "nope"}})}).encode(), FORM),
    "command without user": (urlencode({"command": "/kr", "text": "update KR2 1.8%", "team_id": TEAM_ID}).encode(), FORM),
    "event user not a string": (json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1",
                                            "event": {"type": "message", "channel_type": "im", "user": ["x"], "text": "hi",
                                                      "channel": "D1"}}).encode(), "application/json"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_signed_but_malformed_requests_get_4xx_with_no_traceback_and_change_nothing(
    bot: Bot, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, content_type = MALFORMED[case]
    with caplog.at_level(logging.INFO):
        answer = signed_post(bot, body=body, content_type=content_type)
    assert 400 <= answer.status_code < 500, (case, answer.status_code, answer.text[:200])
    assert tracebacks(caplog) == []
    assert bot.checkins() == [] and all(a["status"] == "open" for a in bot.asks())


def test_a_non_numeric_timestamp_is_refused_with_4xx(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    body = command_body(user_id=CHEN, text="update KR2 1.8%", response_url=bot.fake.response_url(name="ts"), trigger_id="t-ts")
    with caplog.at_level(logging.INFO):
        answers = [signed_post(bot, body=body.encode(), content_type=FORM, timestamp=stamp) for stamp in ("abc", "1e9", "-5", "", "9" * 40)]
    assert all(400 <= a.status_code < 500 for a in answers), [a.status_code for a in answers]
    assert tracebacks(caplog) == [] and bot.checkins() == []


def test_a_slash_command_replayed_with_the_same_bytes_is_answered_once(bot: Bot) -> None:
    body = command_body(user_id=CHEN, text="update KR2 1.8%", response_url=bot.fake.response_url(name="replay"),
                        trigger_id="t-replay").encode()
    stamp = str(int(time.time()))
    answers = [signed_post(bot, body=body, content_type=FORM, timestamp=stamp) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "1.8%" in answers[0].json()["text"]
    assert [a.content for a in answers[1:]] == [b"", b""]  # the replays: acked, not answered again
    bot.settled()
    assert bot.fake.of("response_url") == [] and len(bot.checkins()) == 1


def test_a_request_from_another_team_is_refused_in_single_token_mode(bot: Bot) -> None:
    ours = bot.slack.command(user_id=CHEN, text="list", response_url=bot.fake.response_url(name="ours"), trigger_id="t-ours")
    body = command_body(user_id=CHEN, text="update KR2 1.8%", response_url=bot.fake.response_url(name="foreign"),
                        trigger_id="t-foreign").replace(f"team_id={TEAM_ID}", "team_id=T0ELSEWHERE")
    foreign = bot.slack.post(body=body, content_type=FORM)
    event = json.loads(json.dumps({"type": "message", "channel_type": "im", "channel": "D0CHEN0001", "user": CHEN,
                                   "text": "update KR2 1.7%", "ts": "1790000000.000900"}))
    stranger_event = bot.slack.post(
        body=json.dumps({"type": "event_callback", "team_id": "T0ELSEWHERE", "event_id": "Ev0FOREIGN1", "event": event}),
        content_type="application/json",
    )
    assert ours.status_code == 200
    assert (foreign.status_code, stranger_event.status_code) == (403, 403)
    bot.settled()
    assert bot.checkins() == [] and bot.fake.of("chat.postMessage") == []


# ---------------------------------------------------------------- the database cut


@pytest.fixture
def dead_url(db_url: str, tmp_path: Path) -> str:
    """A database that does not answer: a SQLite file in a folder that is not there, or a PostgreSQL port nobody serves."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'gone' / 'krbot.db'}"
    return "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2"


def test_with_the_database_cut_events_get_5xx_and_commands_buttons_and_forms_say_nothing_was_saved(
    dead_url: str, example: App
) -> None:
    fake = FakeSlack().start()
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url)
    platform = slack.build(settings=settings, uow=UnitOfWork(engine=make_engine(url=dead_url)), http=True, clock=frozen_now)
    served = serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": True}))
    sender = SlackSender(url=served.url)
    down = Bot(app=example, platform=platform, fake=fake, served=served, slack=sender)
    try:
        command = down.command(user=CHEN, text="update KR2 1.8%", trigger="t-down")
        assert command["response_type"] == "ephemeral"
        for lang in ("zh", "en"):
            assert translate("slack.failed", lang=lang) in command["text"]
        event = sender.event(event={"type": "message", "channel_type": "im", "channel": "D0CHEN0001", "user": CHEN,
                                    "text": "update KR2 1.8%", "ts": "1790000000.000300"}, event_id="Ev0DOWN0001")
        assert event.status_code >= 500  # Slack retries an event it was not acked for
        click = down.click(user=BOSS, action_id=slack_blocks.APPROVE, value=json.dumps({"id": 1}),
                           message={"ts": "1790000000.000002", "blocks": [], "text": ""}, channel=BOSS_CHANNEL, name="down")
        assert click.status_code == 200
        told = fake.wait_for("response_url")[0].args
        assert told["name"] == "down" and translate("slack.failed", lang="en") in told["text"]
        rows = services.list_krs(uow=example.uow, person="chen", at=NOW).params["rows"]
        view = slack_blocks.checkin_view(rows=rows, code="KR2", lang="en")
        form = down.submit(user=CHEN, view=view, values={})
        assert form.status_code == 200 and form.json()["response_action"] == "errors"
        assert translate("slack.failed", lang="en")[:40] in json.dumps(form.json()["errors"], ensure_ascii=False)
    finally:
        sender.client.close()
        served.stop()
        platform.stop()
        fake.stop()
    assert services.export_all(uow=example.uow, at=NOW)["checkins"] == []


# ---------------------------------------------------------------- fuzzing the shapes Slack sends

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _templates() -> list[tuple[str, dict[str, Any]]]:
    """The shapes krbot answers, as Slack sends them: (kind, payload)."""
    action = {"action_id": slack_blocks.APPROVE, "block_id": "b", "type": "button", "value": json.dumps({"id": 1})}
    return [
        ("command", {"command": "/kr", "text": "update KR2 1.8%", "user_id": CHEN, "team_id": TEAM_ID, "trigger_id": "t-f",
                     "response_url": "http://127.0.0.1:9/x"}),
        ("interaction", {"type": "block_actions", "user": {"id": BOSS}, "team": {"id": TEAM_ID}, "trigger_id": "t-f",
                         "actions": [action], "channel": {"id": BOSS_CHANNEL},
                         "message": {"ts": "1.2", "blocks": []}, "response_url": "http://127.0.0.1:9/x"}),
        ("interaction", {"type": "view_submission", "user": {"id": CHEN}, "team": {"id": TEAM_ID}, "trigger_id": "t-f",
                         "view": {"id": "V1", "hash": "h", "callback_id": slack_blocks.CHECKIN_VIEW, "private_metadata": "KR2",
                                  "state": {"values": {"m0": {"v": {"type": "plain_text_input", "value": "1.8%"}}}}}}),
        ("event", {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev-f",
                   "event": {"type": "message", "channel_type": "im", "user": CHEN, "text": "update KR2 1.8%",
                             "channel": "D0CHEN0001", "ts": "1.1"}}),
    ]


def _mutate(payload: dict[str, Any], path: list[int], value: Any) -> dict[str, Any]:
    """The payload with the node that `path` picks (indices into its keys, level by level) replaced by `value`."""
    copy = json.loads(json.dumps(payload))
    node: Any = copy
    for n, step in enumerate(path):
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            break
        key = keys[step % len(keys)]
        if n == len(path) - 1 or not isinstance(node[key], dict | list):
            node[key] = value
            break
        node = node[key]
    return copy


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(which=st.integers(0, 3), path=st.lists(st.integers(0, 20), min_size=1, max_size=4), value=JSON_VALUES)
def test_fuzzed_signed_payloads_never_get_a_500_nor_leave_a_malformed_row(
    bot: Bot, which: int, path: list[int], value: Any
) -> None:
    kind, payload = _templates()[which]
    mutated = _mutate(payload, path, value)
    if kind == "command":
        body = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in mutated.items()}).encode()
        content_type = FORM
    elif kind == "interaction":
        body, content_type = urlencode({"payload": json.dumps(mutated)}).encode(), FORM
    else:
        body, content_type = json.dumps(mutated).encode(), "application/json"
    answer = signed_post(bot, body=body, content_type=content_type)
    assert answer.status_code < 500, (mutated, answer.status_code)
    for checkin in bot.checkins():
        assert checkin["code"] and checkin["measure"] and isinstance(checkin["value"], float | int | bool)
