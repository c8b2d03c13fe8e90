"""Feishu's long connection end to end: the real lark.ws.Client against a fake long-connection endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import lark_oapi.ws.client as ws_module
import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from bot.core.errors import KrbotError
from bot.platforms import feishu
from storage.models import CheckinRow, DeliveryRow
from tests.edges import test_feishu
from tests.edges.test_feishu import CHEN, ZHAO, Clock, replies_to, settings_for, text_of
from tests.fakes import fake_feishu as ff
from tests.fakes.okr_helpers import count

open_api = test_feishu.open_api  # the Feishu tests' module-wide fake Open API


@pytest.fixture
def fake(open_api: ff.FakeFeishu) -> Iterator[ff.FakeFeishu]:
    """The fake Open API and long-connection endpoint, emptied for this test."""
    with open_api.lock:
        open_api.calls.clear()
        open_api.messages.clear()
        open_api.failures.clear()
        open_api._by_uuid.clear()
    open_api.stall_replies = None
    open_api.long.refuse = None
    with open_api.long._answered:
        open_api.long.answers.clear()
    yield open_api
    open_api.stall_replies = None
    open_api.long.refuse = None
    open_api.long.drop()


def connected(*, example: App, fake: ff.FakeFeishu, tenant: str | None = None, **kwargs: Any) -> feishu.FeishuPlatform:
    """The platform on the long connection, started and connected."""
    settings = settings_for(domain=fake._served.url, encrypt_key=None)
    if tenant is not None:
        settings = settings.model_copy(update={"feishu_tenant_key": tenant})
    platform = feishu.build(settings=settings, uow=example.uow, http=False, clock=Clock(), backoff=0.01,
                            start_wait=kwargs.pop("start_wait", 10.0))
    platform.start()
    return platform


@pytest.fixture
def platform(example: App, fake: ff.FakeFeishu) -> Iterator[feishu.FeishuPlatform]:
    started = connected(example=example, fake=fake)
    fake.long.wait_connected()
    yield started
    started.stop()


def message(text: str, *, n: int | str, tenant: str = "tenant0001", open_id: str = CHEN) -> dict[str, Any]:
    """An im.message.receive_v1 text message from `open_id`, of `tenant`."""
    event = ff.message_event(text=text, open_id=open_id, event_id=f"ev-ws-{n}", message_id=f"om_ws_{n}")
    event["header"]["tenant_key"] = tenant
    return event


def checkins(app: App) -> list[dict[str, Any]]:
    return services.export_all(uow=app.uow, at=test_feishu.NOW)["checkins"]


def reply_rows(app: App) -> list[DeliveryRow]:
    with app.uow.begin() as session:
        return list(session.scalars(select(DeliveryRow).where(DeliveryRow.kind == "reply")))


# ---------------------------------------------------------------- events and card callbacks over the socket


def test_a_checkin_over_the_long_connection_is_stored_answered_and_replied_once(
    platform: feishu.FeishuPlatform, fake: ff.FakeFeishu, example: App
) -> None:
    """A `/kr update` text message pushed as a frame: stored, its frame answered 200, krbot's reply sent and marked."""
    assert platform.healthy() and ws_module.loop is platform.connection.loop
    assert platform.connection.thread is not threading.current_thread()
    assert asyncio.run(asyncio.sleep(0, result="the caller's loop is untouched")) == "the caller's loop is untouched"
    assert fake.long.deliver(message("/kr update KR2 1.8%", n=1)) == [{"code": 200}]
    assert [c["value"] for c in checkins(example)] == [1.8]
    reply = fake.wait_for(lambda: replies_to(fake, "om_ws_1"))
    assert "已保存KR2" in text_of(reply[0])
    fake.wait_for(lambda: [r.status for r in reply_rows(example)] == ["sent"])
    # Feishu pushing the same event again (its frame lost): a duplicate, answered 200, not stored or replied twice
    assert fake.long.deliver(message("/kr update KR2 1.8%", n=1))[-1]["code"] == 200
    assert len(checkins(example)) == 1 and len(replies_to(fake, "om_ws_1")) == 1


def test_a_card_callback_frame_gets_its_toast_back_on_the_frame(
    platform: feishu.FeishuPlatform, fake: ff.FakeFeishu, example: App
) -> None:
    """A CARD frame (which lark-oapi itself drops) is handled and its toast sent back in the frame's answer."""
    callback = ff.card_action(open_id=ZHAO, value={"a": "checkin", "code": "KR2", "measures": ["新客转化率"]},
                              event_id="ev-ws-card", form_value={"m0": "1.9%"})
    (answer,) = fake.long.deliver(callback, kind="card")
    assert answer["code"] == 200
    toast = json.loads(base64.b64decode(answer["data"]))["toast"]
    assert toast["type"] == "error" and "陈静" in toast["content"]  # zhao does not own KR2
    own = ff.card_action(open_id=CHEN, value={"a": "checkin", "code": "KR2", "measures": ["新客转化率"]},
                         event_id="ev-ws-card-2", form_value={"m0": "1.9%"})
    saved = json.loads(base64.b64decode(fake.long.deliver(own, kind="card")[0]["data"]))
    assert saved["toast"]["type"] == "success" and [c["value"] for c in checkins(example)] == [1.9]


def test_a_large_event_split_over_several_frames_is_put_together(
    platform: feishu.FeishuPlatform, fake: ff.FakeFeishu, example: App
) -> None:
    """Feishu splits a large push over frames (sum/seq): answered once, on the last, and stored once."""
    frame_id = fake.long.push(message("/kr update KR2 1.7% 备注：" + "长" * 3000, n="big"), parts=3)
    assert fake.long.answer_to(frame_id)["code"] == 200
    assert [c["value"] for c in checkins(example)] == [1.7]


def test_an_event_type_krbot_does_not_read_is_acknowledged_once_and_logged_once(
    platform: feishu.FeishuPlatform, fake: ff.FakeFeishu, example: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Not 500 (Feishu would push it for ever): 200 at the first push, one log line per type however many come."""
    caplog.set_level(logging.INFO, logger="bot.platforms.feishu_ws")
    added = {"schema": "2.0", "header": {"event_id": "ev-added-1", "event_type": "im.chat.member.bot.added_v1",
                                         "app_id": ff.APP_ID, "tenant_key": "tenant0001"},
             "event": {"chat_id": "oc_new"}}
    assert [a["code"] for a in fake.long.deliver(added)] == [200]
    again = {**added, "header": {**added["header"], "event_id": "ev-added-2"}}
    assert [a["code"] for a in fake.long.deliver(again)] == [200]
    legacy = {"uuid": "u-1", "token": ff.VERIFICATION_TOKEN, "type": "event_callback", "event": {"type": "add_bot"}}
    assert [a["code"] for a in fake.long.deliver(legacy)] == [200]
    said = [r.getMessage() for r in caplog.records if "not one krbot reads" in r.getMessage()]
    assert len([line for line in said if "im.chat.member.bot.added_v1" in line]) == 1 and len(said) == 2
    # a known event still goes through, and still gets 500 when it could not be stored (so Feishu pushes it again)
    assert fake.long.deliver(message("/kr update KR4 70%", n=2))[-1]["code"] == 200
    assert [c["code"] for c in checkins(example)] == ["KR4"]


def test_an_event_the_database_cannot_take_gets_500_and_feishus_push_again_is_stored_once(
    platform: feishu.FeishuPlatform, fake: ff.FakeFeishu, example: App
) -> None:
    """CONTRACT §8 on the long connection: nothing stored → not 200 (Feishu pushes it again); the push that can be
    stored is, once, with one reply."""
    event = message("/kr update KR2 1.8%", n="db")
    test_feishu._rename(example, "checkin_values", "checkin_values_away")
    try:
        assert fake.long.answer_to(fake.long.push(event))["code"] == 500
    finally:
        test_feishu._rename(example, "checkin_values_away", "checkin_values")
    assert checkins(example) == [] and reply_rows(example) == []
    assert [a["code"] for a in fake.long.deliver(event)] == [200]
    assert [a["code"] for a in fake.long.deliver(event)] == [200]
    fake.wait_for(lambda: [r.status for r in reply_rows(example)] == ["sent"])
    assert len(checkins(example)) == 1 and len(replies_to(fake, "om_ws_db")) == 1


def test_another_tenants_event_is_acknowledged_and_not_stored(example: App, fake: ff.FakeFeishu) -> None:
    """FEISHU_TENANT_KEY holds on the long connection as in HTTP mode: another tenant's event is answered 200 (so not
    pushed again), stored nowhere, replied to by no one; this tenant's is stored."""
    platform = connected(example=example, fake=fake, tenant="tenant0001")
    try:
        fake.long.wait_connected()
        assert [a["code"] for a in fake.long.deliver(message("/kr update KR2 1.5%", n=3, tenant="tenant-evil"))] == [200]
        assert checkins(example) == [] and replies_to(fake, "om_ws_3") == []
        assert fake.long.deliver(message("/kr update KR2 1.6%", n=4))[-1]["code"] == 200
        assert [c["value"] for c in checkins(example)] == [1.6]
        fake.wait_for(lambda: replies_to(fake, "om_ws_4"))
        assert replies_to(fake, "om_ws_3") == []
    finally:
        platform.stop()


# ---------------------------------------------------------------- the start: refused, unreachable


def test_a_wrong_secret_is_a_start_up_error_naming_the_variables(example: App, fake: ff.FakeFeishu) -> None:
    """The endpoint answers the secret with an error code: start() fails at once with a sentence, no retries."""
    settings = settings_for(domain=fake._served.url, encrypt_key=None).model_copy(
        update={"feishu_app_secret": "not-the-secret"})
    platform = feishu.build(settings=settings, uow=example.uow, http=False, backoff=0.01, start_wait=10)
    calls = fake.long.endpoint_calls
    with pytest.raises(KrbotError) as refused:
        platform.start()
    assert refused.value.key == "feishu.credentials_refused"
    assert "FEISHU_APP_SECRET" in str(refused.value) and "10014" in str(refused.value)
    assert fake.long.endpoint_calls == calls + 1 and not platform.healthy()
    platform.stop()


def test_an_unreachable_feishu_is_tried_again_and_healthz_is_not_ok_until_connected(
    example: App, fake: ff.FakeFeishu
) -> None:
    """5xx or "system busy" at the endpoint: start() goes on after its wait, unhealthy, and connects once it can."""
    fake.long.refuse = "down"
    platform = connected(example=example, fake=fake, start_wait=0.5)
    try:
        assert not platform.healthy()
        fake.wait_for(lambda: fake.long.endpoint_calls >= 3)
        fake.long.refuse = "busy"
        calls = fake.long.endpoint_calls
        fake.wait_for(lambda: fake.long.endpoint_calls >= calls + 2)
        assert not platform.healthy()
        fake.long.refuse = None
        fake.long.wait_connected()
        fake.wait_for(platform.healthy)
        assert fake.long.deliver(message("/kr update KR2 1.8%", n=5))[-1]["code"] == 200
        # Feishu's gateway goes away: unhealthy, then connected again by the same backoff
        fake.long.drop()
        fake.wait_for(lambda: fake.long.connections() == 1 and platform.healthy())
        assert fake.long.deliver(message("/kr update KR4 70%", n=6))[-1]["code"] == 200
    finally:
        platform.stop()
    assert not platform.healthy() and not platform.connection.thread.is_alive()


# ---------------------------------------------------------------- stop: intake closed, in flight answered, then closed


def test_stop_during_a_burst_answers_every_stored_event_on_its_frame(example: App, fake: ff.FakeFeishu) -> None:
    """40 check-ins pushed one after the other, stop() in the middle: each one stored was answered 200 on its frame
    and replied to; each one left unanswered was not stored (Feishu pushes it again); the socket is closed after."""
    platform = connected(example=example, fake=fake)
    values = {round(1.0 + n / 100, 2): f"burst{n}" for n in range(40)}
    frames: dict[float, str] = {}

    def pushing() -> None:
        for value, tag in values.items():
            try:
                frames[value] = fake.long.push(message(f"/kr update KR2 {value}%", n=tag))
            except AssertionError:  # the socket is closed: Feishu keeps the rest for the next connection
                return
            time.sleep(0.03)

    pusher = threading.Thread(target=pushing)
    try:
        fake.long.wait_connected()
        pusher.start()
        fake.wait_for(lambda: count(example, CheckinRow) >= 5, timeout=10)
    finally:
        platform.stop()
        pusher.join()
    stored = {c["value"] for c in checkins(example)}
    answered = {value for value, frame in frames.items() if (fake.long.answered(frame) or {}).get("code") == 200}
    assert stored and stored == answered and len(stored) < len(values)
    assert all(replies_to(fake, f"om_ws_{values[value]}") for value in stored)
    assert all(fake.long.answered(frames[value]) is None for value in set(frames) - stored)
    assert {r.status for r in reply_rows(example)} == {"sent"} and len(reply_rows(example)) == len(stored)
    fake.wait_for(lambda: fake.long.connections() == 0)
    assert not platform.healthy()


# ---------------------------------------------------------------- answers owed by a process that is gone


def test_the_sweep_sends_answers_owed_queued_or_claimed_past_the_lease_and_leaves_live_claims(
    example: App, fake: ff.FakeFeishu
) -> None:
    """Rows an earlier process left: queued, or claimed by a worker elsewhere whose lease ran out, are sent (once);
    one claimed a moment ago by a worker elsewhere is its own to finish."""
    from datetime import timedelta

    from bot.platforms.feishu_replies import plan, text_content

    clock = Clock()
    platform = feishu.build(settings=settings_for(domain=fake._served.url), uow=example.uow, http=True, clock=clock,
                            backoff=0.01)
    workspace_id = services.workspace_id_of(uow=example.uow, workspace=None)
    claims = {"queued": (None, "queued", 0), "expired": ("elsewhere:123:abcdef", "claimed", 300),
              "live": ("elsewhere:124:abcdef", "claimed", 10)}
    with example.uow.begin() as session:
        for name, (worker, status, age) in claims.items():
            answer = plan(to="reply", target=f"om_owed_{name}", key=f"reply:om_owed_{name}:ok",
                          messages=[{"msg_type": "text", "content": text_content(f"saved {name}")}])
            session.add(DeliveryRow(workspace_id=workspace_id, kind="reply", target="chen", period=f"feishu:om_{name}",
                                    status=status, claimed_by=worker, claimed_at=clock.now - timedelta(seconds=age),
                                    attempts=1 if worker else 0, payload=answer))
    try:
        assert platform.sweep() == 2
        assert [text_of(m) for m in replies_to(fake, "om_owed_queued")] == ["saved queued"]
        assert [text_of(m) for m in replies_to(fake, "om_owed_expired")] == ["saved expired"]
        assert replies_to(fake, "om_owed_live") == []
        assert sorted(r.status for r in reply_rows(example)) == ["claimed", "sent", "sent"]
        assert platform.sweep() == 0  # sent is sent: nothing twice
    finally:
        platform.stop()
