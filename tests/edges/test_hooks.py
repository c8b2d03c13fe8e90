"""CONTRACT §9 per-measure hooks: a secret URL stores one measure's value as its owner's check-in, once per key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from storage.models import MeasureHookRow
from tests.conftest import EXAMPLE_EN
from tests.fakes.api_client import NOW, bearer, checkin_rows, client, http_app, token
from tests.fakes.fake_platform import FakePlatformServer, HttpTestPlatform
from tests.fakes.served import serve


def _hook(app: App, code: str = "O1", measure: str = "新客GMV") -> str:
    """A new hook's path, /hooks/{secret}."""
    issued, _, _ = services.create_hook(uow=app.uow, code=code, measure=measure, at=NOW)
    return f"/hooks/{issued.secret}"


def test_hook_create_prints_its_url_once_and_keeps_only_a_hash(
    example: App, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL starts with KRBOT_PUBLIC_URL; list and the database show its prefix only; revoke answers by id."""
    monkeypatch.setenv("KRBOT_PUBLIC_URL", "https://okr.example.com/")
    code, out, _ = run_cli("hook", "create", "o1", "新客gmv")
    assert code == 0, out
    url = next(word for word in out.split() if word.startswith("https://"))
    assert url.startswith("https://okr.example.com/hooks/krh_") and "O1 新客GMV" in out
    secret = url.rsplit("/", 1)[1]
    with example.uow.begin() as session:
        row = session.scalars(select(MeasureHookRow)).one()
        assert (row.code, row.measure) == ("O1", "新客GMV")
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest() and secret.startswith(row.prefix)
    listed = run_cli("hook", "list")[1]
    assert secret not in listed and row.prefix in listed and "新客GMV" in listed
    assert run_cli("hook", "revoke", str(row.id))[0] == 0
    assert "—" not in run_cli("hook", "list")[1].splitlines()[1].rsplit("  ", 1)[1]  # revoked: a time, not —
    assert run_cli("hook", "revoke", str(row.id))[0] == 2


def test_hook_create_refuses_an_unknown_code_or_measure_with_did_you_mean(
    example: App, run_cli: Callable[..., Any]
) -> None:
    """As in chat: the near miss is offered; nothing is stored."""
    code, _, err = run_cli("hook", "create", "KR22", "ACOS")
    assert code == 2 and "KR2" in err
    code, _, err = run_cli("hook", "create", "KR2", "ACSO")
    assert code == 2 and "ACOS" in err
    with example.uow.begin() as session:
        assert session.scalars(select(MeasureHookRow)).all() == []


def test_a_hook_stores_json_form_or_text_values_as_the_owners_checkin(example: App) -> None:
    """{"value": 52000}, value=52000 as a form, the bare text, and a string read by §6 (5.5万欧): lin's, source hook."""
    api, path = client(example), _hook(example)
    stored = api.post(path, json={"value": 52000})
    assert stored.status_code == 201, stored.text
    assert stored.json()["values"][0]["value"] == 52000 and stored.json()["code"] == "O1"
    assert api.post(path, data={"value": "53000"}).status_code == 201
    assert api.post(path, content=b"value=54000", headers={"Content-Type": "text/plain"}).status_code == 201
    assert api.post(path, content=b"55000", headers={"Content-Type": "text/plain"}).status_code == 201
    assert api.post(path, json={"value": "5.6万欧"}).status_code == 201
    rows = checkin_rows(example)
    assert [(r.code, r.person_key, r.source) for r in rows] == [("O1", "lin", "hook")] * 5
    exported = services.export_all(uow=example.uow, at=NOW)["checkins"]
    assert [c["value"] for c in exported if c["measure"] == "新客GMV"] == [52000, 53000, 54000, 55000, 56000]


def test_unknown_and_revoked_hooks_get_the_same_404(example: App) -> None:
    """A wrong secret and a revoked one cannot be told apart; nothing is stored."""
    api, path = client(example), _hook(example)
    unknown = api.post("/hooks/krh_not-a-hook", json={"value": 1})
    hook_id = services.list_hooks(uow=example.uow)[0]["id"]
    services.revoke_hook(uow=example.uow, hook_id=hook_id, at=NOW)
    revoked = api.post(path, json={"value": 1})
    assert unknown.status_code == revoked.status_code == 404
    assert unknown.json() == revoked.json() and unknown.json()["error"]["code"] == "hook.unknown"
    assert checkin_rows(example) == []


def test_a_refused_value_is_422_with_a_clear_message_and_nothing_stored(example: App) -> None:
    """€5.000 is ambiguous for a zh-CN owner (both readings offered); no value at all says how to send one."""
    api, path = client(example), _hook(example)
    ambiguous = api.post(path, json={"value": "€5.000"})
    assert ambiguous.status_code == 422
    error = ambiguous.json()["error"]
    assert error["field"] == "values.新客GMV" and "5000" in error["message"] and "未保存" in error["message"]
    assert api.post(path, json={"value": 5e9}).status_code == 422  # implausible: 10× the span beyond the target
    for body in ({"value": None}, [1]):
        missing = api.post(path, json=body)
        assert missing.status_code == 422 and missing.json()["error"]["code"] == "hook.no_value"
    unknown = api.post(path, json={"valeur": 1}).json()["error"]  # a field the API would refuse too
    assert unknown["code"] == "hook.unknown_field" and unknown["field"] == "valeur" and "value" in unknown["message"]
    assert api.post(path, content=b"\xff\xfe", headers={"Content-Type": "text/plain"}).status_code == 422
    assert checkin_rows(example) == []


def test_a_string_is_read_in_the_kr_owners_locale(app: App) -> None:
    """The en example: lin writes de-DE, so "52.000 €" is fifty-two thousand, answered in English."""
    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="okrs.yaml", at=NOW)
    headline = services.export_all(uow=app.uow, at=NOW)["objectives"][0]["measures"][0]["name"]
    api, path = client(app), _hook(app, "O1", headline)
    stored = api.post(path, content="value=52.000 €".encode(), headers={"Content-Type": "text/plain"})
    assert stored.status_code == 201 and stored.json()["values"][0]["value"] == 52000
    assert stored.json()["message"].startswith("Saved")
    refused = api.post(path, json={"value": "abc"})
    assert refused.status_code == 422 and "nothing was saved" in refused.json()["error"]["message"]


def test_an_idempotency_key_on_a_real_server_stores_once(example: App) -> None:
    """uvicorn on a free port: the same key twice is one check-in and the same answer; another key is another."""
    served = serve(app=http_app(example))
    try:
        url = served.url + _hook(example)
        first = httpx.post(url, json={"value": 52000}, headers={"Idempotency-Key": "sheet-row-7"})
        again = httpx.post(url, json={"value": 52000}, headers={"Idempotency-Key": "sheet-row-7"})
        other = httpx.post(url, json={"value": 53000}, headers={"Idempotency-Key": "sheet-row-8"})
    finally:
        served.stop()
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json() == again.json()
    assert len(checkin_rows(example)) == 2


def test_a_hooks_drop_in_status_is_told_to_the_consulted_once(example: App) -> None:
    """KR4 consults sun: a hook value that drops the KR's status tells him once, even when the hook is retried."""
    with FakePlatformServer() as chat:
        api = client(example, platforms=[HttpTestPlatform(url=chat.url)])
        owner = bearer(token(example, "chen"))
        for at, values in (("2026-10-27T10:00", (90, 1.5, 32)), ("2026-11-10T10:00", (100, 1.5, 35))):  # a trend on track
            names = ("竞品监控覆盖率", "价格响应", "会员复购率")
            good = {"code": "KR4", "values": dict(zip(names, values, strict=True)), "at": at}
            assert api.post("/api/v1/checkins", json=good, headers=owner).status_code == 201
        path = _hook(example, "KR4", "竞品监控覆盖率")
        for _ in range(2):
            assert api.post(path, json={"value": 61}, headers={"Idempotency-Key": "drop-1"}).status_code == 201
        told = [r for r in chat.stats.received if r.get("kind") == "notice"]
    assert [r["target"] for r in told] == ["sun"]
    assert len(checkin_rows(example)) == 3
