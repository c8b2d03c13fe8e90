"""`krbot demo`: what a newcomer sees first — a whole quarter, week by week, then a real digest."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bot.__main__ import cli


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_demo_replays_the_quarter_and_prints_the_digest(lang: str, tmp_path) -> None:
    """Thirteen weekly headlines, then the digest in pyramid order, in the chosen language."""
    result = CliRunner().invoke(cli, ["demo", "--lang", lang, "--db", f"sqlite:///{tmp_path / 'demo.db'}"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    week = r"^第\d+周" if lang == "zh" else r"^Week \d+"
    assert len(re.findall(week, out, flags=re.MULTILINE)) == 13
    labels = ("关键数据", "下一步", "待决策需求") if lang == "zh" else ("Key data", "Next steps", "Asks for decision")
    conclusion = out.index("截至12月25日，O1" if lang == "zh" else "As of Dec 25, O1")
    positions = [out.index(f"【{label}】") for label in labels]
    assert conclusion < positions[0] < positions[1] < positions[2]
    # the conclusion carries completion, forecast, gap and main risk
    first = out[conclusion:].splitlines()[0]
    assert re.search(r"\d+%", first) and ("缺口" in first or "short by" in first)
    assert ("主要风险在KR1" in first) if lang == "zh" else ("Main risk: KR1" in first)
    # every weekly check-in was accepted: no refusal printed
    assert "nothing was saved" not in out and "未保存" not in out


def test_zh_and_en_demos_tell_the_same_numbers(tmp_path) -> None:
    """The English twin is the same quarter: the weekly headlines carry the same percentages."""
    runner = CliRunner()
    outputs = {
        lang: runner.invoke(cli, ["demo", "--lang", lang, "--db", f"sqlite:///{tmp_path / (lang + '.db')}"]).stdout
        for lang in ("zh", "en")
    }
    zh = re.findall(r"^第\d+周.*?完成(\d+)%，趋势(\d+)%", outputs["zh"], flags=re.MULTILINE)
    en = re.findall(r"^Week \d+.*? (\d+)% done, trend (\d+)%", outputs["en"], flags=re.MULTILINE)
    assert zh and zh == en
