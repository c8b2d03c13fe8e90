"""A spreadsheet's rows go through the one check-in builder: the same rules and readings as a typed check-in, and the
same few statements whether it holds ten rows or ten thousand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event

from bench.digest import checkin_rows, okr_document
from bot import services
from bot.app import App, build_app
from bot.core.errors import KrbotError

TYPED_AT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
ROW_AT = "2026-10-14T10:00:00+00:00"  # before TYPED_AT, the import's now: a row dated later would be in the future
HEADER = "code,measure,value,person,at,note,next,ask,risk\n"


def _saved(app: App) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored values and asks, without their times (the typed and the imported one differ only there)."""
    exported = services.export_all(uow=app.uow, at=datetime(2026, 12, 1, tzinfo=UTC))
    drop = ("at", "id")
    return ([{k: v for k, v in c.items() if k not in drop} for c in exported["checkins"]],
            [{k: v for k, v in a.items() if k not in drop} for a in exported["asks"]])


def test_a_row_reads_like_the_same_checkin_typed(example: App) -> None:
    """Value, words and a two-part ask: a CSV row stores what `/kr update` stores from the same words."""
    typed = services.run_command(
        uow=example.uow, person="chen", at=TYPED_AT,
        text="/kr update KR2 新客转化率=1.8% 备注：素材更新 下一步：扩词 需求：追加5000欧预算 and 2 people",
    )
    assert typed.key == "checkin.saved"
    values, asks = _saved(example)
    row = f"KR2,新客转化率,1.8%,chen,{ROW_AT},素材更新,扩词,追加5000欧预算 and 2 people,\n"
    assert services.import_checkins(uow=example.uow, text=HEADER + row, filename="h.csv", now=TYPED_AT)["checkins"] == 1
    both_values, both_asks = _saved(example)
    assert both_values == values + values and both_asks == asks + asks
    assert sorted(a["kind"] for a in asks) == ["money", "people"]


@pytest.mark.parametrize(("row", "inner"), [
    (f"KR2,新客转化率,1.8%,sun,{ROW_AT},,,,\n", "checkin.not_owner"),  # not the owner (nor a delegate)
    (f"KR2,,,chen,{ROW_AT},,,,\n", "checkin.empty"),  # nothing to store
    (f"KR2,新客转化率,2000%,chen,{ROW_AT},,,,\n", "checkin.bad_value"),  # implausible, as typed
])
def test_a_row_the_builder_refuses_is_refused_with_its_line_and_nothing_is_stored(
    example: App, row: str, inner: str
) -> None:
    good = f"KR2,新客转化率,1.7%,chen,{ROW_AT},,,,\n"
    with pytest.raises(KrbotError) as refused:
        services.import_checkins(uow=example.uow, text=HEADER + good + row, filename="h.csv", now=TYPED_AT)
    assert refused.value.key == "csv.row" and refused.value.params["line"] == 3
    assert refused.value.params["inner"] == inner
    assert _saved(example) == ([], [])


def statements_into(statements: list[str]) -> Any:
    """An engine listener that collects each SQL statement sent into `statements`."""
    return lambda *args: statements.append(args[2])


def test_ten_thousand_rows_cost_a_few_batches_more_than_ten(db_url: str, tmp_path: Path) -> None:
    """The rows are built one by one in memory and stored in batches (SQLAlchemy's insertmanyvalues pages of up to
    1,000 rows): the same reads, and one more INSERT per page, never one per row."""
    app = build_app(database_url=db_url)
    document = okr_document(krs=260)
    services.import_okrs(uow=app.uow, text=yaml.safe_dump(document, allow_unicode=True), filename="okrs.yaml",
                         at=datetime(2026, 9, 30, tzinfo=UTC))
    rows = checkin_rows(document=document)
    assert len(rows) >= 10_000

    def sheet(part: list[dict[str, str]]) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(part)
        return buffer.getvalue()

    counts = []
    for part in (rows[:10], rows[10:]):
        statements: list[str] = []
        listener = statements_into(statements)
        event.listen(app.uow.engine, "before_cursor_execute", listener)
        try:
            services.import_checkins(uow=app.uow, text=sheet(part), filename="h.csv", now=datetime(2026, 12, 28, tzinfo=UTC))
        finally:
            event.remove(app.uow.engine, "before_cursor_execute", listener)
        counts.append(len([s for s in statements if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))]))
    app.uow.engine.dispose()
    pages = -(-len(rows) // 1000)  # check-ins, their values and asks: each at most one INSERT per 1,000 rows
    assert counts[0] < counts[1] <= counts[0] + 3 * pages, counts
