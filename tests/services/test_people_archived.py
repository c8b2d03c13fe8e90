"""CONTRACT §5: a person the OKR file no longer has is archived: unknown on every surface until the file has them again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.core.errors import KrbotError
from storage.models import GoalChangeRow
from tests.conftest import EXAMPLE_ZH
from tests.fakes.okr_helpers import LATER, count, exported, new_ask, okr_file_without, reimport, say

# ---------------------------------------------------------------- people archived


def test_a_person_dropped_from_the_file_is_archived_and_the_import_says_so(
    example: App, run_cli: Callable[..., Any], tmp_path: Any
) -> None:
    """Re-importing without the boss reports her archived, by kind and count; archived once, not at every import."""
    path = tmp_path / "okrs.yaml"
    path.write_text(okr_file_without(person="boss", heir="lin"), encoding="utf-8")
    code, out, _ = run_cli("import", str(path))
    assert code == 0, out
    assert "归档（文件中已删除）1个人员" in out
    assert reimport(example, path.read_text(encoding="utf-8")).archived == {}
    assert reimport(example, EXAMPLE_ZH.read_text(encoding="utf-8")).archived == {}
    assert reimport(example, okr_file_without(person="lin", heir="zhao")).archived == {"people": 1}


def test_a_removed_admin_can_neither_change_goals_nor_decide_asks_nor_check_in(example: App) -> None:
    """lin, admin and accountable, removed from the file: unknown on every command, told so, nothing changes."""
    ask_id = new_ask(example)
    reimport(example, okr_file_without(person="lin", heir="zhao"))
    changed = say(example, "lin", "/kr change KR2 target=2.2% reason: 旺季", at=LATER)
    assert not changed.ok and changed.key == "person.unknown"
    assert "lin" not in changed.params["known"].split(", ")
    with pytest.raises(KrbotError) as refused:
        services.decide_ask(uow=example.uow, person="lin", ask_id=ask_id, approve=True, at=LATER)
    assert refused.value.key == "person.unknown"
    for line in ("/kr update O1 17.5万欧", "/kr list", "/kr status KR2", "/kr away 2026-12-20..2027-01-03", "/kr report",
                 "/kr plan KR3", "/kr paths", "/kr matrix", "/kr done KR3 1"):
        assert say(example, "lin", line, at=LATER).key == "person.unknown", line
    assert count(example, GoalChangeRow) == 0
    assert [a["status"] for a in exported(example)["asks"]] == ["open"]
    assert services.find_person(uow=example.uow, platform="slack", user_id="U0LIN00001") is None
    assert services.find_person(uow=example.uow, platform="feishu", user_id="ou_lin00001") is None


def test_a_removed_boss_can_no_longer_decide_and_is_unknown(example: App) -> None:
    """The boss dropped from the file holds no role: deciding is refused as for a stranger."""
    ask_id = new_ask(example)
    reimport(example, okr_file_without(person="boss", heir="lin"))
    with pytest.raises(KrbotError) as refused:
        services.decide_ask(uow=example.uow, person="boss", ask_id=ask_id, approve=False, at=LATER)
    assert refused.value.key == "person.unknown"
    assert [a["status"] for a in exported(example)["asks"]] == ["open"]
    assert services.person_of(uow=example.uow, key="boss", at=LATER) is None
    assert services.find_person(uow=example.uow, platform="slack", user_id="U0BOSS0001") is None


def test_re_adding_a_person_restores_their_role_and_history(example: App) -> None:
    """Her check-ins stay stored while she is archived and are hers again (with her rights) once she is back."""
    assert say(example, "lin", "/kr update O1 17.5万欧").ok
    reimport(example, okr_file_without(person="lin", heir="zhao"))
    assert [(c["person"], c["value"]) for c in exported(example)["checkins"] if c["code"] == "O1"] == [("lin", 175000.0)]
    assert say(example, "lin", "/kr list", at=LATER).key == "person.unknown"
    reimport(example, EXAMPLE_ZH.read_text(encoding="utf-8"), at=datetime(2026, 10, 17, 8, 0, tzinfo=UTC))
    back = say(example, "lin", "/kr list", at=LATER)
    assert back.ok and [r["code"] for r in back.params["rows"]] == ["O1"]
    assert services.find_person(uow=example.uow, platform="slack", user_id="U0LIN00001") == ("欧洲事业部", "lin")
    assert say(example, "lin", "/kr change KR2 target=2.2% reason: 旺季", at=LATER).key == "change.saved"
