"""/me in a real browser (Playwright driving the system Chromium, never a downloaded one) against a real server: a
check-in typed into a KR's form is stored and its echo swapped in place by htmx, the page itself not reloaded."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import services
from bot.app import App
from tests.fakes.served import Served, serve
from tests.fakes.web_client import NOW, PUBLIC, Clock, http_app, link

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no system Chromium at /usr/bin/chromium")


@pytest.fixture
def site(example: App) -> Iterator[Served]:
    """The server app (API, hooks and web) on a real port, over the example."""
    served = serve(app=http_app(example, clock=Clock()))
    yield served
    served.stop()


def test_a_check_in_on_me_is_stored_and_echoed_in_place(example: App, site: Served) -> None:
    """chen signs in by link, types 1.9% into KR2's form and saves: the echo appears in KR2's section (htmx, no page
    load), the check-in is stored, and the page still has her other KR's form."""
    from playwright.sync_api import expect, sync_playwright

    artifacts = Path(os.environ.get("KRBOT_ARTIFACTS", "tmp/artifacts/web"))
    artifacts.mkdir(parents=True, exist_ok=True)
    url = link(example, "chen").replace(PUBLIC, site.url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(url)
            page.get_by_role("button", name="登录").click()
            page.goto(site.url + "/me")
            expect(page.get_by_role("heading", level=1)).to_have_text("陈静：我的本周")
            page.evaluate("window.notReloaded = true")  # gone if the browser loads a new page
            section = page.locator("#kr-KR2")
            section.get_by_label("新客转化率").fill("1.9%")
            section.get_by_label("备注").fill("素材更新后转化回升")
            section.get_by_role("button", name="保存KR2").click()
            echo = page.locator("#kr-KR2 .echo")
            expect(echo).to_contain_text("已保存KR2：新客转化率 = 1.9%")
            assert page.evaluate("window.notReloaded") is True
            expect(page.locator("#owed")).to_contain_text("尚未更新：KR4")  # what I owe followed the save
            assert page.locator("#kr-KR4 form").count() == 1
            page.screenshot(path=str(artifacts / "me-zh.png"), full_page=True)
        finally:
            browser.close()
    stored = [(c["code"], c["measure"], c["value"], c["person"])
              for c in services.export_all(uow=example.uow, at=NOW)["checkins"]]
    assert stored == [("KR2", "新客转化率", 1.9, "chen")]
    notes = [c.get("note") for c in services.export_all(uow=example.uow, at=NOW)["checkins"]]
    assert any(re.search("素材更新后转化回升", n or "") for n in notes)


def test_me_and_asks_have_no_serious_accessibility_violation_and_fit_a_phone(example: App, site: Served) -> None:
    """axe-core on /me and /asks (the boss, with forms and decision buttons) in zh and en: no serious or critical
    violation; 390 px wide, no sideways scrolling."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    services.run_command(uow=example.uow, person="chen", text="update KR2 1.7% 需求：追加5000欧预算", at=NOW)
    axe = Axe()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for person in ("boss", "chen"):
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.goto(link(example, person).replace(PUBLIC, site.url))
                page.locator("form button[type=submit]").last.click()
                page.wait_for_url(re.compile(r".*/$"))
                for lang in ("zh", "en"):
                    page.goto(f"{site.url}/lang/{lang}?next=/me")
                    for path in ("/me", "/asks"):
                        page.goto(site.url + path)
                        found = axe.run(page).response["violations"]
                        bad = [(v["id"], v["impact"], len(v["nodes"])) for v in found
                               if v["impact"] in ("serious", "critical")]
                        assert bad == [], (person, lang, path, bad)
                        wide = page.evaluate("document.documentElement.scrollWidth")
                        assert wide <= 390, (person, lang, path, wide)
                page.evaluate("document.querySelector('main').append(document.createElement('img'))")
                control = [v["id"] for v in axe.run(page).response["violations"] if v["impact"] == "critical"]
                assert "image-alt" in control  # positive control: axe does see a serious fault on these pages
                page.close()
        finally:
            browser.close()
