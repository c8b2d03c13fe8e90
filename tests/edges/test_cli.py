"""The command line of CONTRACT §4, end to end against a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
import typer
import yaml
from sqlalchemy import func, select, table
from typer.testing import CliRunner

from bot.__main__ import cli
from bot.app import App

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ZH = ROOT / "examples" / "q4-europe.zh.yaml"
SHIPPED_CSV = ROOT / "examples" / "q4-europe.checkins.zh.csv"
WORKSPACE = "欧洲事业部"
HEADER = "code,measure,value,person,at,note,next,ask,risk"
SECTION_4 = ("db", "import", "lint", "checkin", "import-checkins", "say", "digest", "jobs", "export", "plan", "run", "demo",
             "init")
BUILT = ("db", "import", "lint", "checkin", "import-checkins", "say", "digest", "export", "plan", "demo")


def _export(run_cli: Any, fmt: str = "json") -> Any:
    code, out, err = run_cli("export", "--format", fmt)
    assert code == 0, err
    return out if fmt != "json" else json.loads(out)


def _stored(app: App) -> dict[str, int]:
    """Check-ins, their values and asks, counted in the database itself."""
    with app.uow.engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in ("checkins", "checkin_values", "asks")
        }


def _core(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in ("code", "measure", "value", "person")} | {
        "at": datetime.fromisoformat(item["at"])
    }


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _csv(tmp_path: Path, name: str, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- help and schema


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    registered = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]
    assert set(BUILT) <= registered
    listed = {line.strip(" │").split()[0] for line in result.stdout.splitlines() if line.strip(" │")}
    for name in SECTION_4:
        if name in registered:
            assert name in listed, (name, result.stdout)
    sub = CliRunner().invoke(cli, ["db", "--help"], terminal_width=200)
    assert sub.exit_code == 0 and "upgrade" in sub.stdout


def test_db_upgrade_twice(run_cli: Any) -> None:
    for _ in range(2):
        code, out, err = run_cli("db", "upgrade")
        assert code == 0, err
        assert out.strip()


# ---------------------------------------------------------------- checkin


def test_checkin_time_without_zone_is_workspace_time(example: App, run_cli: Any) -> None:
    code, out, err = run_cli("checkin", "--as", "chen", "--at", "2026-10-15T10:00", "KR2", "1.6%", "备注：素材更新后转化回升")
    assert code == 0, err
    assert "KR2" in out and "1.6%" in out
    items = _export(run_cli)["checkins"]
    assert [_core(i) for i in items] == [
        # Berlin is UTC+2 on 15 October (summer time until the 25th)
        {"code": "KR2", "measure": "新客转化率", "value": 1.6, "person": "chen", "at": _utc(2026, 10, 15, 8)}
    ]
    assert items[0]["at"] == "2026-10-15T10:00:00+02:00"  # written with the workspace's offset (§4)
    assert items[0]["note"] == "素材更新后转化回升"


def test_checkin_time_with_zone_is_kept(example: App, run_cli: Any) -> None:
    code, _, err = run_cli("checkin", "--as", "chen", "--at", "2026-11-02T10:00+08:00", "KR2", "1.7%")
    assert code == 0, err
    # after the change to winter time the workspace zone would give 09:00 UTC; the given zone wins
    assert _core(_export(run_cli)["checkins"][0])["at"] == _utc(2026, 11, 2, 2)


def test_checkin_bad_time_is_refused(example: App, run_cli: Any) -> None:
    code, _, err = run_cli("checkin", "--as", "chen", "--at", "15.10.2026", "KR2", "1.6%")
    assert code == 2 and "15.10.2026" in err
    assert _stored(example)["checkins"] == 0


# ---------------------------------------------------------------- say: refusals store nothing

REFUSALS = {
    "someone_elses_kr": ("zhao", "/kr update KR2 1.8%", ["KR2", "陈静", "未保存"]),
    "unknown_code": ("chen", "/kr update KR9 1.8%", ["KR9", "KR2、KR4"]),  # a zh list reads 甲、乙
    "unreadable_value": ("chen", "/kr update KR2 abc", ["abc", "新客转化率", "1.8%"]),
    "currency_mismatch": ("lin", "/kr update O1 5000美元", ["5000美元", "USD", "EUR"]),
    "unknown_person": ("nobody", "/kr update KR2 1.8%", ["nobody", "boss、lin、zhao、chen、sun"]),
    "unknown_command": ("chen", "/kr frobnicate", ["frobnicate", "/kr help"]),
}


def test_say_refusals_exit_2_and_store_nothing(example: App, run_cli: Any) -> None:
    failures = []
    for case, (person, text, words) in REFUSALS.items():
        code, out, err = run_cli("say", "--as", person, "--at", "2026-10-15T10:00", f"{text} 需求：追加5000欧预算")
        stored = _stored(example)
        if code != 2 or any(word not in err for word in words) or any(stored.values()):
            failures.append(f"{case}: exit {code}, stored {stored}, stderr {err!r}, stdout {out!r}")
    assert not failures, "\n".join(failures)
    assert _export(run_cli)["checkins"] == []


def test_say_update_is_stored_and_answered(example: App, run_cli: Any) -> None:
    code, out, err = run_cli("say", "--as", "chen", "--at", "2026-10-15T10:00", "/kr update KR2 1.8%")
    assert code == 0, err
    assert "KR2" in out and "1.8%" in out
    assert [_core(i) for i in _export(run_cli)["checkins"]] == [
        {"code": "KR2", "measure": "新客转化率", "value": 1.8, "person": "chen", "at": _utc(2026, 10, 15, 8)}
    ]


# ---------------------------------------------------------------- import-checkins


def test_import_checkins_from_csv(example: App, run_cli: Any, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "history.csv",
        "KR2,新客转化率,1.6%,chen,2026-10-08T10:00,素材更新,扩大精准词,,",
        "KR2,ACOS,24%,chen,2026-10-08T10:00,,,,",
        "KR1,开店并正式运营,完成,zhao,2026-10-09T09:00,,,追加5000欧预算；2名德语客服,物流延迟",
        "O1,新客GMV,2.5万欧,lin,2026-10-10T09:00,,,,",
    )
    code, out, err = run_cli("import-checkins", str(path))
    assert code == 0, err
    assert re.findall(r"\d+", out) == ["4", "3"], out  # rows, and check-ins once same-moment rows are grouped
    data = _export(run_cli)
    assert sorted((_core(i) for i in data["checkins"]), key=lambda i: (i["at"], i["measure"])) == [
        {"code": "KR2", "measure": "ACOS", "value": 24, "person": "chen", "at": _utc(2026, 10, 8, 8)},
        {"code": "KR2", "measure": "新客转化率", "value": 1.6, "person": "chen", "at": _utc(2026, 10, 8, 8)},
        {"code": "KR1", "measure": "开店并正式运营", "value": True, "person": "zhao", "at": _utc(2026, 10, 9, 7)},
        {"code": "O1", "measure": "新客GMV", "value": 25000, "person": "lin", "at": _utc(2026, 10, 10, 7)},
    ]
    assert {i["note"] for i in data["checkins"] if i["code"] == "KR2"} == {"素材更新"}
    assert [i["risk"] for i in data["checkins"] if i["code"] == "KR1"] == ["物流延迟"]
    assert [(a["code"], a["kind"], a["amount"], a["unit"]) for a in data["asks"]] == [
        ("KR1", "money", 5000, "EUR"),
        ("KR1", "people", 2, "people"),
    ]
    assert _stored(example) == {"checkins": 3, "checkin_values": 4, "asks": 2}


def test_import_the_shipped_checkins(example: App, run_cli: Any) -> None:
    with SHIPPED_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with time_machine.travel("2027-01-10T12:00:00+00:00", tick=False):  # every shipped row lies in the past
        code, _, err = run_cli("import-checkins", str(SHIPPED_CSV))
    assert code == 0, err
    items = _export(run_cli)["checkins"]
    assert len([i for i in items if i["measure"] is not None]) == len([r for r in rows if r["value"]])


BAD_ROWS = {
    "unknown_code": ("KR9,新客转化率,1.7%,chen,2026-10-15T10:00,,,,", "KR9"),
    "wrong_person": ("KR2,新客转化率,1.7%,zhao,2026-10-15T10:00,,,,", "KR2"),
    "bad_value": ("KR2,新客转化率,abc,chen,2026-10-15T10:00,,,,", "abc"),
}


def test_import_checkins_is_all_or_nothing(example: App, run_cli: Any, tmp_path: Path) -> None:
    assert run_cli("checkin", "--as", "chen", "--at", "2026-10-05T10:00", "KR2", "1.55%")[0] == 0
    before = _export(run_cli)["checkins"]
    failures = []
    for case, (bad_row, word) in BAD_ROWS.items():
        path = _csv(
            tmp_path,
            f"{case}.csv",
            "KR2,新客转化率,1.6%,chen,2026-10-08T10:00,,,,",
            "KR2,ACOS,24%,chen,2026-10-08T10:00,,,追加5000欧预算,",
            bad_row,  # the third data row: line 4 of the file
            "KR4,竞品监控覆盖率,70%,chen,2026-10-16T10:00,,,,",
        )
        code, out, err = run_cli("import-checkins", str(path))
        stored = _stored(example)
        if code != 2 or f"{path}:4" not in err or word not in err or stored != {
            "checkins": 1, "checkin_values": 1, "asks": 0
        }:
            failures.append(f"{case}: exit {code}, stored {stored}, stderr {err!r}, stdout {out!r}")
    assert not failures, "\n".join(failures)
    assert _export(run_cli)["checkins"] == before


def test_import_checkins_missing_column(example: App, run_cli: Any, tmp_path: Path) -> None:
    path = _csv(tmp_path, "history.csv", "KR2,新客转化率,1.6%,2026-10-08T10:00", header="code,measure,value,at")
    code, _, err = run_cli("import-checkins", str(path))
    assert code == 2
    assert str(path) in err and "person" in err
    extra = _csv(tmp_path, "extra.csv", "KR2,新客转化率,1.6%,chen,2026-10-08T10:00,x",
                 header="code,measure,value,person,at,remark")
    code, _, err = run_cli("import-checkins", str(extra))
    assert code == 2
    assert str(extra) in err and "remark" in err
    assert _stored(example)["checkins"] == 0


# ---------------------------------------------------------------- export


def test_export_json_shape(example: App, run_cli: Any) -> None:
    assert run_cli("checkin", "--as", "zhao", "--at", "2026-10-10T09:00", "KR1", "开店并正式运营=未完成")[0] == 0
    code, _, err = run_cli(
        "checkin", "--as", "chen", "--at", "2026-10-15T10:00",
        "KR2", "新客转化率=1.8%", "ACOS=23%", "备注：素材更新后转化回升", "下一步：扩大精准词",
        "需求：追加5000欧预算；TikTok后台权限；约德国律师看合同",
    )
    assert code == 0, err
    assert run_cli("checkin", "--as", "zhao", "--at", "2026-10-20T09:00", "KR1", "开店并正式运营=完成")[0] == 0
    data = _export(run_cli)
    assert {"checkins", "asks", "changes", "objectives"} <= set(data)
    items = data["checkins"]
    for item in items:
        assert {"code", "measure", "value", "person", "at"} <= set(item)
        assert datetime.fromisoformat(item["at"]).tzinfo is not None
    kr2 = [i for i in items if i["code"] == "KR2"]
    assert {i["measure"]: i["value"] for i in kr2} == {"新客转化率": 1.8, "ACOS": 23}
    assert all(i["person"] == "chen" and _core(i)["at"] == _utc(2026, 10, 15, 8) for i in kr2)
    milestones = [i["value"] for i in items if i["measure"] == "开店并正式运营"]
    assert milestones == [False, True] and all(isinstance(v, bool) for v in milestones)
    asks = [(a["code"], a["person"], a["kind"], a["amount"], a["unit"], a["status"]) for a in data["asks"]]
    assert asks == [
        ("KR2", "chen", "money", 5000, "EUR", "open"),
        ("KR2", "chen", "permission", None, None, "open"),
        ("KR2", "chen", "other", None, None, "open"),
    ]
    assert [a["text"] for a in data["asks"]] == ["追加5000欧预算", "TikTok后台权限", "约德国律师看合同"]
    assert data["changes"] == []
    assert [o["code"] for o in data["objectives"]] == ["O1"]
    kr1 = next(k for p in data["objectives"][0]["paths"] for k in p["krs"] if k["code"] == "KR1")
    assert kr1["measures"][0]["value"] is True


def test_asks_in_a_csv_are_classified(example: App, run_cli: Any, tmp_path: Path) -> None:
    path = _csv(tmp_path, "asks.csv", "KR2,新客转化率,1.8%,chen,2026-10-15T10:00,,,追加5000欧预算；2名德语客服；TikTok后台权限,")
    code, _, err = run_cli("import-checkins", str(path))
    assert code == 0, err
    asks = [(a["kind"], a["amount"], a["unit"]) for a in _export(run_cli)["asks"]]
    assert asks == [("money", 5000, "EUR"), ("people", 2, "people"), ("permission", None, None)]


def test_checkin_with_a_people_ask_is_answered(example: App, run_cli: Any, db_url: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["checkin", "--as", "chen", "--at", "2026-10-15T10:00", "KR2", "1.8%",
         "需求：追加5000欧预算；2名德语客服；TikTok后台权限", "--db", db_url],
    )
    stored = _stored(example)
    assert result.exit_code == 0, (stored, result.output, repr(result.exception))
    assert "2人" in result.stdout
    assert stored == {"checkins": 1, "checkin_values": 1, "asks": 3}
    asks = [(a["kind"], a["amount"], a["unit"]) for a in _export(run_cli)["asks"]]
    assert asks == [("money", 5000, "EUR"), ("people", 2, "people"), ("permission", None, None)]


def test_export_yaml_and_csv_parse_back(example: App, run_cli: Any) -> None:
    assert run_cli("checkin", "--as", "chen", "--at", "2026-10-15T10:00", "KR2", "新客转化率=1.8%", "ACOS=23%")[0] == 0
    assert run_cli("checkin", "--as", "lin", "--at", "2026-10-16T10:00", "O1", "2.5万欧", "备注：德国站, \"法国站\"")[0] == 0
    expected = [_core(i) for i in _export(run_cli)["checkins"]]
    assert len(expected) == 3

    from_yaml = yaml.safe_load(_export(run_cli, "yaml"))  # the OKR file as it stands (§10), not the check-ins
    assert set(from_yaml) == {"revision", "workspace", "people", "cycle", "objectives"}
    assert [o["code"] for o in from_yaml["objectives"]] == ["O1"]

    rows = list(csv.DictReader(io.StringIO(_export(run_cli, "csv"))))
    assert [(r["code"], r["measure"], float(r["value"]), r["person"], datetime.fromisoformat(r["at"])) for r in rows] == [
        (i["code"], i["measure"], float(i["value"]), i["person"], i["at"]) for i in expected
    ]
    assert rows[-1]["note"] == '德国站, "法国站"'


def test_export_without_workspace_is_refused(run_cli: Any) -> None:
    code, out, err = run_cli("export")
    assert code == 2 and out == ""
    assert "import" in err


# ---------------------------------------------------------------- digest and plan


def test_digest_in_english_markdown(example: App, run_cli: Any) -> None:
    assert run_cli("checkin", "--as", "lin", "--at", "2026-10-16T10:00", "O1", "2.5万欧")[0] == 0
    code, _, err = run_cli(
        "checkin", "--as", "chen", "--at", "2026-10-15T10:00", "KR2", "1.8%", "风险：素材审核慢", "需求：追加5000欧预算"
    )
    assert code == 0, err
    code, out, err = run_cli("digest", "--lang", "en", "--format", "markdown", "--as-of", "2026-10-21T10:00")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("# ") and WORKSPACE in lines[0] and "Oct 21" in lines[0]
    assert "As of Oct 21" in out
    assert "5% complete" in out  # 25,000 of 500,000 EUR on the headline
    assert "Asks for decision" in out and "€5,000" in out
    for zh in ("截至", "关键数据", "待决策", "完成度", "目标"):
        assert zh not in out, zh


def test_digest_prints_the_slack_and_feishu_payloads(example: App, run_cli: Any) -> None:
    """`--format slack` prints the channel message and its thread; `--format feishu` the card(s) the bot would post."""
    assert run_cli("checkin", "--as", "chen", "--at", "2026-10-15T10:00", "KR2", "1.6%", "需求：追加5000欧预算")[0] == 0
    code, out, err = run_cli("digest", "--format", "slack", "--as-of", "2026-10-21T10:00")
    assert code == 0, err
    slack = json.loads(out)
    assert "截至10月21日" in slack["channel_message"]["text"]
    assert any("approve" in json.dumps(message) for message in slack["thread"])
    code, out, err = run_cli("digest", "--format", "feishu", "--as-of", "2026-10-21T10:00")
    assert code == 0, err
    cards = json.loads(out)["cards"]
    assert cards and "截至10月21日" in json.dumps(cards, ensure_ascii=False)


def test_post_without_a_platform_is_refused(example: App, run_cli: Any, monkeypatch: Any) -> None:
    """`--post` needs Slack or Feishu credentials; without them it says which to set."""
    for name in ("SLACK_BOT_TOKEN", "FEISHU_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run_cli("digest", "--post")
    assert code == 2 and "SLACK_BOT_TOKEN" in err and "FEISHU_APP_ID" in err


def test_plan_lists_tasks_backwards_with_buffers(example: App, run_cli: Any) -> None:
    code, out, err = run_cli("plan", "KR3")
    assert code == 0, err
    lines = out.splitlines()
    assert "KR3" in lines[0] and "2026-10-31" in lines[0]
    shipping = next(line for line in lines if "海运到港并清关" in line)
    factory = next(line for line in lines if "工厂排产完成" in line)
    assert lines.index(shipping) < lines.index(factory)  # laid out backwards from the due date
    assert "2026-10-17" in shipping and "14" in shipping  # finish-by date and buffer days
    assert "2026-09-15" in factory


def test_plan_unknown_kr(example: App, run_cli: Any) -> None:
    code, _, err = run_cli("plan", "KR9")
    assert code == 2 and "KR9" in err and "KR3" in err


# ---------------------------------------------------------------- the installed entry point


def test_installed_entry_point(tmp_path: Path) -> None:
    krbot = Path(sys.executable).parent / "krbot"
    assert krbot.exists(), krbot
    work = tmp_path / "cwd"
    work.mkdir()
    url = f"sqlite:///{tmp_path / 'data.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRBOT_", "SLACK_", "FEISHU_"))}
    imported = subprocess.run(
        [str(krbot), "import", str(EXAMPLE_ZH), "--db", url],
        cwd=work, env=env, capture_output=True, text=True, timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert WORKSPACE in imported.stdout
    digest = subprocess.run(
        [str(krbot), "digest", "--as-of", "2026-10-21T10:00", "--db", url],
        cwd=work, env=env, capture_output=True, text=True, timeout=60,
    )
    assert digest.returncode == 0, digest.stderr
    assert WORKSPACE in digest.stdout.splitlines()[0]
    assert list(work.iterdir()) == []  # --db was used, not ./krbot.db
    bad = subprocess.run(
        [str(krbot), "checkin", "--as", "nobody", "KR2", "1.8%", "--db", url],
        cwd=work, env=env, capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "nobody" in bad.stderr and "Traceback" not in bad.stderr


def test_post_sends_the_digest_to_the_slack_boss_channel(example: App, run_cli: Any, monkeypatch: Any) -> None:
    """With Slack configured, `--post` puts the conclusions in the boss channel and the rest in its thread."""
    from tests.fakes.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

    fake = FakeSlack().start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        monkeypatch.delenv("FEISHU_APP_ID", raising=False)
        code, out, err = run_cli("digest", "--post", "--as-of", "2026-10-21T10:00")
        assert code == 0, err
        posts = fake.of("chat.postMessage")
        assert posts[0].args["channel"] == "C0BOSSDIGEST" and "截至10月21日" in posts[0].args["text"]
        assert all(p.args.get("thread_ts") for p in posts[1:]) and len(posts) >= 2
        assert "C0BOSSDIGEST" in out
    finally:
        fake.stop()


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_sending_from_the_cli_works_with_either_slack_setup(example: App, run_cli: Any, monkeypatch: Any, mode: str) -> None:
    """`jobs run` and `digest --post` only send: an HTTP-mode setup (no app token) and a Socket Mode one (no signing
    secret) both work."""
    from tests.fakes.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

    fake = FakeSlack().start()
    try:
        for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "FEISHU_APP_ID"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        if mode == "http":
            monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        else:
            monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-fake")
        code, out, err = run_cli("jobs", "run", "reminders", "--as-of", "2026-10-08T10:00")
        assert code == 0, err
        reminded = {call.args["channel"] for call in fake.of("chat.postMessage")}
        assert len(reminded) >= 3 and all(channel.startswith("D") for channel in reminded)
        code, out, err = run_cli("digest", "--post", "--as-of", "2026-10-21T10:00")
        assert code == 0, err
        assert fake.of("chat.postMessage")[-1].args.get("thread_ts") and "C0BOSSDIGEST" in out
    finally:
        fake.stop()
