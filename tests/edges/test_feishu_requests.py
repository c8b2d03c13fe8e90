"""Feishu pushes under attack: malformed, for another app or tenant, fuzzed, or with the database cut — never a 500 by our fault."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import services
from bot.app import App
from bot.config import Settings
from bot.http import build_http_app
from bot.i18n import translate
from bot.platforms import feishu
from storage.db import UnitOfWork, make_engine
from tests.edges.test_feishu import BOSS, CHEN, Bot, Clock, fake, open_api, replies_to, settings_for  # noqa: F401 - fixtures
from tests.fakes import fake_feishu as ff

NESTED = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def bot(example: App, fake: ff.FakeFeishu) -> Iterator[Bot]:  # noqa: F811 - the fixture imported above
    """The Feishu platform served over real HTTP on the example OKRs."""
    with served(example=example, settings=settings_for(domain=fake._served.url)) as runner:
        yield runner


class served:  # noqa: N801 - used as a context manager, like a function
    """The platform on `settings` and `uow` (the example's unless given), served over HTTP until the block ends."""

    def __init__(self, *, example: App, settings: Settings, uow: UnitOfWork | None = None) -> None:
        clock = Clock()
        self.platform = feishu.build(settings=settings, uow=uow or example.uow, http=True, clock=clock, backoff=0.01)
        self.served = ff.serve(app=build_http_app(routes=self.platform.routes(), health=lambda: {"ok": True}))
        self.runner = Bot(platform=self.platform, url=self.served.url, clock=clock, app=example)

    def __enter__(self) -> Bot:
        return self.runner

    def __exit__(self, *_exc: object) -> None:
        self.runner.http.close()
        self.served.stop()
        self.platform.stop()


def push_plain(bot: Bot, plaintext: str, **kwargs: Any) -> httpx.Response:
    """Seal and sign exactly this text, as Feishu would, and POST it."""
    body, headers = ff.signed_push(plaintext=plaintext, **kwargs)
    return bot.http.post("/feishu/events", content=body, headers=headers)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that carry a traceback."""
    return [record.getMessage() for record in caplog.records if record.exc_info]


def _message(**event: Any) -> dict[str, Any]:
    """A message event with some of its event part replaced."""
    base = ff.message_event(text="/kr update KR2 1.8%", open_id=CHEN, event_id=f"ev-m-{time.monotonic_ns()}",
                            message_id=f"om-m-{time.monotonic_ns()}")
    return {**base, "event": {**base["event"], **event}}


def _card(value: Any, form: Any = None, open_id: str = CHEN) -> dict[str, Any]:
    """A card callback whose action value (and form) are as given."""
    base = ff.card_action(open_id=open_id, value={}, event_id=f"ev-c-{time.monotonic_ns()}")
    base["event"]["action"]["value"] = value
    if form is not None:
        base["event"]["action"]["form_value"] = form
    return base


MALFORMED: dict[str, str] = {
    "sealed JSON nested too deep": NESTED,
    "sealed text not JSON": "{not json",
    "sealed JSON a list": "[1, 2]",
    "header a string": json.dumps({"schema": "2.0", "header": "x"}),
    "message a string": json.dumps(_message(message="hello")),
    "sender id a number": json.dumps(_message(sender={"sender_type": "user", "sender_id": {"open_id": 7}})),
    "mentions a string": json.dumps(_message(message={**_message()["event"]["message"], "mentions": "all"})),
    "card value a list": json.dumps(_card(["a"])),
    "card ask id not a number": json.dumps(_card({"a": "ask", "id": "abc", "ok": True})),
    "card as_of not a time": json.dumps(_card({"a": "ask", "id": 1, "ok": True, "as_of": "yesterday"}, open_id=BOSS)),
    "card measures not a list": json.dumps(_card({"a": "checkin", "code": "KR2", "measures": 5}, form={"m0": "1.8%"})),
    "card form a list": json.dumps(_card({"a": "checkin", "code": "KR2", "measures": ["新客转化率"]}, form=["1.8%"])),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_sealed_and_signed_but_malformed_pushes_get_4xx_with_no_traceback_and_change_nothing(
    bot: Bot, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        answer = push_plain(bot, MALFORMED[case])
    assert 400 <= answer.status_code < 500, (case, answer.status_code, answer.text[:200])
    assert tracebacks(caplog) == []
    assert bot.checkins() == [] and all(a["status"] == "open" for a in bot.asks())


def test_a_non_numeric_timestamp_gets_4xx(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answers = [bot.push(_message(), timestamp=stamp) for stamp in ("abc", "1e9", "-5", "9" * 40)]
    assert all(400 <= a.status_code < 500 for a in answers), [a.status_code for a in answers]
    assert tracebacks(caplog) == [] and bot.checkins() == []


def test_events_for_another_app_or_tenant_are_refused(example: App, fake: ff.FakeFeishu) -> None:  # noqa: F811
    strict = settings_for(domain=fake._served.url).model_copy(update={"feishu_tenant_key": "tenant0001"})
    with served(example=example, settings=strict) as bot:
        other_app = _message()
        other_app["header"] = {**other_app["header"], "app_id": "cli_someoneelse"}
        other_tenant = _message()
        other_tenant["header"] = {**other_tenant["header"], "tenant_key": "tenant-elsewhere"}
        assert (bot.push(other_app).status_code, bot.push(other_tenant).status_code) == (403, 403)
        assert bot.push(_message()).status_code == 200  # ours
        fake.wait_for(lambda: fake.sent(kind="reply"))
        assert len(bot.checkins()) == 1


# ---------------------------------------------------------------- the database cut


@pytest.fixture
def dead_url(db_url: str, tmp_path: Path) -> str:
    """A database that does not answer: a SQLite file in a folder that is not there, or a PostgreSQL port nobody serves."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'gone' / 'krbot.db'}"
    return "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2"


def test_with_the_database_cut_messages_get_5xx_and_cards_say_nothing_was_saved(
    dead_url: str, example: App, fake: ff.FakeFeishu  # noqa: F811
) -> None:
    down = UnitOfWork(engine=make_engine(url=dead_url))
    with served(example=example, settings=settings_for(domain=fake._served.url), uow=down) as bot:
        message = _message()
        assert bot.push(message).status_code >= 500  # Feishu pushes it again
        card = bot.push(_card({"a": "checkin", "code": "KR2", "measures": ["新客转化率"]}, form={"m0": "1.8%"}))
        assert card.status_code == 200
        toast = card.json()["toast"]
        assert toast["type"] == "error" and "未保存" in toast["content"] or "nothing was saved" in toast["content"]
        bot.settled()
        assert replies_to(fake, message["event"]["message"]["message_id"]) == []
    assert services.export_all(uow=example.uow, at=Clock().now)["checkins"] == []
    assert translate("feishu.failed", lang="zh")


# ---------------------------------------------------------------- fuzzing the shapes Feishu sends

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _templates() -> list[dict[str, Any]]:
    """The pushes krbot answers, as Feishu sends them."""
    return [
        ff.message_event(text="/kr update KR2 1.8%", open_id=CHEN, event_id="ev-fuzz", message_id="om-fuzz"),
        ff.card_action(open_id=CHEN, value={"a": "checkin", "code": "KR2", "measures": ["新客转化率"]}, event_id="ev-fuzz-c",
                       form_value={"m0": "1.8%", "note": "n"}),
        ff.card_action(open_id=CHEN, value={"a": "ask", "id": 1, "ok": True, "as_of": "2026-10-20T07:00:00+00:00"},
                       event_id="ev-fuzz-a"),
        ff.menu_event(open_id=CHEN, event_id="ev-fuzz-menu"),
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
@given(which=st.integers(0, 3), path=st.lists(st.integers(0, 20), min_size=1, max_size=5), value=JSON_VALUES)
def test_fuzzed_sealed_pushes_never_get_a_500_nor_leave_a_malformed_row(bot: Bot, which: int, path: list[int], value: Any) -> None:
    mutated = _mutate(_templates()[which], path, value)
    mutated.setdefault("header", {})
    if isinstance(mutated["header"], dict):  # keep it ours, so the fuzz reaches the handlers
        mutated["header"]["token"], mutated["header"]["app_id"] = ff.VERIFICATION_TOKEN, ff.APP_ID
    answer = bot.push(mutated)
    assert answer.status_code < 500, (mutated, answer.status_code, answer.text[:200])
    for checkin in bot.checkins():
        assert checkin["code"] and checkin["measure"] and isinstance(checkin["value"], float | int | bool)
