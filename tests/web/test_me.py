"""`/me` over the real server app on SQLite and PostgreSQL: what I owe this period, one check-in form per KR I report
on (stored by the chat form's service, echoed as chat echoes it, htmx in place or a plain post and redirect), refusals
beside their fields with nothing stored, my asks and the asks waiting on my decision — in zh and en."""

from __future__ import annotations

import re

import pytest

from bot import services
from bot.app import App
from bot.render import render_reply
from tests.conftest import EXAMPLE_EN, IMPORTED_AT
from tests.fakes.web_client import NOW, browser, csrf_of, sign_in

HTMX = {"HX-Request": "true"}


def once_of(html: str, code: str) -> str:
    """The once-per-form token of one KR's form on the page."""
    section = html.split(f'id="kr-{code}"', 1)[1]
    found = re.search(r'name="once" value="([^"]+)"', section)
    assert found, f"no form for {code}"
    return found.group(1)


def checkins(app: App, code: str) -> list[tuple[str, float, str]]:
    """The check-in values stored on one code: (measure, value, person)."""
    rows = services.export_all(uow=app.uow, at=NOW)["checkins"]
    return [(c["measure"], c["value"], c["person"]) for c in rows if c["code"] == code]


def test_me_says_what_i_owe_this_period_and_drops_a_kr_once_checked_in(example: App) -> None:
    """chen reports on KR2 and KR4: both owed this ISO week; a check-in on /me (htmx) takes KR2 off the list."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    assert page.status_code == 200
    assert "本期待办（2026-W47）" in page.text and "尚未更新：KR2、KR4" in page.text
    assert 'id="kr-KR2"' in page.text and 'id="kr-KR4"' in page.text and 'id="kr-KR3"' not in page.text  # KR3: sun's
    saved = client.post("/me/checkin/KR2", headers=HTMX,
                        data={"csrf": csrf_of(page.text), "once": once_of(page.text, "KR2"), "m:新客转化率": "1.9%",
                              "note": "素材更新后转化回升"})
    assert saved.status_code == 200
    assert saved.text.lstrip().startswith('<section class="checkin" id="kr-KR2"')  # the fragment htmx swaps in
    assert "<html" not in saved.text
    owed = saved.text.split('id="owed" hx-swap-oob="true">', 1)[1]  # the list of what I owe follows, out of band
    assert "尚未更新：KR4" in owed and "已于" in owed.split("KR2", 2)[2].split("</li>", 1)[0]
    assert re.search(r'class="echo" role="status">已保存KR2：新客转化率 = 1\.9%', saved.text)
    assert checkins(example, "KR2") == [("新客转化率", 1.9, "chen")]
    again = client.get("/me")
    assert "尚未更新：KR4" in again.text and "KR2 — 已于" not in again.text.replace("</a>", "")


def test_the_echo_is_the_chat_echo(example: App) -> None:
    """The web's echo is word for word what `/kr update` answers for the same value."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    saved = client.post("/me/checkin/KR2", headers=HTMX, data={"csrf": csrf_of(page.text),
                                                               "once": once_of(page.text, "KR2"), "m:新客转化率": "1.9%"})
    echo = re.search(r'class="echo" role="status">([^<]+)</p>', saved.text).group(1)
    chat = services.run_command(uow=example.uow, person="chen", text="update KR2 1.9%", at=NOW)
    assert echo == render_reply(reply=chat)


def test_without_javascript_a_post_redirects_to_me_with_the_echo_on_top(example: App) -> None:
    """A plain form post: 303 to /me, whose next view shows the echo once."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    done = client.post("/me/checkin/KR4", data={"csrf": csrf_of(page.text), "once": once_of(page.text, "KR4"),
                                                "m:竞品监控覆盖率": "90%"})
    assert (done.status_code, done.headers["location"]) == (303, "/me#kr-KR4")
    shown = client.get("/me").text
    assert re.search(r'class="echo" role="status">已保存KR4：竞品监控覆盖率 = 90%', shown)
    assert 'class="echo"' not in client.get("/me").text  # said once
    assert ("竞品监控覆盖率", 90.0, "chen") in checkins(example, "KR4")


def test_a_refused_value_is_named_beside_its_field_and_nothing_is_stored(example: App) -> None:
    """`abc` and an ambiguous `€5.000`-style value: the measure's field says what was wrong and what works."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    bad = client.post("/me/checkin/KR2", data={"csrf": csrf_of(page.text), "once": once_of(page.text, "KR2"),
                                               "m:新客转化率": "abc", "note": "留着"})
    assert bad.status_code == 400
    assert re.search(r'class="error" id="KR2-e1">新客转化率：无法把“abc”读成数值——可以写 1\.8%', bad.text)
    assert 'value="abc"' in bad.text and 'value="留着"' in bad.text  # what was typed is kept
    fragment = client.post("/me/checkin/KR2", headers=HTMX,
                           data={"csrf": csrf_of(page.text), "once": "second", "m:新客转化率": "+0.2%"})
    assert fragment.status_code == 200 and 'aria-invalid="true"' in fragment.text and "<html" not in fragment.text
    assert checkins(example, "KR2") == []


def test_someone_elses_kr_and_a_forged_post_store_nothing(example: App) -> None:
    """chen posting KR3 (sun's) is refused naming its owner; a POST without the session's CSRF token gets 403."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    other = client.post("/me/checkin/KR3", data={"csrf": csrf_of(page.text), "once": "x", "m:入欧备货": "50"})
    assert other.status_code == 400 and "孙浩" in other.text
    forged = client.post("/me/checkin/KR2", data={"csrf": "not-the-token", "m:新客转化率": "1.9%"})
    assert forged.status_code == 403
    assert checkins(example, "KR3") == [] and checkins(example, "KR2") == []


def test_one_form_sent_twice_is_stored_once(example: App) -> None:
    """A double click (the same form's token twice) stores one check-in."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    data = {"csrf": csrf_of(page.text), "once": once_of(page.text, "KR2"), "m:新客转化率": "1.9%"}
    assert client.post("/me/checkin/KR2", data=data).status_code == 303
    assert client.post("/me/checkin/KR2", data=data).status_code == 303
    assert checkins(example, "KR2") == [("新客转化率", 1.9, "chen")]


def test_my_asks_and_the_asks_waiting_on_my_decision(example: App) -> None:
    """chen sees her open ask; the boss sees it waiting on him; a member has no waiting list."""
    services.run_command(uow=example.uow, person="chen", text="update KR2 1.7% 需求：追加5000欧预算", at=NOW)
    chen = sign_in(browser(example), example, "chen").get("/me").text
    assert "我的未决需求" in chen and "追加5000欧预算" in chen and "等我决定的需求" not in chen
    boss = sign_in(browser(example), example, "boss").get("/me").text
    assert "等我决定的需求（1）" in boss and "陈静: 追加5000欧预算" in boss and 'href="/asks"' in boss
    assert "本周期你没有负责或代报的KR" in boss


@pytest.fixture
def example_en(app: App) -> App:
    """The English example workspace."""
    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename=str(EXAMPLE_EN),
                         at=IMPORTED_AT)
    return app


def test_me_in_english(example_en: App) -> None:
    """The English workspace: the page's words and the echo in English."""
    client = sign_in(browser(example_en), example_en, "chen")
    page = client.get("/me")
    assert "Chen Jing: my week" in page.text and "What I owe this period (2026-W47)" in page.text
    assert "Not checked in since" in page.text
    name = re.search(r'name="m:([^"]+)"', page.text.split('id="kr-KR2"', 1)[1]).group(1)
    saved = client.post("/me/checkin/KR2", headers=HTMX,
                        data={"csrf": csrf_of(page.text), "once": once_of(page.text, "KR2"), f"m:{name}": "1.9%"})
    # chen writes numbers the German way in this file: the echo says 1,9 % as her locale writes it (§6)
    echo = rf'class="echo" role="status">Saved KR2: {re.escape(name)} = 1,9\u00a0?\s?%'
    assert re.search(echo, saved.text), saved.text
    bad = client.post("/me/checkin/KR2", data={"csrf": csrf_of(page.text), "once": "y", f"m:{name}": "abc"})
    assert bad.status_code == 400 and "abc" in bad.text and "nothing was saved" in bad.text.lower()


def test_the_form_takes_the_owners_confidence_and_refuses_a_wrong_one_beside_its_field(example: App) -> None:
    """Confidence on /me is read as in chat (0–10 or the words), stored with the check-in, and kept in the form."""
    client = sign_in(browser(example), example, "chen")
    page = client.get("/me")
    refused = client.post("/me/checkin/KR2", headers=HTMX, data={
        "csrf": csrf_of(page.text), "once": once_of(page.text, "KR2"), "m:新客转化率": "1.9%", "confidence": "12"})
    assert 'id="KR2-e-confidence"' in refused.text and 'aria-invalid="true"' in refused.text
    assert checkins(example, "KR2") == []
    saved = client.post("/me/checkin/KR2", headers=HTMX, data={
        "csrf": csrf_of(page.text), "once": once_of(page.text, "KR2"), "m:新客转化率": "1.9%", "confidence": "有风险"})
    assert "信心5/10" in saved.text
    stored = services.export_all(uow=example.uow, at=NOW)["checkins"]
    assert [c.get("confidence") for c in stored if c["code"] == "KR2"] == [5]
