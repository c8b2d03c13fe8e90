"""Which goal changes an older OKR file would undo: only those whose field the file holds otherwise than now."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.core import model
from bot.core.revisions import undone_changes

AT = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


def _okrs(*, target: float, title: str = "Conversion to 2%", deadline: date = date(2026, 12, 31)) -> model.Okrs:
    measure = model.Measure(name="Conversion", kind=model.MeasureKind.TARGET, unit="%", baseline=1.5, target=target)
    kr = model.KeyResult(code="KR2", title=title, owner="chen", measures=(measure,))
    objective = model.Objective(code="O1", title="Grow", owner="lin", measures=(),
                                paths=(model.StrategicPath(code="P1", title="Ads", priority=1, krs=(kr,)),), deadline=deadline)
    return model.Okrs(workspace=model.Workspace(name="W"), people={}, cycle=model.Cycle(
        name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31)), objectives=(objective,))


def _change(field: str, old: str, new: str, measure: str | None = "Conversion", code: str = "KR2",
            ) -> model.GoalChange:
    return model.GoalChange(code=code, field=field, old=old, new=new, reason="peak", person="lin", at=AT,
                            measure=measure)


def test_a_file_holding_the_old_target_undoes_the_change() -> None:
    change = _change("target", "2", "2.2")
    assert undone_changes(changes=[change], current=_okrs(target=2.2), incoming=_okrs(target=2.0)) == [change]


def test_a_file_holding_the_new_value_or_untouched_fields_undoes_nothing() -> None:
    changes = [_change("target", "2", "2.2"), _change("title", "Old", "Conversion to 2%", measure=None)]
    assert undone_changes(changes=changes, current=_okrs(target=2.2), incoming=_okrs(target=2.2)) == []


def test_an_earlier_import_of_the_same_file_is_not_listed() -> None:
    chat, forced = _change("target", "2", "2.2"), _change("target", "2.2", "2")
    now, file = _okrs(target=2.2), _okrs(target=2.0)
    assert undone_changes(changes=[chat, forced, chat], current=now, incoming=file) == [chat, chat]


def test_titles_and_deadlines_count_and_a_goal_gone_from_both_does_not() -> None:
    title = _change("title", "Conversion to 2%", "Conversion to 2.2%", measure=None)
    deadline = _change("deadline", "2026-12-31", "2026-12-20", measure=None, code="O1")
    gone = _change("target", "1", "2", code="KR9")
    now = _okrs(target=2.0, title="Conversion to 2.2%", deadline=date(2026, 12, 20))
    assert undone_changes(changes=[title, deadline, gone], current=now, incoming=_okrs(target=2.0)) == [title, deadline]
