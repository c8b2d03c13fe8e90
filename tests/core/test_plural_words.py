"""English plurals by Babel's CLDR rules (CONTRACT §7 words): never "1 objectives", "1 warnings" or "1 tries"."""

from __future__ import annotations

import re

import pytest

from bot.i18n import catalog, plural, translate

# a count placeholder followed by a plural noun (an adjective may stand between): "{{ n }} open asks"
COUNTED = re.compile(r"\{\{\s*(-?[\w.]+)\s*\}\}\s+(?:[a-z]+\s+)?([A-Za-z-]+)")
NOUNS = frozenset({
    "days", "rows", "tries", "warnings", "failures", "objectives", "check-ins", "asks", "tasks", "KRs", "changes",
    "posts", "channels", "points", "people", "columns", "values", "statements", "entries", "hours", "weeks",
    "measures", "paths", "cycles", "workspaces", "orders", "messages", "deliveries", "times", "characters", "digits",
    "levels",
})
CONSTANTS = frozenset({"limit", "code"})  # a fixed limit of krbot's own (15 digits), never one; "KR2 changes"


def test_no_english_message_writes_a_count_before_a_plural_noun_without_the_plural_rule() -> None:
    found = [
        f"{key}: {{{{ {name} }}}} {noun}"
        for key, text in catalog(lang="en").items()
        for name, noun in COUNTED.findall(text)
        if noun in NOUNS and name not in CONSTANTS
    ]
    assert found == []


@pytest.mark.parametrize(
    ("key", "params", "one", "many"),
    [
        ("cli.checkins_imported", {"rows": 1, "checkins": 1}, "1 row as 1 check-in", "2 rows as 2 check-ins"),
        ("lint.ok", {"warnings": 1}, "1 warning.", "2 warnings."),
        ("digest.failed", {"kind": "reminder", "target": "lin", "period": "W45", "attempts": 1, "error": ""},
         "after 1 try", "after 2 tries"),
        ("digest.open_asks", {"count": 1}, "1 open ask", "2 open asks"),
        ("scheduler.escalation", {"code": "KR1", "title": "t", "owner": "o", "days": 1, "last": ""},
         "for 1 day", "for 2 days"),
    ],
)
def test_one_and_many_read_right(key: str, params: dict, one: str, many: str) -> None:
    assert one in translate(key, lang="en", **params)
    counted = {k: 2 if v == 1 else v for k, v in params.items()}
    assert many in translate(key, lang="en", **counted)


def test_the_import_summary_counts_each_kind_right() -> None:
    created = {"workspace": 1, "people": 1, "cycle": 1, "objectives": 1, "paths": 2, "krs": 1, "measures": 3}
    text = translate("cli.imported", lang="en", dry_run=False, workspace="W", created=created, updated={}, archived={})
    assert "1 workspace, 1 person, 1 cycle, 1 objective, 2 paths, 1 KR, 3 measures" in text
    assert "1 objectives" not in text


def test_the_rule_is_cldrs() -> None:
    assert [plural(n, "day", "days", lang="en") for n in (0, 1, 2, 1.5)] == ["days", "day", "days", "days"]
    assert plural(1, "天", "天", lang="zh") == "天"
