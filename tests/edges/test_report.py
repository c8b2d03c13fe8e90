"""The one-page HTML report: conclusion first, self-contained, user text inert, and it renders in Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot import services
from bot.app import App
from bot.render import render_report
from tests.conftest import ROOT

AS_OF = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _quarter(app: App) -> None:
    csv_text = (ROOT / "examples" / "q4-europe.checkins.zh.csv").read_text(encoding="utf-8")
    after = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)  # every row of the quarter lies in the past (none in the future)
    services.import_checkins(uow=app.uow, text=csv_text, filename="q4.csv", now=after)


class _Text(HTMLParser):
    """The visible text in document order, and every URL the page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.urls: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.text.append(data.strip())


def _report(app: App, lang: str = "zh") -> str:
    digest, charts = services.compose_report(uow=app.uow, as_of=AS_OF)
    return render_report(digest=digest, charts=charts, lang=lang)


def test_report_leads_with_the_conclusion_and_keeps_the_appendix_below(example: App) -> None:
    """Title, then the conclusion sentence with its numbers; data, next steps and asks come after, with a chart."""
    _quarter(example)
    html = _report(example)
    parser = _Text()
    parser.feed(html)
    text = "\n".join(parser.text)
    conclusion = text.index("截至11月20日，O1")
    headings = [text.index(f"\n{label}\n") for label in ("关键数据", "下一步", "待决策需求")]
    assert text.index("欧洲事业部 · OKR周报") < conclusion < headings[0] < headings[1] < headings[2]
    # the forecast with its 80% range, in the conclusion and as a band on the burn-up chart
    assert re.search(r"完成度\d+%，按当前趋势预计12月31日可完成\d+%（\d+–\d+%），缺口", text[conclusion:])
    assert html.count("<svg") == 1 and "class=\"forecast\"" in html and "class=\"target\"" in html
    assert "class=\"band\"" in html


def test_report_is_self_contained_and_prints_on_a4(example: App) -> None:
    """Nothing loaded from elsewhere; an A4 page rule for printing."""
    _quarter(example)
    html = _report(example, lang="en")
    parser = _Text()
    parser.feed(html)
    assert [url for url in parser.urls if url.startswith(("http", "//"))] == []
    assert "@page { size: A4" in html and "<script" not in html
    assert "Key data" in "\n".join(parser.text)


def test_user_text_cannot_inject_markup(example: App) -> None:
    """A note with tags and a template is shown as text: escaped, never run, never evaluated."""
    services.run_command(
        uow=example.uow,
        person="chen",
        text='/kr update KR2 1.7% 备注：<script>alert(1)</script> <img src=x onerror=alert(2)> {{ 7*7 }} @channel',
        at=AS_OF,
    )
    html = _report(example)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "@channel" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed here (.ci/run installs Debian's chromium)")
def test_report_renders_in_chromium_with_the_conclusion_above_the_fold(example: App, tmp_path: Path) -> None:
    """Headless Chromium lays the page out, writes a screenshot, and the conclusion ends inside a laptop screen."""
    _quarter(example)
    html = _report(example)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,800",
    ]
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Measure where the conclusion ends, with a probe added to a copy of the page (the report itself has no script,
    # and its policy forbids one, so the copy goes without the policy).
    probe = tmp_path / "probe.html"
    probe.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace(
            "</body>",
            "<script>const r = document.getElementById('conclusion-O1').getBoundingClientRect();"
            "document.title = 'bottom=' + Math.round(r.bottom) + ' height=' + innerHeight;</script></body>",
        ),
        encoding="utf-8",
    )
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    found = re.search(r"<title>bottom=(\d+) height=(\d+)</title>", dom)
    assert found, dom[:500]
    bottom, height = int(found.group(1)), int(found.group(2))
    assert 0 < bottom < height


HOSTILE_HTML = (
    "<script>document.title='pwned-script'</script>"
    " <img src=x onerror=\"document.title='pwned-img'\">"
    " <svg onload=\"document.title='pwned-svg'\"></svg>"
)


def _hostile_quarter(app: App) -> str:
    """The quarter, with hostile markup in an ask, in the risk that becomes O1's main risk, and in a change reason."""
    _quarter(app)
    digest, _ = services.compose_report(uow=app.uow, as_of=AS_OF)
    risky = digest.objectives[0].main_risk
    assert risky is not None and risky.code == "KR1"  # zhao's KR1 has the lowest forecast
    said = [
        services.run_command(uow=app.uow, person="zhao", text=f"/kr update KR1 新客订单=180单 风险：{HOSTILE_HTML}", at=AS_OF),
        services.run_command(uow=app.uow, person="chen", text=f"/kr update KR2 1.7% 需求：{HOSTILE_HTML}", at=AS_OF),
        services.run_command(uow=app.uow, person="lin", text=f"/kr change KR2 target=2.2% 原因：{HOSTILE_HTML}", at=AS_OF),
    ]
    assert [reply.key for reply in said] == ["checkin.saved", "checkin.saved", "change.saved"]
    html = _report(app)
    digest, _ = services.compose_report(uow=app.uow, as_of=AS_OF)
    assert digest.objectives[0].main_risk.words.startswith("<script>")
    return html


def test_hostile_ask_risk_and_reason_are_escaped_on_every_path(example: App) -> None:
    """The shared sentences (conclusion, ask, change) escape user text: no element made of it, all of it shown."""
    html = _hostile_quarter(example)
    assert "<script>document" not in html and "<img src=x" not in html and "<svg onload" not in html
    conclusion = re.search(r'id="conclusion-O1">(.*?)</p>', html, re.S).group(1)
    assert "&lt;script&gt;document.title=" in conclusion  # the main risk, in the conclusion sentence
    assert html.count("&lt;img src=x onerror=") >= 3  # conclusion, ask, change reason


def test_report_forbids_scripts_with_a_content_security_policy(example: App) -> None:
    """A second wall: the page's policy allows no script and no load from anywhere."""
    _quarter(example)
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', _report(example))
    assert policy and unescape(policy.group(1)) == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _dom(page: Path, tmp_path: Path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed here (.ci/run installs Debian's chromium)")
def test_hostile_text_is_shown_and_never_runs_in_chromium(example: App, tmp_path: Path) -> None:
    """Headless Chromium: the hostile markup is visible as text, the title is untouched, no element was made of it."""
    html = _hostile_quarter(example)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom = _dom(page, tmp_path)
    title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert "pwned" not in title and title.startswith("欧洲事业部")
    assert "<img src=\"x\"" not in dom and "<svg onload" not in dom
    parser = _Text()
    parser.feed(dom)
    assert "<script>document.title='pwned-script'</script>" in "\n".join(parser.text)
    # The policy alone stops a script that escaping had let through (a copy with the markup put in raw).
    raw = tmp_path / "raw.html"
    raw.write_text(html.replace("</body>", HOSTILE_HTML + "</body>"), encoding="utf-8")
    dom = _dom(raw, tmp_path)
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert "<img src=\"x\"" in dom  # the element exists in the page; the policy kept it from running


def _dots(html: str) -> list[tuple[str, float, float]]:
    """Each day's dot on the burn-up: (its day, its x, its value), in drawing order."""
    return [
        (day, float(cx), float(value))
        for cx, day, value in re.findall(
            r'<circle cx="([\d.]+)"[^>]*class="dot" data-day="([\d-]+)" data-value="([^"]+)"', html
        )
    ]


def test_the_burnup_draws_daily_points_up_to_the_deadline_against_the_target_then_in_force(example: App) -> None:
    """A typo corrected two minutes later is not drawn (the day's last number is), a number reported after the
    deadline is not drawn at the deadline, and a past report draws the target in force then, not today's."""
    said = [
        ("2026-10-10T10:00", "/kr update O1 100000"),
        ("2026-10-20T09:00", "/kr update O1 1500000"),  # a typo, corrected two minutes later
        ("2026-10-20T09:02", "/kr update O1 150000"),
        ("2026-11-05T10:00", "/kr update O1 200000"),
        ("2026-11-25T10:00", "/kr change O1 target=600000 reason: 旺季加码"),
        ("2027-01-03T10:00", "/kr update O1 520000"),  # after the Dec 31 deadline, within the grace for late numbers
    ]
    for at, text in said:
        reply = services.run_command(uow=example.uow, person="lin", text=text, at=datetime.fromisoformat(at + "+01:00"))
        assert reply.ok, (text, reply)

    digest, charts = services.compose_report(uow=example.uow, as_of=AS_OF)
    html = render_report(digest=digest, charts=charts, lang="zh")
    assert [(day, value) for day, _, value in _dots(html)] == [
        ("2026-10-10", 100000.0), ("2026-10-20", 150000.0), ("2026-11-05", 200000.0)
    ]
    assert 'class="target" data-value="500000.0"' in html  # Nov 20: the target in force then, as the text says
    assert digest.objectives[0].completion == pytest.approx(200000 / 500000)  # the conclusion reads the same target

    final_as_of = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)
    digest, charts = services.compose_report(uow=example.uow, as_of=final_as_of)
    html = render_report(digest=digest, charts=charts, lang="en")
    dots = _dots(html)
    assert [day for day, _, _ in dots] == ["2026-10-10", "2026-10-20", "2026-11-05"]  # Jan 3 is not drawn at Dec 31
    deadline_x = float(re.findall(r'x2="([\d.]+)" y2="[\d.]+" class="target"', html)[0])
    assert all(cx < deadline_x for _, cx, _ in dots)
    assert 'class="target" data-value="600000.0"' in html  # after the change: 600k in force
