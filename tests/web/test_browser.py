"""CONTRACT §10 in a real browser: Debian's Chromium driven by Playwright for Python against `krbot run --http`'s app
served by uvicorn — sign-in by link (a second use refused), the report's numbers, a KR page's chart and timeline,
axe-core in zh and en, a 390 px phone without sideways scroll, printing on A4, and screenshots kept as artifacts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import services
from bot.app import App, build_app
from bot.render import render_report
from bot.services.web_access import create_share
from tests.conftest import EXAMPLE_ZH, IMPORTED_AT, ROOT
from tests.fakes.served import Served, serve
from tests.fakes.web_client import NOW, PUBLIC, SECRET, Clock, http_app, link, quarter

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                "(apt-get install chromium fonts-noto-cjk; never `playwright install`)")
ARTIFACTS = Path(os.environ.get("KRBOT_ARTIFACTS", ROOT / "tmp" / "artifacts")) / "web"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Served]]:
    """The example quarter on a real SQLite file, served by uvicorn as `krbot run --http --web-only` serves it."""
    app = build_app(database_url=f"sqlite:///{tmp_path_factory.mktemp('web') / 'krbot.db'}")
    services.import_okrs(uow=app.uow, text=EXAMPLE_ZH.read_text(encoding="utf-8"), filename="q4.yaml", at=IMPORTED_AT)
    quarter(app)
    served = serve(app=http_app(app, clock=Clock()))
    yield app, served
    served.stop()
    app.uow.engine.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (its own browsers are never downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def _signed_in(chromium: Any, site: tuple[App, Served], person: str = "boss", **context: Any) -> Any:
    """A new browser context signed in as `person` by opening their link and pressing its button."""
    app, served = site
    page = chromium.new_context(**context).new_page()
    page.goto(served.url + link(app, person).removeprefix(PUBLIC))
    page.get_by_role("button").click()
    page.wait_for_url(served.url + "/")
    return page


def test_sign_in_by_link_and_a_second_use_is_refused(chromium: Any, site: tuple[App, Served]) -> None:
    """The link's page, one click, the report under the person's name; the same link in another browser: refused."""
    app, served = site
    path = link(app, "chen").removeprefix(PUBLIC)
    first = chromium.new_context(locale="zh-CN").new_page()
    first.goto(served.url + "/kr/KR2")
    assert "/signin" in first.url  # no page without a session
    first.goto(served.url + path)
    first.get_by_role("button", name="登录").click()
    first.wait_for_url(served.url + "/kr/KR2")  # back to the page that was asked for
    assert first.locator(".who").inner_text() == "陈静"
    second = chromium.new_context(locale="zh-CN").new_page()
    second.goto(served.url + path)
    second.get_by_role("button", name="登录").click()
    assert second.locator("h1").inner_text() == "此链接已不能登录"
    second.goto(served.url + "/")
    assert "/signin" in second.url


def test_the_report_shows_the_digests_conclusions_first(chromium: Any, site: tuple[App, Served]) -> None:
    """The conclusions on / are the digest's for the same as-of, word for word, before the data."""
    app, _ = site
    page = _signed_in(chromium, site)
    digest, charts = services.compose_report(uow=app.uow, as_of=NOW)
    expected = re.findall(r'<p class="conclusion [a-z_]+" id="conclusion-\w+">(.*?)</p>',
                          render_report(digest=digest, charts=charts, lang="zh"))
    shown = [text.split(" · ", 1)[1] for text in page.locator(".conclusion").all_inner_texts()]
    assert expected and shown == [re.sub(r"&#3[49];|&quot;", lambda m: {"&#34;": '"', "&#39;": "'",
                                                                       "&quot;": '"'}[m.group(0)], e) for e in expected]
    assert page.locator(".conclusion").first.bounding_box()["y"] < page.locator("table").first.bounding_box()["y"]


def test_a_kr_page_draws_its_chart_and_timeline(chromium: Any, site: tuple[App, Served]) -> None:
    """KR2: a chart with target, points, forecast and band drawn on screen, its numbers table, the timeline newest
    first; a click on the objective link opens O1."""
    _, served = site
    page = _signed_in(chromium, site, "chen")
    page.goto(served.url + "/kr/KR2")
    chart = page.locator("figure.chart svg").first
    assert chart.bounding_box()["width"] > 200
    for part in ("line.target", "polyline.actual", "circle.dot", "line.forecast", "polygon.band"):
        assert chart.locator(part).count() >= 1, part
    page.get_by_text(re.compile(r"数据明细")).first.click()
    assert page.locator("td.num").first.is_visible()
    times = page.locator(".timeline .when").all_inner_texts()
    assert len(times) >= 5
    page.locator(".crumbs a").first.click()
    page.wait_for_url(served.url + "/o/O1")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_axe_finds_no_serious_or_critical_violation(chromium: Any, site: tuple[App, Served], lang: str) -> None:
    """axe-core on every page, in both languages: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    app, served = site
    page = _signed_in(chromium, site, bypass_csp=True)  # axe is injected as a script; the pages' own CSP is tested apart
    page.goto(f"{served.url}/lang/{lang}?next=/")
    share = create_share(uow=app.uow, week="2026-W46", made_for="Audit", at=NOW, secret_key=SECRET,
                         public_url=PUBLIC)[1].removeprefix(PUBLIC)
    found = {}
    for path in ("/", "/?week=2026-W46", "/kr/KR2", "/kr/KR1", "/o/O1", "/o/O2", "/signin", "/kr/NONE", share):
        page.goto(served.url + path)
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
        violations = Axe().run(page).response["violations"]
        found[path] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations
                       if v["impact"] in ("serious", "critical")]
    assert all(not bad for bad in found.values()), found


def test_a_phone_390_px_wide_never_scrolls_sideways(chromium: Any, site: tuple[App, Served]) -> None:
    """/, a KR page and an objective page fit 390 px; the measure itself sees a page that would not (positive control)."""
    _, served = site
    page = _signed_in(chromium, site, "boss", viewport=PHONE)
    width = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    for path in ("/", "/kr/KR2", "/kr/KR4", "/o/O1"):
        page.goto(served.url + path)
        assert page.evaluate(width) <= PHONE["width"], path
    page.evaluate("Object.assign(document.body.appendChild(document.createElement('div')).style,"
                  " {width: '1000px', height: '10px'})")
    assert page.evaluate(width) > PHONE["width"]


def test_the_report_prints_on_one_a4_page_and_screenshots_are_kept(chromium: Any, site: tuple[App, Served]) -> None:
    """Print CSS makes / one A4 page; screenshots of / and /kr/KR2 in zh go to the artifacts folder."""
    _, served = site
    page = _signed_in(chromium, site, "boss", viewport={"width": 1100, "height": 900})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    page.screenshot(path=str(ARTIFACTS / "report-zh.png"), full_page=True)
    printed = {}
    for path, name in (("/kr/KR2", "kr2-zh.png"), ("/o/O1", "o1-zh.png")):
        page.goto(served.url + path)
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        printed[path] = len(re.findall(rb"/Type\s*/Page(?!s)", page.pdf(format="A4", print_background=True)))
    phone = _signed_in(chromium, site, "boss", viewport=PHONE)
    phone.screenshot(path=str(ARTIFACTS / "report-zh-390px.png"), full_page=True)
    print("\nscreenshots: " + ", ".join(str(ARTIFACTS / name) for name in (
        "report-zh.png", "kr2-zh.png", "o1-zh.png", "report-zh-390px.png")) + f"; printed pages: / {pages}, {printed}")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.screenshot(path=str(ARTIFACTS / "o1-zh-print.png"), full_page=True)
    assert pages == 1, f"/ prints on {pages} A4 pages"
    assert printed == {"/kr/KR2": 1, "/o/O1": 1}, printed


def test_htmx_loads_under_the_csp_without_a_violation(chromium: Any, site: tuple[App, Served]) -> None:
    """With the pages' own CSP in force, htmx loads and the browser reports no CSP violation."""
    _, served = site
    page = _signed_in(chromium, site, "boss")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(served.url + "/kr/KR2")
    page.wait_for_function("typeof window.htmx !== 'undefined'")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_the_week_picker_swaps_the_report_in_place(chromium: Any, site: tuple[App, Served]) -> None:
    """htmx (vendored, under the CSP) replaces the report without reloading the page, and the address follows."""
    _, served = site
    page = _signed_in(chromium, site, "boss")
    page.wait_for_function("typeof window.htmx !== 'undefined'")
    page.evaluate("window.stayed = true")  # gone if the browser loaded a whole new page
    page.get_by_role("link", name=re.compile("上一周")).click()
    page.wait_for_url(re.compile(r"\?week=2026-W46$"))
    page.wait_for_function("document.querySelector('h1').innerText.includes('11月15日')")
    assert page.evaluate("window.stayed === true")
