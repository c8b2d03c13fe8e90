"""`krbot export --format yaml` writes the OKR file as it stands, with a revision: it re-imports with no changes, into a
fresh database gives the same file again, and once a goal has changed by `/kr change` the old file is refused, naming
the change, unless `--force` (CONTRACT §4, §10). SQLite file and PostgreSQL, zh and en."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.__main__ import cli
from bot.okrfile.starter import starter_okrs
from storage.scratch import postgres_schema
from tests.conftest import EXAMPLE_EN, EXAMPLE_ZH, POSTGRES_URL

NO_CHANGES = {"zh": "没有变化", "en": "nothing changed"}


@contextmanager
def _fresh(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with postgres_schema(url=POSTGRES_URL) as url:
        yield url


def _krbot(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--db", url])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _export(url: str, tmp_path: Path, name: str) -> Path:
    code, out, err = _krbot(url, "export", "--format", "yaml")
    assert code == 0, err
    path = tmp_path / name
    path.write_text(out, encoding="utf-8")
    return path


def _target(path: Path, code: str, measure: str) -> float:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for objective in data["objectives"]:
        for path_ in objective.get("paths", []):
            for kr in path_.get("krs", []):
                if kr["code"] == code:
                    return next(m["target"] for m in kr["measures"] if m["name"] == measure)
    raise AssertionError(code)


RICH = """
workspace:
  name: Rich
  language: en
  timezone: Europe/Berlin
  locale: de-DE
  boss_channel: {slack: C0BOSS}
  reminder: "mon 09:30"
  digest: "fri 16:00"
  sync: "daily 07:15"
  webhooks:
    - {url: "https://hooks.example.com/okr", events: [goal.changed, checkin.saved], secret_env: TEST_WEBHOOK_SECRET}
people:
  - {id: ana, name: Ana, role: admin, department: Sales, locale: fr-FR, timezone: Europe/Paris, slack: U0ANA}
  - {id: bo, name: Bo, feishu: ou_bo}
  - {id: cy, name: Cy, role: boss}
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - code: O1
    title: Grow the Berlin store's new-customer revenue in Q4
    owner: ana
    strategy: Europe first
    deadline: 2026-12-20
    measures:
      - {name: Revenue, unit: EUR, baseline: 0, target: 1234.567, min: 0}
    achievable: {budget: "1.234,5 EUR", cost_per_new_customer: 20, order_value: 400}
    paths:
      - code: P1
        title: Ads
        priority: 1
        scores: {roi: high, resources: low}
        krs:
          - code: KR1
            title: Conversion from 1.125% to 2.5% on the Berlin store
            owner: bo
            accountable: ana
            consulted: [cy]
            informed: [cy]
            delegates: [ana]
            contributors: {Sales: ana}
            control: medium
            impact: high
            measures:
              - {name: Conversion, unit: "%", baseline: 1.1250, target: 2.5, due: 2026-12-01}
              - {name: ACOS, unit: "%", at_most: 25, min: 0, max: 80}
              - {name: Stock, unit: units, at_least: 100}
              - {name: Live, milestone: true, due: 2026-10-31}
              - name: Orders
                unit: orders
                baseline: 0
                target: 500
                source: {sql: "SELECT count(*) FROM orders", database_env: SALES_DB_URL}
              - name: GMV
                unit: EUR
                baseline: 0
                target: 9000
                source: {url: "https://bi.example.com/gmv", json_path: "$.data.gmv", headers_env: SHOP_HEADERS}
            tasks:
              - {title: Brief the agency, owner: bo, due: 2026-10-10, buffer_days: 3, duration_days: 5, critical: true}
              - {title: Launch, owner: ana, due: 2026-10-20, done: true}
      - code: P2
        title: Second path, no KRs yet
"""


@pytest.mark.parametrize(("lang", "source"), [("zh", EXAMPLE_ZH), ("en", EXAMPLE_EN), ("en", None)])
def test_an_exported_file_reimports_with_no_changes_and_round_trips_into_a_fresh_database(
    db_url: str, tmp_path: Path, lang: str, source: Path | None
) -> None:
    given = source or tmp_path / "rich.yaml"
    if source is None:
        given.write_text(RICH, encoding="utf-8")
    code, out, err = _krbot(db_url, "import", str(given))
    assert code == 0, out + err
    exported = _export(db_url, tmp_path, "exported.yaml")
    assert yaml.safe_load(exported.read_text(encoding="utf-8"))["revision"] >= 1

    code, out, err = _krbot(db_url, "import", "--dry-run", str(exported))
    assert code == 0, out + err
    assert NO_CHANGES[lang] in out.splitlines()[0], out
    code, out, err = _krbot(db_url, "import", str(exported))
    assert code == 0 and NO_CHANGES[lang] in out.splitlines()[0], out + err
    assert _export(db_url, tmp_path, "again.yaml").read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")

    with _fresh(db_url, tmp_path) as fresh:
        code, out, err = _krbot(fresh, "import", str(exported))
        assert code == 0, out + err
        assert NO_CHANGES[lang] not in out  # everything was created there
        assert _export(fresh, tmp_path, "fresh.yaml").read_text(encoding="utf-8") == exported.read_text(
            encoding="utf-8"
        )


def test_the_export_keeps_what_the_file_said(db_url: str, tmp_path: Path) -> None:
    given = tmp_path / "rich.yaml"
    given.write_text(RICH, encoding="utf-8")
    assert _krbot(db_url, "import", str(given))[0] == 0
    data = yaml.safe_load(_export(db_url, tmp_path, "rich-out.yaml").read_text(encoding="utf-8"))
    assert data["workspace"]["sync"] == "daily 07:15" and data["workspace"]["locale"] == "de-DE"
    assert data["workspace"]["webhooks"][0]["secret_env"] == "TEST_WEBHOOK_SECRET"
    assert data["people"][0] == {"id": "ana", "name": "Ana", "role": "admin", "slack": "U0ANA",
                                 "timezone": "Europe/Paris", "department": "Sales", "locale": "fr-FR"}
    kr = data["objectives"][0]["paths"][0]["krs"][0]
    measures = {m["name"]: m for m in kr["measures"]}
    assert measures["ACOS"] == {"name": "ACOS", "unit": "%", "at_most": 25, "min": 0, "max": 80}
    assert measures["Live"] == {"name": "Live", "milestone": True, "due": date(2026, 10, 31)}
    assert measures["Conversion"]["baseline"] == 1.125  # read back as the number, never as 1125
    assert measures["Orders"]["source"]["database_env"] == "SALES_DB_URL"
    assert kr["tasks"][1]["done"] is True and kr["tasks"][0]["buffer_days"] == 3
    assert data["objectives"][0]["achievable"]["budget"] == "1.234,5 EUR"  # the de-DE workspace reads it back
    assert data["objectives"][0]["paths"][1] == {"code": "P2", "title": "Second path, no KRs yet"}


@pytest.mark.parametrize(
    ("lang", "change", "said"),
    [
        ("zh", "/kr change KR2 target=2.2% 原因：旺季加码", ["KR2 新客转化率 目标：2 → 2.2", "林雪修改", "旺季加码", "--force"]),
        ("en", "/kr change KR2 target=2.2% reason: peak season",
         ["KR2 New-customer conversion target: 2 → 2.2", "by Lin Xue", "peak season", "--force"]),
    ],
)
def test_an_old_export_is_refused_naming_the_change_unless_forced(
    db_url: str, tmp_path: Path, lang: str, change: str, said: list[str]
) -> None:
    starter = tmp_path / "okrs.yaml"
    starter.write_text(starter_okrs(lang=lang, today=datetime.now(UTC).date()), encoding="utf-8")
    assert _krbot(db_url, "import", str(starter))[0] == 0
    old = _export(db_url, tmp_path, "old.yaml")
    before = yaml.safe_load(old.read_text(encoding="utf-8"))["revision"]
    measure = "新客转化率" if lang == "zh" else "New-customer conversion"

    code, out, err = _krbot(db_url, "say", "--as", "lin", change)
    assert code == 0, out + err
    changed = _export(db_url, tmp_path, "changed.yaml")
    assert yaml.safe_load(changed.read_text(encoding="utf-8"))["revision"] > before  # the goal change raised it
    assert _target(changed, "KR2", measure) == 2.2

    for args in (("import", str(old)), ("import", "--dry-run", str(old))):
        code, out, err = _krbot(db_url, *args)
        assert code == 2 and out == "", out + err
        for words in said:
            assert words in err, err
    assert _export(db_url, tmp_path, "kept.yaml").read_text(encoding="utf-8") == changed.read_text(encoding="utf-8")

    code, out, err = _krbot(db_url, "import", "--force", str(old))
    assert code == 0, out + err
    assert _target(_export(db_url, tmp_path, "forced.yaml"), "KR2", measure) == 2.0
    code, out, err = _krbot(db_url, "import", str(old))  # the database holds the file now: nothing left to undo
    assert code == 0 and NO_CHANGES[lang] in out.splitlines()[0], out + err


def test_the_current_export_imports_after_a_change_and_a_file_without_revision_as_before(
    db_url: str, tmp_path: Path
) -> None:
    starter = tmp_path / "okrs.yaml"
    starter.write_text(starter_okrs(lang="en", today=datetime.now(UTC).date()), encoding="utf-8")
    assert _krbot(db_url, "import", str(starter))[0] == 0
    assert _krbot(db_url, "say", "--as", "lin", "/kr change KR2 target=2.2% reason: peak season")[0] == 0
    fresh = _export(db_url, tmp_path, "fresh.yaml")  # exported after the change: it undoes nothing
    edited = fresh.read_text(encoding="utf-8").replace("priority: 1\n", "priority: 5\n", 1)
    fresh.write_text(edited, encoding="utf-8")
    code, out, err = _krbot(db_url, "import", str(fresh))
    assert code == 0 and "updated 1 path" in out, out + err

    code, out, err = _krbot(db_url, "import", str(starter))  # hand-written, no revision: imports as it always did
    assert code == 0, out + err
    assert "KR2 New-customer conversion target: 2.2 → 2" in out


def test_a_revision_that_is_not_a_whole_number_is_refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("revision: -3\n" + EXAMPLE_EN.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, err = _krbot(db_url, "import", str(path))
    assert code == 2 and "revision" in err, err


def test_the_complete_file_of_the_docs_round_trips(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SALES_DB_URL,ERP_WEBHOOK_SECRET")
    page = (Path(__file__).resolve().parents[2] / "docs" / "okr-file.md").read_text(encoding="utf-8")
    block = re.search(r"## A complete file.*?```yaml\n(.*?)```", page, re.S)
    assert block is not None
    given = tmp_path / "complete.yaml"
    given.write_text(block[1], encoding="utf-8")
    assert _krbot(db_url, "import", str(given))[0] == 0
    exported = _export(db_url, tmp_path, "complete-out.yaml")
    code, out, err = _krbot(db_url, "import", "--dry-run", str(exported))
    assert code == 0 and "nothing changed" in out.splitlines()[0], out + err
    with _fresh(db_url, tmp_path) as fresh:
        assert _krbot(fresh, "import", str(exported))[0] == 0
        assert _export(fresh, tmp_path, "again.yaml").read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
