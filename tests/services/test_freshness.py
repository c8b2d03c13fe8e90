"""CONTRACT §9 freshness through the services: the sources' pulls read in one query, /kr status and export say
typed or synced and when, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import event

from bot import services
from bot.app import App
from bot.i18n import translate
from bot.render import render_reply
from bot.services.context import load_scope
from storage.repository.freshness import pull_statuses
from tests.fakes.pulls import AT, FAILED_AT, SYNCED_AT, synced_with_pull, typed


def test_the_pulls_of_a_cycle_are_read_in_one_query(example: App) -> None:
    """Every sourced measure's last good pull and last failure, by (code, name), in one statement."""
    synced_with_pull(example, error="timeout after 10 s")
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    with example.uow.begin() as session:
        cycle = load_scope(session=session, workspace=None, at=AT).cycle
        event.listen(example.uow.engine, "before_cursor_execute", count)
        try:
            pulls = pull_statuses(session=session, cycle_id=cycle.id)
        finally:
            event.remove(example.uow.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    (status,) = pulls.values()
    assert (status.code, status.measure) == ("KR2", "新客转化率")
    assert (status.ok_at, status.failed_at, status.error, status.value) == (SYNCED_AT, FAILED_AT, "timeout after 10 s", 1.7)


def test_the_digest_job_still_reads_once_with_sources(example: App) -> None:
    """The digest's reads do not grow with the number of sourced measures: one more query for all pulls at most."""
    synced_with_pull(example, error="timeout")
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(example.uow.engine, "before_cursor_execute", count)
    try:
        digest = services.compose(uow=example.uow, as_of=AT)
    finally:
        event.remove(example.uow.engine, "before_cursor_execute", count)
    assert sum("source_pulls" in s for s in statements) == 1
    assert digest.objectives[0].failing == ("新客转化率",)


def test_kr_status_says_typed_or_synced_and_the_failed_pull(example: App) -> None:
    """`/kr status KR2` marks each number, in zh (the workspace's) and en."""
    typed(example)
    synced_with_pull(example, error="connection refused")
    reply = services.run_command(uow=example.uow, person="chen", text="/kr status KR2", at=AT)
    zh = render_reply(reply=reply)
    assert "新客转化率：1.7% / 2%（3 天前同步——最近一次拉取失败：connection refused）" in zh
    assert "ACOS：23%（上限25%）（10 天前手填）" in zh  # one word for a guardrail: the digest's
    en = translate("reply.status_kr", lang="en", **reply.params)
    assert "1.7% / 2% (synced 3 days ago — last pull failed: connection refused)." in en
    assert "ACOS: 23% (limit ≤ 25%) (typed 10 days ago)." in en
    # the objective's status carries the failing source in its conclusion
    whole = render_reply(reply=services.run_command(uow=example.uow, person="chen", text="/kr status", at=AT))
    assert "数据源异常：新客转化率（最近一次拉取失败）。" in whole


def test_export_says_typed_or_synced_and_when(example: App) -> None:
    """JSON: each check-in's origin (typed or synced), each measure's moment of its value; CSV: an origin column that
    import-checkins reads back (ignored: a spreadsheet cannot make a number synced)."""
    typed(example)
    synced_with_pull(example, error=None, failed=False)
    data = services.export_all(uow=example.uow, at=AT)
    origins = {(c["code"], c["measure"]): c["origin"] for c in data["checkins"]}
    assert origins[("KR2", "新客转化率")] == "synced" and origins[("KR2", "ACOS")] == "typed"
    kr2 = next(kr for p in data["objectives"][0]["paths"] for kr in p["krs"] if kr["code"] == "KR2")
    measures = {m["name"]: m for m in kr2["measures"]}
    assert datetime.fromisoformat(measures["新客转化率"]["value_at"]) == SYNCED_AT  # on the workspace's clock
    assert datetime.fromisoformat(measures["ACOS"]["value_at"]) == AT - timedelta(days=10)
    kr1 = next(kr for p in data["objectives"][0]["paths"] for kr in p["krs"] if kr["code"] == "KR1")
    assert {m["value_at"] for m in kr1["measures"]} == {None}  # nothing given yet: the baseline, no moment
    text = services.export_csv(uow=example.uow, at=AT)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {(r["measure"], r["origin"]) for r in rows if r["code"] == "KR2"} == {("新客转化率", "synced"), ("ACOS", "typed")}
    assert services.import_checkins(uow=example.uow, text=text, filename="export.csv", now=AT)["rows"] >= 3


def test_a_long_source_error_is_shortened_in_status(example: App) -> None:
    """A source's error of thousands of characters (an HTTP body) is cut beside the number, with "…"."""
    synced_with_pull(example, error="Bad gateway " + "x" * 5000)
    text = render_reply(reply=services.run_command(uow=example.uow, person="chen", text="/kr status KR2", at=AT))
    assert "最近一次拉取失败：Bad gateway x" in text and "…）" in text
    assert len(text) < 600
