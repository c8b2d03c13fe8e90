"""An export taken while check-ins are being stored reads one moment: never an error, never a check-in without its ask.

Real SQLite file and real PostgreSQL; one thread stores check-ins (each with an ask, in one transaction) while this
one exports again and again."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from bot import services
from bot.app import App

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
SECONDS = 4.0  # how long the export runs against the writer


def test_an_export_while_check_ins_are_stored_sees_each_with_its_ask_and_fails_never(example: App) -> None:
    stop = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        n = 0
        while not stop.is_set():
            try:
                services.run_command(uow=example.uow, person="chen", at=AT + timedelta(seconds=n),
                                     text=f"/kr update KR2 1.{n % 90 + 10}% 需求：追加{5000 + n}欧预算")
            except BaseException as error:  # noqa: BLE001 - reported in the test's thread
                failures.append(error)
                return
            written.append(n)
            n += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    exports, seen = 0, []
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline or exports < 5:
            exported = services.export_all(uow=example.uow, at=AT + timedelta(days=1))
            checkins = {item["at"] for item in exported["checkins"] if item["code"] == "KR2"}
            asks = [ask for ask in exported["asks"] if ask["code"] == "KR2"]
            assert len(asks) == len(checkins), f"export {exports}: {len(checkins)} check-ins but {len(asks)} asks"
            seen.append(len(checkins))
            exports += 1
    finally:
        stop.set()
        writer.join(timeout=30)
    assert failures == []
    assert len(written) >= 5 and len(set(seen)) > 1, "the writer stored check-ins while the exports ran"
    assert seen == sorted(seen)
