"""CONTRACT §9 /api/v1/: a token acts as its person with exactly their rights, check-ins store once, errors say why."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from bot.core.values import read_value
from bot.locales import number_style
from bot.services.inbound import number_text
from storage.models import ApiTokenRow, AskRow
from tests.conftest import EXAMPLE_EN
from tests.fakes.api_client import NOW, bearer, checkin_rows, client, http_app, token
from tests.fakes.fake_platform import FakePlatformServer, HttpTestPlatform
from tests.fakes.okr_helpers import okr_file_without, reimport
from tests.fakes.served import serve

CHECKINS = "/api/v1/checkins"


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of a refused request, after checking its status and shape (JSON, no traceback)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    assert "Traceback" not in response.text
    return body["error"]


# ---------------------------------------------------------------- tokens


def test_a_token_is_printed_once_stored_as_its_hash_listed_without_it_and_revoked(
    example: App, run_cli: Callable[..., Any]
) -> None:
    """`krbot token create` prints the token; the database and `token list` hold only its hash and prefix."""
    code, out, _ = run_cli("token", "create", "--as", "chen", "--name", "ERP 导出")
    assert code == 0, out
    secret = next(word for word in out.split() if word.startswith("krbot_"))
    with example.uow.begin() as session:
        row = session.scalars(select(ApiTokenRow)).one()
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in (row.name or "") + row.prefix and row.person_key == "chen"
    api = client(example)
    assert api.get("/api/v1/okrs", headers=bearer(secret)).status_code == 200
    code, listing, _ = run_cli("token", "list")
    assert code == 0 and secret not in listing and row.prefix in listing and "ERP 导出" in listing
    assert run_cli("token", "revoke", str(row.id))[0] == 0
    refused = api.get("/api/v1/okrs", headers=bearer(secret))
    assert _error(refused, 401)["code"] == "api.unauthorized"
    assert run_cli("token", "revoke", str(row.id))[0] == 2  # no live token of that id any more
    assert run_cli("token", "create", "--as", "nobody")[0] == 2


def test_no_token_a_wrong_one_or_another_scheme_gets_401_with_a_bearer_challenge(example: App) -> None:
    """Every operation wants the token; nothing is stored without it."""
    api = client(example)
    for headers in ({}, bearer("krbot_wrong"), {"Authorization": "Basic Y2hlbjpjaGVu"},
                    {"Authorization": "Bearer 令牌".encode()}):
        answer = api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": 1.8}}, headers=headers)
        assert _error(answer, 401)["code"] == "api.unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"
    assert api.get("/api/v1/asks").status_code == 401
    assert checkin_rows(example) == []


def test_an_archived_persons_token_stops_working(example: App) -> None:
    """chen leaves the OKR file: her token gets 401, as someone krbot does not know (test_api_keys: for good)."""
    secret = token(example, "chen")
    api = client(example)
    assert api.get("/api/v1/okrs", headers=bearer(secret)).status_code == 200
    reimport(example, okr_file_without(person="chen", heir="zhao"))
    answer = api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": 1.8}}, headers=bearer(secret))
    assert _error(answer, 401)["code"] == "api.unauthorized"
    assert checkin_rows(example) == []


# ---------------------------------------------------------------- check-ins


def test_a_checkin_by_values_or_by_chat_text_is_stored_and_appears_in_the_export(example: App) -> None:
    """JSON numbers are numbers, strings are read by §6; note, next, ask and risk are stored like chat's."""
    api, secret = client(example), token(example, "chen")
    answer = api.post(
        CHECKINS,
        json={"code": "kr2", "values": {"新客转化率": 1.8, "ACOS": "23%"}, "note": "素材更新", "next": "扩大精准词",
              "ask": "追加5000欧预算", "risk": "旺季竞价"},
        headers=bearer(secret),
    )
    assert answer.status_code == 201, answer.text
    saved = answer.json()
    assert [(v["name"], v["value"]) for v in saved["values"]] == [("新客转化率", 1.8), ("ACOS", 23.0)]
    assert saved["asks"] == [{"kind": "money", "amount": 5000.0, "unit": "EUR", "text": "追加5000欧预算"}]
    assert saved["message"].startswith("已保存KR2") and saved["standing"]["status"]
    by_text = api.post(
        CHECKINS, json={"code": "KR2", "text": "新客转化率=1.9% 备注：转化回升"}, headers=bearer(secret)
    )
    assert by_text.status_code == 201 and by_text.json()["note"] == "转化回升"
    assert [row.source for row in checkin_rows(example)] == ["api", "api"]
    exported = services.export_all(uow=example.uow, at=NOW)
    mine = [(c["measure"], c["value"], c["note"]) for c in exported["checkins"] if c["person"] == "chen"]
    assert mine == [("新客转化率", 1.8, "素材更新"), ("ACOS", 23.0, "素材更新"), ("新客转化率", 1.9, "转化回升")]
    assert [(a["text"], a["status"]) for a in exported["asks"]] == [("追加5000欧预算", "open")]


def test_someone_elses_kr_is_403_an_unknown_code_404_a_refused_value_422_and_nothing_is_stored(example: App) -> None:
    """Each refusal names its field and says, in the person's language (zh), what would work."""
    api, secret = client(example), token(example, "chen")
    other = _error(api.post(CHECKINS, json={"code": "KR1", "values": {"x": 1}}, headers=bearer(secret)), 403)
    assert other["code"] == "checkin.not_owner" and other["field"] == "code" and "赵磊" in other["message"]
    unknown = _error(api.post(CHECKINS, json={"code": "KR22", "values": {"x": 1}}, headers=bearer(secret)), 404)
    assert unknown["code"] == "code.unknown" and "KR2" in unknown["message"] and unknown["field"] == "code"
    unread = _error(api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": "abc"}}, headers=bearer(secret)), 422)
    assert unread["field"] == "values.新客转化率" and "未保存" in unread["message"]
    twice = api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": "1.500%"}}, headers=bearer(secret))
    ambiguous = _error(twice, 422)
    assert "1500" in ambiguous["message"] and "1.5" in ambiguous["message"]  # both readings, nothing guessed
    far = _error(api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": 2000}}, headers=bearer(secret)), 422)
    assert far["field"] == "values.新客转化率"
    measure = _error(api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化": 1.8, "ACSO": 2}}, headers=bearer(secret)), 422)
    assert measure["code"] == "measure.unknown" and "ACOS" in measure["message"]
    future = _error(api.post(CHECKINS, json={"code": "KR2", "values": {"ACOS": 20}, "at": "2026-12-01"}, headers=bearer(secret)), 422)
    assert future["field"] == "at"
    assert checkin_rows(example) == []


def test_errors_speak_the_workspaces_language_to_people_without_a_zh_or_en_locale(app: App) -> None:
    """The en example: chen writes fr-FR numbers (1,9 %) and reads English refusals."""
    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="okrs.yaml", at=NOW)
    api, secret = client(app), token(app, "chen")
    kr = next(k for o in services.export_all(uow=app.uow, at=NOW)["objectives"] for p in o["paths"]
              for k in p["krs"] if k["owner"] == "chen")
    measure = kr["measures"][0]["name"]
    refused = _error(api.post(CHECKINS, json={"code": kr["code"], "values": {measure: "abc"}}, headers=bearer(secret)), 422)
    assert "nothing was saved" in refused["message"]
    read = api.post(CHECKINS, json={"code": kr["code"], "values": {measure: "1,9 %"}}, headers=bearer(secret))
    assert read.status_code == 201 and read.json()["values"][0]["value"] == 1.9
    invalid = _error(api.post(CHECKINS, json={"values": {}}, headers=bearer(secret)), 422)
    assert invalid["field"] == "code" and "missing" in invalid["message"]


@pytest.mark.parametrize("number", [1.234, 1234.5, 0.001, 52000, 2.5, 1234567.891, 1e-7, 0.1 + 0.2])
def test_a_json_number_is_read_as_that_number_in_every_locale(number: float) -> None:
    """The text a JSON number becomes reads back as the same number (to 15 digits, a double's float noise dropped)
    however the person writes numbers."""
    for locale in ("en-US", "de-DE", "fr-FR", "de-CH", "zh-CN"):
        read = read_value(text=number_text(number=number), unit="EUR", style=number_style(locale=locale))
        assert read == float(format(number, ".15g"))
    assert number_text(number=10**16) == "10000000000000000"  # an integer keeps every digit: refused as too long


def test_an_idempotency_key_stores_once_and_the_retry_gets_the_same_answer(example: App) -> None:
    """Same key twice: one row and the same body; another person's same key is theirs alone."""
    api, chen, sun = client(example), token(example, "chen"), token(example, "sun")
    body = {"code": "KR2", "values": {"新客转化率": 1.8}, "ask": "追加5000欧预算"}
    first = api.post(CHECKINS, json=body, headers=bearer(chen, **{"Idempotency-Key": "erp-42"}))
    again = api.post(CHECKINS, json=body, headers=bearer(chen, **{"Idempotency-Key": "erp-42"}))
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len(checkin_rows(example)) == 1
    with example.uow.begin() as session:
        assert len(session.scalars(select(AskRow)).all()) == 1
    theirs = api.post(CHECKINS, json={"code": "KR3", "values": {"入欧备货": 100}}, headers=bearer(sun, **{"Idempotency-Key": "erp-42"}))
    assert theirs.status_code == 201 and len(checkin_rows(example)) == 2
    long_key = _error(api.post(CHECKINS, json=body, headers=bearer(chen, **{"Idempotency-Key": "k" * 256})), 400)
    assert long_key["field"] == "Idempotency-Key" and "255" in long_key["message"]


def test_concurrent_retries_on_a_real_server_store_one_checkin(example: App) -> None:
    """uvicorn on a free port, eight clients at once with one Idempotency-Key: one row; each answer is the first's,
    or 409 while the first was still in flight."""
    served = serve(app=http_app(example))
    try:
        secret = token(example, "chen")
        headers = bearer(secret, **{"Idempotency-Key": "race-1"})
        body = {"code": "KR2", "values": {"新客转化率": 1.8}}

        def post(_: int) -> httpx.Response:
            return httpx.post(served.url + CHECKINS, json=body, headers=headers, timeout=30)

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(post, range(8)))
    finally:
        served.stop()
    stored = [a for a in answers if a.status_code == 201]
    busy = [a for a in answers if a.status_code != 201]
    assert stored and len({a.text for a in stored}) == 1, [a.text for a in answers]
    assert all(a.status_code == 409 and a.json()["error"]["code"] == "api.idempotency_in_flight" for a in busy)
    assert len(checkin_rows(example)) == 1


# ---------------------------------------------------------------- reading and deciding


def test_okrs_give_the_tree_as_export_does(example: App) -> None:
    """GET /okrs is export's tree: values, completion, forecast and status per objective, path, KR and measure."""
    api, secret = client(example), token(example, "zhao")
    api.post(CHECKINS, json={"code": "KR2", "values": {"新客转化率": 1.8}}, headers=bearer(token(example, "chen")))
    tree = api.get("/api/v1/okrs", headers=bearer(secret)).json()
    assert tree["objectives"] == services.export_all(uow=example.uow, at=NOW)["objectives"]
    kr2 = next(k for p in tree["objectives"][0]["paths"] for k in p["krs"] if k["code"] == "KR2")
    assert kr2["measures"][0]["value"] == 1.8 and kr2["status"] and "completion" in kr2


def test_the_digest_on_each_surface(example: App) -> None:
    """text, markdown, html (with the report's CSP) and json; a bad format or time is a 422, never a 500."""
    api, secret = client(example), token(example, "boss")
    text = api.get("/api/v1/digest", headers=bearer(secret))
    assert text.status_code == 200 and "截至" in text.text and text.headers["content-type"].startswith("text/plain")
    english = api.get("/api/v1/digest?lang=en&format=markdown&as_of=2026-11-13", headers=bearer(secret))
    assert english.status_code == 200 and "as of" in english.text.lower() and "截至" not in english.text
    html = api.get("/api/v1/digest?format=html", headers=bearer(secret))
    assert html.status_code == 200 and html.headers["content-security-policy"] == services_csp()
    data = api.get("/api/v1/digest?format=json", headers=bearer(secret)).json()
    assert [o["code"] for o in data["objectives"]] == ["O1"]
    assert _error(api.get("/api/v1/digest?format=pdf", headers=bearer(secret)), 422)["field"] == "format"
    for moment in ("yesterday", "9999-12-31", "0001-01-01T00:00+14:00"):
        assert _error(api.get(f"/api/v1/digest?as_of={moment}", headers=bearer(secret)), 422)["field"] == "at"


def services_csp() -> str:
    """The HTML report's Content-Security-Policy."""
    from bot.render import REPORT_CSP

    return REPORT_CSP


def test_a_decision_by_api_is_a_button_click_made_once_and_the_asker_is_told_once(example: App) -> None:
    """Member: 403; boss: approved, chen told; the admin's later decision: 409 naming the boss; a retry: same answer."""
    with FakePlatformServer() as chat:
        api = client(example, platforms=[HttpTestPlatform(url=chat.url)])
        chen, boss, lin = token(example, "chen"), token(example, "boss"), token(example, "lin")
        api.post(CHECKINS, json={"code": "KR2", "ask": "追加5000欧预算"}, headers=bearer(chen))
        listed = api.get("/api/v1/asks?status=open", headers=bearer(chen)).json()["asks"]
        assert [(a["text"], a["kind"], a["amount"]) for a in listed] == [("追加5000欧预算", "money", 5000.0)]
        ask = listed[0]["id"]
        path = f"/api/v1/asks/{ask}/decision"
        assert _error(api.post(path, json={"decision": "approve"}, headers=bearer(chen)), 403)["code"] == "ask.not_allowed"
        key = {"Idempotency-Key": "boss-click-1"}
        approved = api.post(path, json={"decision": "approve"}, headers=bearer(boss, **key))
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        retried = api.post(path, json={"decision": "approve"}, headers=bearer(boss, **key))
        assert retried.status_code == 200 and retried.json()["status"] == "approved"
        lost = _error(api.post(path, json={"decision": "decline"}, headers=bearer(lin)), 409)
        assert lost["code"] == "ask.already" and "王总" in lost["message"]
        clicked = services.decide_ask(uow=example.uow, person="lin", ask_id=ask, approve=False, at=NOW)
        assert clicked.key == "ask.already"
        assert _error(api.post("/api/v1/asks/99999/decision", json={"decision": "approve"}, headers=bearer(boss)), 404)
        assert _error(api.post(f"/api/v1/asks/{2**40}/decision", json={"decision": "approve"}, headers=bearer(boss)), 422)
        assert _error(api.post(path, json={"decision": "maybe"}, headers=bearer(boss)), 422)["field"] == "decision"
        told = [r for r in chat.stats.received if r.get("kind") == "notice"]
    assert [r["target"] for r in told] == ["chen"]
    assert [(a["status"], a["decided_by"]) for a in services.export_all(uow=example.uow, at=NOW)["asks"]] == [
        ("approved", "boss")
    ]
    assert api.get("/api/v1/asks?status=open", headers=bearer(chen)).json()["asks"] == []


def test_malformed_requests_get_4xx_in_the_one_error_shape(example: App) -> None:
    """Bad JSON, a list for a body, unknown fields, both text and values, unknown paths and methods."""
    api, secret = client(example), token(example, "chen")
    headers = bearer(secret, **{"Content-Type": "application/json"})
    assert _error(api.post(CHECKINS, content=b"{bad", headers=headers), 422)["code"] == "api.bad_body"
    assert "JSON" in _error(api.post(CHECKINS, content=b"{bad", headers=headers), 422)["message"]
    assert _error(api.post(CHECKINS, json=[1, 2], headers=bearer(secret)), 422)["code"] == "api.bad_body"
    typo = _error(api.post(CHECKINS, json={"code": "KR2", "nxt": "x"}, headers=bearer(secret)), 422)
    assert typo["field"] == "nxt" and "字段" in typo["message"]
    both = _error(api.post(CHECKINS, json={"code": "KR2", "text": "1.8%", "values": {"ACOS": 20}}, headers=bearer(secret)), 422)
    assert both["code"] == "api.text_or_values"
    nul = api.post(CHECKINS, content=rb'{"code": "KR2", "values": {"ACOS": 20}, "note": "a\u0000b"}', headers=headers)
    assert nul.status_code == 201 and nul.json()["note"] == "ab"  # PostgreSQL takes no NUL: it is dropped
    half = rb'{"code": "KR2", "values": {"ACOS": 20}, "note": "a\ud800"}'  # half a surrogate pair: no text at all
    assert _error(api.post(CHECKINS, content=half, headers=headers), 422)["code"] == "api.bad_body"
    assert _error(api.get("/api/v1/nothing", headers=bearer(secret)), 404)["code"] == "api.not_found"
    assert _error(api.delete(CHECKINS, headers=bearer(secret)), 405)["code"] == "api.method"


def test_the_openapi_document_and_docs_are_served_beside_the_api(example: App) -> None:
    """Generated from the code: every operation with bearer auth; the docs page points at it."""
    api = client(example)
    document = api.get("/api/v1/openapi.json").json()
    assert set(document["paths"]) == {"/checkins", "/okrs", "/digest", "/asks", "/asks/{ask_id}/decision"}
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = api.get("/api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text
    api.post("/hooks/krh_none", json={"value": 1})
    metrics = api.get("/metrics").text  # API and hook requests are timed under their fixed start, not one per URL
    assert 'route="/api/v1/*"' in metrics and 'route="/hooks/*"' in metrics and "krh_none" not in metrics
