"""CONTRACT §8 keys bound to their request: an Idempotency-Key belongs to one person or hook, one route, one body;
a token or hook of an archived person stays revoked; a decision retried after a new cycle is refused in words."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import yaml
from sqlalchemy import select
from starlette.testclient import TestClient

from bot import services
from bot.app import App, api_routes
from bot.http import build_http_app
from storage.models import AskRow, RequestKeyRow
from tests.conftest import EXAMPLE_ZH
from tests.fakes.api_client import NOW, bearer, checkin_rows, client, http_app, token
from tests.fakes.okr_helpers import okr_file_without, reimport
from tests.fakes.served import serve

CHECKINS = "/api/v1/checkins"
KR2 = {"code": "KR2", "values": {"新客转化率": 1.8}}
KR4 = {"code": "KR4", "values": {"竞品监控覆盖率": 90}}


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of a refused request, after checking its status and its one JSON shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]


def _key(secret: str, key: str) -> dict[str, str]:
    """A token's headers with an Idempotency-Key."""
    return bearer(secret, **{"Idempotency-Key": key})


def _hook(app: App, code: str = "KR2", measure: str = "新客转化率") -> str:
    """A new hook's path."""
    issued, _, _ = services.create_hook(uow=app.uow, code=code, measure=measure, at=NOW)
    return f"/hooks/{issued.secret}"


def _codes(app: App) -> list[str]:
    """The codes of every stored check-in, oldest first."""
    return [row.code for row in checkin_rows(app)]


# ---------------------------------------------------------------- one key, one request


def test_a_key_reused_for_another_checkin_is_422_and_nothing_is_stored(example: App) -> None:
    """KR4's check-in with KR2's key is refused (it was answered with KR2's data and dropped); KR2 stays as it was,
    and KR2's retry still gets KR2's answer."""
    api, chen = client(example), token(example, "chen")
    first = api.post(CHECKINS, json=KR2, headers=_key(chen, "erp-7"))
    assert first.status_code == 201, first.text
    other = _error(api.post(CHECKINS, json=KR4, headers=_key(chen, "erp-7")), 422)
    assert other["code"] == "api.idempotency_mismatch" and other["field"] == "Idempotency-Key"
    assert "POST /api/v1/checkins" in other["message"] and "未做任何处理" in other["message"]
    assert _codes(example) == ["KR2"]
    retried = api.post(CHECKINS, json=KR2, headers=_key(chen, "erp-7"))
    assert retried.status_code == 201 and retried.json() == first.json()
    fresh = api.post(CHECKINS, json=KR4, headers=_key(chen, "erp-8"))
    assert fresh.status_code == 201 and _codes(example) == ["KR2", "KR4"]


def test_a_key_of_a_refused_request_is_free_for_the_corrected_one(example: App) -> None:
    """A refused value did nothing: its key binds nothing, so the corrected request with it is stored."""
    api, chen = client(example), token(example, "chen")
    refused = api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": "abc"}}, headers=_key(chen, "k1"))
    assert refused.status_code == 422
    assert api.post(CHECKINS, json=KR2, headers=_key(chen, "k1")).status_code == 201
    assert _codes(example) == ["KR2"]


def _two_asks(app: App) -> tuple[int, int]:
    """chen asks twice; both asks' ids."""
    api, chen = client(app), token(app, "chen")
    for words in ("追加5000欧预算", "再招一名运营"):
        assert api.post(CHECKINS, json={"code": "KR2", "ask": words}, headers=bearer(chen)).status_code == 201
    ids = sorted(a["id"] for a in services.export_all(uow=app.uow, at=NOW)["asks"])
    return ids[0], ids[1]


def test_a_decision_key_reused_on_another_ask_is_422_and_that_ask_stays_open(example: App) -> None:
    """Ask #2 with the key of ask #1's decision: refused, not "200" while #2 stays open; its own key decides it."""
    first, second = _two_asks(example)
    api, boss = client(example), token(example, "boss")
    decided = api.post(f"/api/v1/asks/{first}/decision", json={"decision": "approve"}, headers=_key(boss, "click"))
    assert decided.status_code == 200, decided.text
    reused = _error(
        api.post(f"/api/v1/asks/{second}/decision", json={"decision": "approve"}, headers=_key(boss, "click")), 422
    )
    assert reused["code"] == "api.idempotency_mismatch" and f"/asks/{first}/decision" in reused["message"]
    statuses = {a["id"]: a["status"] for a in services.export_all(uow=example.uow, at=NOW)["asks"]}
    assert statuses == {first: "approved", second: "open"}
    declined = api.post(f"/api/v1/asks/{first}/decision", json={"decision": "decline"}, headers=_key(boss, "click"))
    assert _error(declined, 422)["code"] == "api.idempotency_mismatch"  # another body: not a retry either
    own = api.post(f"/api/v1/asks/{second}/decision", json={"decision": "decline"}, headers=_key(boss, "click-2"))
    assert own.status_code == 200 and own.json()["status"] == "declined"


def test_keys_over_255_characters_or_blank_get_400_and_are_never_cut(example: App) -> None:
    """256 characters: 400 naming the limit; 255 works; two 250-character keys alike in their first 200 are two."""
    api, chen = client(example), token(example, "chen")
    long_key = _error(api.post(CHECKINS, json=KR2, headers=_key(chen, "k" * 256)), 400)
    assert long_key["code"] == "api.idempotency_key" and long_key["field"] == "Idempotency-Key"
    assert "255" in long_key["message"]
    assert _error(api.post(CHECKINS, json=KR2, headers=_key(chen, "   ")), 400)["field"] == "Idempotency-Key"
    assert checkin_rows(example) == []
    assert api.post(CHECKINS, json=KR2, headers=_key(chen, "k" * 255)).status_code == 201
    shared = "s" * 200
    assert api.post(CHECKINS, json=KR2, headers=_key(chen, shared + "a" * 50)).status_code == 201
    assert api.post(CHECKINS, json=KR2, headers=_key(chen, shared + "b" * 50)).status_code == 201
    assert len(checkin_rows(example)) == 3


def test_hook_keys_are_bound_and_never_cut(example: App) -> None:
    """Two hook keys sharing their first 200 characters are two check-ins; another value with a used key is 422;
    256 characters get 400; the same value again is the same answer."""
    api, path = client(example), _hook(example)
    shared = "row-" + "x" * 200
    first = api.post(path, json={"value": 1.7}, headers={"Idempotency-Key": shared + "-7"})
    second = api.post(path, json={"value": 1.8}, headers={"Idempotency-Key": shared + "-8"})
    assert first.status_code == second.status_code == 201, second.text
    assert len(checkin_rows(example)) == 2
    again = api.post(path, json={"value": 1.7}, headers={"Idempotency-Key": shared + "-7"})
    assert again.status_code == 201 and again.json() == first.json()
    other = _error(api.post(path, json={"value": 1.9}, headers={"Idempotency-Key": shared + "-7"}), 422)
    assert other["code"] == "api.idempotency_mismatch" and other["field"] == "Idempotency-Key"
    assert _error(api.post(path, json={"value": 1.9}, headers={"Idempotency-Key": "k" * 256}), 400)["field"] == (
        "Idempotency-Key"
    )
    assert [row.code for row in checkin_rows(example)] == ["KR2", "KR2"]


def test_the_same_key_while_the_first_request_is_in_flight_gets_409(example: App) -> None:
    """A request holding the key (bound, not done yet): its twin gets 409 and stores nothing; once done, the same."""
    api, chen = client(example), token(example, "chen")
    body = httpx.Request("POST", "http://x", json=KR2).read()
    who = services.token_caller(uow=example.uow, token=chen, at=NOW)
    assert who is not None
    with services.bound_request(
        uow=example.uow, holder=f"{who.workspace}\n{who.person}", key="slow-1", route="POST /api/v1/checkins",
        body=body, at=NOW,
    ):
        busy = _error(
            api.post(CHECKINS, content=body, headers=_key(chen, "slow-1") | {"Content-Type": "application/json"}), 409
        )
    assert busy["code"] == "api.idempotency_in_flight" and busy["field"] == "Idempotency-Key"
    assert checkin_rows(example) == []


def test_concurrent_hook_posts_with_one_key_store_once(example: App) -> None:
    """uvicorn, eight clients at once with one key: one check-in; each answer the first's, or 409 while in flight."""
    served = serve(app=http_app(example))
    try:
        url = served.url + _hook(example)

        def post(_: int) -> httpx.Response:
            return httpx.post(url, json={"value": 1.75}, headers={"Idempotency-Key": "race-hook"}, timeout=30)

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(post, range(8)))
    finally:
        served.stop()
    stored = [a for a in answers if a.status_code == 201]
    assert stored and len({a.text for a in stored}) == 1, [a.text for a in answers]
    assert all(a.json()["error"]["code"] == "api.idempotency_in_flight" for a in answers if a.status_code != 201)
    assert len(checkin_rows(example)) == 1
    with example.uow.begin() as session:
        assert [row.done for row in session.scalars(select(RequestKeyRow))] == [True]


# ---------------------------------------------------------------- archived people


def test_an_archived_persons_token_and_hook_stay_revoked_when_they_come_back(example: App) -> None:
    """chen leaves the OKR file (KR2 goes to zhao): her token is 401 and her KR2 hook 404 — never stored as zhao's;
    back in the file, both stay revoked, and a new token works."""
    api, secret, path = client(example), token(example, "chen"), _hook(example)
    assert api.post(path, json={"value": 1.7}).status_code == 201
    reimport(example, okr_file_without(person="chen", heir="zhao"))
    assert _error(api.post(CHECKINS, json=KR2, headers=bearer(secret)), 401)["code"] == "api.unauthorized"
    assert _error(api.post(path, json={"value": 1.8}), 404)["code"] == "hook.unknown"
    assert [(row.code, row.person_key) for row in checkin_rows(example)] == [("KR2", "chen")]
    reimport(example, EXAMPLE_ZH.read_text(encoding="utf-8"), at=datetime(2026, 10, 17, 8, 0, tzinfo=UTC))
    assert _error(api.post(CHECKINS, json=KR2, headers=bearer(secret)), 401)["code"] == "api.unauthorized"
    assert _error(api.post(path, json={"value": 1.8}), 404)["code"] == "hook.unknown"
    assert len(checkin_rows(example)) == 1
    assert all(t["revoked_at"] is not None for t in services.list_tokens(uow=example.uow))
    assert all(h["revoked_at"] is not None for h in services.list_hooks(uow=example.uow))
    assert api.post(CHECKINS, json=KR2, headers=bearer(token(example, "chen"))).status_code == 201
    assert api.post(_hook(example), json={"value": 1.9}).status_code == 201


def test_a_hook_whose_kr_has_another_owner_now_stores_nothing(example: App) -> None:
    """KR4 handed from chen to sun in the file: chen's hook answers 404 and stores nothing as sun's."""
    path = _hook(example, "KR4", "竞品监控覆盖率")
    reimport(example, _handed_over(EXAMPLE_ZH.read_text(encoding="utf-8"), code="KR4", heir="sun"))
    assert _error(client(example).post(path, json={"value": 90}), 404)["code"] == "hook.unknown"
    assert checkin_rows(example) == []


def _handed_over(text: str, *, code: str, heir: str) -> str:
    """The OKR file with one KR's owner changed."""
    data = yaml.safe_load(text)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("code") == code and "owner" in node:
                node["owner"] = heir
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(data)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# ---------------------------------------------------------------- decisions across cycles


def test_a_decision_retried_after_a_new_cycle_began_is_409_in_words(example: App) -> None:
    """The boss's decision is retried after 2027-Q1 began: the ask belongs to a closed cycle — 409 saying so, not 500."""
    clock = {"now": NOW}
    routes = api_routes(app=example, platforms=[], clock=lambda: clock["now"])
    api = TestClient(build_http_app(routes=routes, health=lambda: {"ok": True}), raise_server_exceptions=False)
    chen, boss = token(example, "chen"), token(example, "boss")
    assert api.post(CHECKINS, json={"code": "KR2", "ask": "追加5000欧预算"}, headers=bearer(chen)).status_code == 201
    with example.uow.begin() as session:
        ask = session.scalars(select(AskRow.id)).one()
    path = f"/api/v1/asks/{ask}/decision"
    assert api.post(path, json={"decision": "approve"}, headers=_key(boss, "d-1")).status_code == 200
    data = yaml.safe_load(EXAMPLE_ZH.read_text(encoding="utf-8"))
    data["cycle"] = {"name": "2027-Q1", "start": "2027-01-01", "end": "2027-03-31"}
    reimport(example, yaml.safe_dump(data, allow_unicode=True, sort_keys=False), at=datetime(2027, 1, 2, tzinfo=UTC))
    clock["now"] = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    retried = _error(api.post(path, json={"decision": "approve"}, headers=_key(boss, "d-1")), 409)
    assert retried["code"] == "ask.closed_cycle" and "已结束的周期" in retried["message"]
    with example.uow.begin() as session:
        assert session.scalars(select(AskRow.status)).one() == "approved"
