"""CONTRACT §10 without a browser: sign-in by a one-time link, sessions that end, CSRF, rights, 404 across workspaces,
the report's numbers equal to `krbot digest`, a KR page's chart and timeline, and share links — against the real
server app (API, hooks and web on one port) and a real SQLite file and PostgreSQL schema."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot import services
from bot.app import App
from storage.web_rows import ShareLinkRow, WebSessionRow
from tests.conftest import EXAMPLE_EN
from tests.fakes.okr_helpers import count, okr_file_without, reimport
from tests.fakes.web_client import NOW, PUBLIC, SECRET, Clock, browser, csrf_of, link, quarter, sign_in

PAGES = ("/", "/kr/KR2", "/o/O1", "/?week=2026-W46")


def _text(html: str) -> str:
    """A page's visible text, tags dropped, entities read, spaces folded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_a_link_signs_in_once_within_ten_minutes(example: App) -> None:
    """The link's page asks for one click; the click opens a session; the same link again, an old one or a forged
    one is refused with what to do instead, and opens nothing."""
    quarter(example)
    client = browser(example)
    sign_in(client, example, "boss")
    assert "王总" in client.get("/").text
    path = link(example, "chen").removeprefix(PUBLIC)
    first = browser(example)
    assert first.post(path, data={"csrf": csrf_of(first.get(path).text)}).status_code == 303
    second = browser(example)
    refused = second.post(path, data={"csrf": csrf_of(second.get(path).text)})
    assert refused.status_code == 403 and "/kr web" in refused.text and "krbot web-link" in refused.text
    assert second.get("/").status_code == 303  # the second use opened nothing
    clock = Clock()
    late = browser(example, clock=clock)
    old = link(example, "chen").removeprefix(PUBLIC)
    clock.at = NOW + timedelta(minutes=11)
    assert late.post(old, data={"csrf": csrf_of(late.get(old).text)}).status_code == 403
    forged = old[:-3] + ("AAA" if not old.endswith("AAA") else "BBB")
    assert late.post(forged, data={"csrf": csrf_of(late.get(forged).text)}).status_code == 403
    assert late.get("/").status_code == 303


def test_every_page_without_a_session_goes_to_sign_in_and_back(example: App) -> None:
    """No page shows without a session: each redirects to /signin, and signing in returns to it."""
    client = browser(example)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next="), path
    assert client.get(client.get("/kr/KR2").headers["location"]).status_code == 200
    path = link(example, "chen").removeprefix(PUBLIC)
    back = client.post(path, data={"csrf": csrf_of(client.get(path).text)})
    assert back.headers["location"] == "/kr/KR2"
    assert client.get("/kr/KR2").status_code == 200


def test_a_session_ends_on_sign_out_and_when_its_person_is_archived(example: App) -> None:
    """Signing out ends the session for a copied cookie too; a person leaving the OKR file is signed out at once."""
    client = sign_in(browser(example), example, "boss")
    copied = browser(example)
    copied.cookies.update(client.cookies)
    assert copied.get("/").status_code == 200
    assert client.post("/signout", data={"csrf": csrf_of(client.get("/").text)}).status_code == 303
    assert copied.get("/").status_code == 303 and client.get("/").status_code == 303
    chen = sign_in(browser(example), example, "chen")
    assert chen.get("/kr/KR2").status_code == 200
    reimport(example, okr_file_without(person="chen", heir="zhao"))
    assert chen.get("/kr/KR2").status_code == 303


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(example: App) -> None:
    """A forged POST (no token, another session's token) gets 403; the same form with the token works."""
    client = sign_in(browser(example), example, "boss")
    other = sign_in(browser(example), example, "lin")
    form = {"week": "2026-W46", "made_for": "审计"}
    assert client.post("/shares", data=form).status_code == 403
    assert client.post("/shares", data={**form, "csrf": csrf_of(other.get("/").text)}).status_code == 403
    assert client.post("/signout").status_code == 403 and client.get("/").status_code == 200
    assert count(example, ShareLinkRow) == 0
    made = client.post("/shares", data={**form, "csrf": csrf_of(client.get("/").text)})
    assert made.status_code == 200 and "/share/" in made.text and count(example, ShareLinkRow) == 1


def test_a_member_may_not_share_and_sees_no_share_button(example: App) -> None:
    """Sharing outside is the boss's or an admin's (bot.core.rules.may_decide), checked on the request itself."""
    chen = sign_in(browser(example), example, "chen")
    page = chen.get("/").text
    assert 'action="/shares"' not in page
    refused = chen.post("/shares", data={"week": "2026-W46", "made_for": "x", "csrf": csrf_of(page)})
    assert refused.status_code == 403 and "老板或管理员" in refused.text
    assert count(example, ShareLinkRow) == 0
    assert 'action="/shares"' in sign_in(browser(example), example, "boss").get("/").text


def _second_workspace(app: App) -> None:
    """The English example as a workspace of its own, its KR4 called KR44 there."""
    data = yaml.safe_load(EXAMPLE_EN.read_text(encoding="utf-8"))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).replace("code: KR4\n", "code: KR44\n")
    assert "KR44" in text
    services.import_okrs(uow=app.uow, text=text, filename="en.yaml", at=NOW - timedelta(days=60))


def test_a_code_of_another_workspace_is_404(example: App) -> None:
    """KR44 is a KR of the other workspace: 404 for this one's people, the page for that one's."""
    _second_workspace(example)
    ours = sign_in(browser(example), example, "boss", workspace="欧洲事业部")
    missing = ours.get("/kr/KR44")
    assert missing.status_code == 404 and "KR44" in missing.text
    assert ours.get("/o/O9").status_code == 404
    theirs = sign_in(browser(example), example, "boss", workspace="Europe Division")
    assert theirs.get("/kr/KR44").status_code == 200
    assert "Europe Division" in theirs.get("/").text and "欧洲事业部" not in theirs.get("/").text


def _conclusions(html: str) -> list[str]:
    """Each objective's conclusion sentence, as the report writes it."""
    found = re.findall(r'<p class="conclusion [a-z_]+" id="conclusion-\w+">(.*?)</p>', html, flags=re.S)
    return [_text(item).split(" · ", 1)[-1] for item in found]


def test_the_report_has_the_numbers_of_krbot_digest_for_the_same_as_of(
    example: App, run_cli: Callable[..., Any]
) -> None:
    """/?week=2026-W46 is the digest as of the end of Sunday 15 November: the same conclusions, KR lines and asks
    as `krbot digest --as-of 2026-11-15` prints, conclusion first; each objective and KR links to its page."""
    quarter(example)
    code, printed, _ = run_cli("digest", "--format", "html", "--as-of", "2026-11-15")
    assert code == 0
    page = sign_in(browser(example), example, "boss").get("/?week=2026-W46").text
    expected = _conclusions(printed)
    assert expected and _conclusions(page) == expected
    measures = re.findall(r"<td>((?:[^<]+<br>)+)", printed)
    lines = [line.strip() for cell in measures for line in unescape(cell).split("<br>") if line.strip()]
    shown = _text(page)
    assert lines and all(line in shown for line in lines)
    assert shown.index(expected[0]) < shown.index("关键数据")
    for target in ("/o/O1", "/kr/KR2", "/kr/KR4"):
        assert f'href="{target}"' in page
    assert "on_track" in page or "at_risk" in page or "off_track" in page
    assert re.search(r'<span class="status \w+"><span class="dot" aria-hidden="true"></span>(正常|有风险|落后|已完成)', page)


def test_a_week_that_cannot_be_read_says_how_to_write_it(example: App) -> None:
    """A bad ?week= names the word and an example; the week under way shows no 'week after'."""
    client = sign_in(browser(example), example, "boss")
    bad = client.get("/?week=W99")
    assert bad.status_code == 400 and "W99" in bad.text and re.search(r"\d{4}-W\d{2}", _text(bad.text))
    assert "rel=\"next\"" not in client.get("/").text and "rel=\"next\"" in client.get("/?week=2026-W44").text


def test_a_kr_page_has_each_measures_chart_numbers_and_one_timeline_newest_first(example: App) -> None:
    """KR2's chart (target line, daily points, forecast with its band, deadline), its numbers as a table, and check-ins,
    an ask, its decision and a goal change (with reason and who) in one timeline, newest first; user text escaped."""
    quarter(example)
    at = NOW - timedelta(hours=3)
    assert services.run_command(uow=example.uow, person="chen", at=at,
                                text="/kr update KR2 新客转化率=1.9% 备注：<script>alert(1)</script> 需求：追加5000欧预算").ok
    ask = max(a["id"] for a in services.export_all(uow=example.uow, at=NOW)["asks"])
    services.decide_ask(uow=example.uow, person="boss", ask_id=ask, approve=True, at=at + timedelta(hours=1))
    assert services.run_command(uow=example.uow, person="lin", at=at + timedelta(hours=2),
                                text="/kr change KR2 target=2.2% 原因：竞品降价").ok
    page = sign_in(browser(example), example, "chen").get("/kr/KR2").text
    for part in ('class="target"', 'class="actual"', 'class="dot"', 'class="forecast"', 'class="band"', "<table"):
        assert part in page, part
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = _text(page)
    change, decision, checkin = (text.index("林雪 修改了"), text.index("王总 批准了"), text.index("陈静 更新了进度"))
    assert change < decision < checkin  # newest first
    assert "原因：竞品降价" in text and "陈静 提出需求：追加5000欧预算" in text
    assert "负责人（R）" in text and "陈静" in text
    rows = re.findall(r'<td class="num">', page)
    assert len(rows) >= 5


def test_an_objective_page_lists_its_krs_with_status_words(example: App) -> None:
    """O1's page: its headline's chart, each KR linked with its status in words."""
    quarter(example)
    page = sign_in(browser(example), example, "zhao").get("/o/O1").text
    assert '<svg' in page and 'href="/kr/KR2"' in page
    assert re.search(r"(正常|有风险|落后|已完成)</span>", page)


def test_share_links_show_one_week_read_only_and_end_when_expired_or_revoked(
    example: App, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`krbot share create` prints a link that shows that week's report to anyone, naming who it is for, with no link
    into the workspace and no form; 14 days later, or once revoked, it shows nothing; a forged one is 404."""
    quarter(example)
    monkeypatch.setenv("KRBOT_SECRET_KEY", SECRET)
    monkeypatch.setenv("KRBOT_PUBLIC_URL", PUBLIC)
    code, out, err = run_cli("share", "create", "--week", "2026-W46", "--for", "审计 张三")
    assert code == 0, err
    url = re.search(r"http://testserver(/share/\S+)", out).group(1)
    clock = Clock()
    outsider = browser(example, clock=clock)
    shown = outsider.get(url)
    assert shown.status_code == 200 and "审计 张三" in shown.text and "截至11月15日" in _text(shown.text)
    assert not re.search(r'href="/(kr|o|me|asks|\?)', shown.text) and 'method="post"' not in shown.text
    assert outsider.get("/").status_code == 303  # nothing else of the workspace opens
    assert outsider.get(url[:-2] + "xx").status_code == 404
    made = datetime.now(UTC)  # `krbot share create` made it on the real clock
    clock.at = made + timedelta(days=14, minutes=1)
    assert outsider.get(url).status_code == 410
    clock.at = made + timedelta(days=13, hours=23)
    assert outsider.get(url).status_code == 200
    clock.at = NOW
    share_id = re.search(r"\b(\d+)\b", out).group(1)
    assert run_cli("share", "revoke", share_id)[0] == 0
    gone = outsider.get(url)
    assert gone.status_code == 410 and "撤销" in gone.text
    assert run_cli("share", "revoke", share_id)[0] == 2


def test_krbot_web_link_prints_a_link_and_needs_the_secret_key(
    example: App, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without KRBOT_SECRET_KEY the command names `krbot secret-key`; with it, one stored nonce and a link."""
    monkeypatch.delenv("KRBOT_SECRET_KEY", raising=False)
    code, _, err = run_cli("web-link", "--as", "boss")
    assert code == 2 and "krbot secret-key" in err
    monkeypatch.setenv("KRBOT_SECRET_KEY", SECRET)
    code, out, _ = run_cli("web-link", "--as", "boss")
    assert code == 0 and "王总" in out and "/signin/" in out
    with example.uow.begin() as session:
        assert [row.person_key for row in session.scalars(select(WebSessionRow))] == ["boss"]
    assert run_cli("web-link", "--as", "nobody")[0] == 2


def test_pages_carry_a_csp_without_inline_script_and_no_inline_style(example: App) -> None:
    """Every page: a Content-Security-Policy allowing scripts from this site only, and no inline script or style."""
    quarter(example)
    client = sign_in(browser(example), example, "boss")
    for path in (*PAGES, "/signin"):
        answer = client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text) and "<style" not in answer.text
        assert not re.search(r"\sstyle=", answer.text) and not re.search(r"\son[a-z]+=", answer.text)
    assert client.get("/static/htmx.min.js").status_code == 200


def test_the_session_cookie_is_httponly_and_lax(example: App) -> None:
    """The cookie a sign-in sets: HttpOnly, SameSite=Lax, 30 days; Secure when KRBOT_PUBLIC_URL is https."""
    client = browser(example)
    path = link(example, "boss").removeprefix(PUBLIC)
    answer = client.post(path, data={"csrf": csrf_of(client.get(path).text)})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and f"max-age={30 * 86400}" in cookie
    assert "secure" not in cookie
    served = browser(example, public="https://okr.example.com")
    path = link(example, "boss").removeprefix(PUBLIC)
    answer = served.post(path, data={"csrf": csrf_of(served.get(path).text)})
    assert answer.status_code == 303 and "; secure" in answer.headers["set-cookie"].lower()


def test_after_the_cycle_the_report_is_the_final_one_and_past_weeks_stay_as_they_were(example: App) -> None:
    """In January `/` is the final report of 2026-Q4; a week of October is the weekly report as of its Sunday."""
    quarter(example)
    clock = Clock(datetime(2027, 1, 6, 12, 0, tzinfo=UTC))
    client = browser(example, clock=clock)
    path = link(example, "boss", at=clock.at).removeprefix(PUBLIC)
    client.post(path, data={"csrf": csrf_of(client.get(path).text)})
    assert "OKR最终报告" in _text(client.get("/").text)
    october = _text(client.get("/?week=2026-W40").text)
    assert "OKR周报" in october and "截至10月4日" in october
