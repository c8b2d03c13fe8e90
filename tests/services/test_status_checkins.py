"""Statuses through the database: bounds imported, stored, exported and holding the digest's forecast; a check-in
after a measure's deadline is answered with its result, never a trend (zh and en)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot import services
from bot.app import App
from bot.core.errors import KrbotError
from bot.render import render_reply
from tests.conftest import EXAMPLE_ZH, IMPORTED_AT

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month: int, day: int, hour: int = 12) -> datetime:
    """A moment on Berlin's wall clock in 2026."""
    return datetime(2026, month, day, hour, tzinfo=BERLIN)


def test_bounds_are_stored_exported_and_hold_the_forecast(app: App) -> None:
    """KR4's coverage declares max 100 (as its % default) and 会员复购率 max 30: the digest never forecasts past
    them, and the export gives them back."""
    text = EXAMPLE_ZH.read_text(encoding="utf-8").replace(
        "                baseline: 25\n                target: 35\n",
        "                baseline: 25\n                target: 35\n                min: 0\n                max: 40\n", 1)
    assert "max: 40" in text
    services.import_okrs(uow=app.uow, text=text, filename="bounds.yaml", at=IMPORTED_AT)
    for day, coverage, repeat in ((8, "80%", "27%"), (15, "90%", "31%"), (22, "100%", "35%")):
        reply = services.run_command(uow=app.uow, person="chen", at=berlin(10, day),
                                     text=f"/kr update KR4 竞品监控覆盖率={coverage} 会员复购率={repeat}")
        assert reply.ok, reply.key
    digest = services.compose(uow=app.uow, as_of=berlin(10, 23, 17))
    kr4 = next(k for o in digest.objectives for k in o.krs if k.code == "KR4")
    coverage, _, repeat = kr4.measures
    assert coverage.forecast_value == pytest.approx(100.0)  # a % measure: 0–100
    assert repeat.forecast_value == pytest.approx(40.0)  # its declared max
    exported = services.export_all(uow=app.uow, at=berlin(10, 23, 17))
    measures = {m["name"]: m for o in exported["objectives"] for p in o["paths"] for k in p["krs"]
                for m in k["measures"]}
    assert (measures["会员复购率"]["min"], measures["会员复购率"]["max"]) == (0, 40)
    assert "min" not in measures["竞品监控覆盖率"]


def test_bounds_that_do_not_hold_the_target_are_refused_and_nothing_is_written(app: App) -> None:
    """A max below the target: refused with the measure's name and what would work, in the file's language."""
    text = EXAMPLE_ZH.read_text(encoding="utf-8").replace(
        "                baseline: 25\n                target: 35\n",
        "                baseline: 25\n                target: 35\n                max: 30\n", 1)
    with pytest.raises(KrbotError) as refused:
        services.import_okrs(uow=app.uow, text=text, filename="bad.yaml", at=IMPORTED_AT)
    from bot.i18n import error_message

    for lang, words in (("zh", ("会员复购率", "35%", "max 30%", "min:/max:")),
                        ("en", ("会员复购率", "35%", "max 30%", "min:/max:"))):
        message = error_message(refused.value, lang=lang)
        for word in words:
            assert word in message, (lang, word, message)
    with pytest.raises(KrbotError):
        services.compose(uow=app.uow, as_of=berlin(10, 23, 17))  # no workspace was written


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_checkin_after_a_measures_deadline_is_answered_with_its_result(example: App, lang: str) -> None:
    """入欧备货 was due Oct 31 and never reported by then: a number on Nov 3 does not become a trend of 0%."""
    reply = services.run_command(uow=example.uow, person="sun", text="/kr update KR3 入欧备货=600万件",
                                 at=berlin(11, 3))
    assert reply.ok, reply.key
    said = render_reply(reply=_in(reply, lang))
    if lang == "en":
        assert "入欧备货 came after its deadline (Oct 31)" in said, said
        assert "trend 0%" not in said and "by the deadline" not in said.replace("came after its deadline", "")
    else:
        assert "入欧备货在期限（10月31日）之后填报" in said, said
        assert "按趋势截止时可达0%" not in said


def _in(reply, lang: str):  # noqa: ANN001, ANN202 - a reply in another language
    """The same reply in `lang`."""
    from dataclasses import replace

    return replace(reply, lang=lang)
