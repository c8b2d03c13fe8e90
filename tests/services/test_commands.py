"""The chat-command parser: every example of CONTRACT §6, every refusal, and generated check-ins."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, StrictUndefined

from bot.commands import (
    COMMAND_NAMES,
    FIELDS,
    Away,
    Change,
    GoalEdit,
    Help,
    ListKrs,
    Matrix,
    MeasureValue,
    Paths,
    Plan,
    Report,
    StatusOf,
    TaskDone,
    Update,
    parse_command,
    parse_update,
)
from bot.core.errors import KrbotError
from bot.core.units import normalise
from bot.core.values import MILESTONE_WORDS
from bot.i18n import translate

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "bot" / "commands.py"


def _catalog(lang: str) -> dict[str, str]:
    """This module's own message file, read directly (independent of other catalogs)."""
    return yaml.safe_load((ROOT / "templates" / "i18n" / lang / "commands.yaml").read_text(encoding="utf-8"))


def mv(measure: str | None, text: str) -> MeasureValue:
    """Shorthand for a measure value."""
    return MeasureValue(measure=measure, text=text)


PARSES: list[tuple[str, object]] = [
    # help
    ("", Help()),
    ("   ", Help()),
    ("/kr", Help()),
    ("kr", Help()),
    ("/kr help", Help()),
    ("/KR HELP", Help()),
    ("/kr 帮助", Help()),
    ("help", Help()),
    # update: the form, bare value, named values, sections
    ("/kr update", Update(code=None)),
    ("update", Update(code=None)),
    ("/kr 更新", Update(code=None)),
    ("/kr update KR2 1.8%", Update(code="KR2", values=(mv(None, "1.8%"),))),
    ("kr update KR2 1.8%", Update(code="KR2", values=(mv(None, "1.8%"),))),
    ("update kr2 1.8%", Update(code="KR2", values=(mv(None, "1.8%"),))),
    ("/kr UPDATE KR2 1.8%", Update(code="KR2", values=(mv(None, "1.8%"),))),
    ("/kr 更新 KR2 1.8%", Update(code="KR2", values=(mv(None, "1.8%"),))),
    ("/kr 更新KR2 1.8%", Update(code="KR2", values=(mv(None, "1.8%"),))),
    ("/kr checkin KR2 done", Update(code="KR2", values=(mv(None, "done"),))),
    ("/kr update O1 17.5万欧", Update(code="O1", values=(mv(None, "17.5万欧"),))),
    ("/kr update kr-2a 5k", Update(code="KR-2A", values=(mv(None, "5k"),))),
    ("/kr update KR2", Update(code="KR2")),
    (
        "/kr update KR2 新客转化率=1.8% ACOS=23% 备注：素材更新后转化回升 下一步：扩大精准词 需求：追加5000欧预算",
        Update(
            code="KR2",
            values=(mv("新客转化率", "1.8%"), mv("ACOS", "23%")),
            note="素材更新后转化回升",
            next_step="扩大精准词",
            asks=("追加5000欧预算",),
        ),
    ),
    (
        "/kr update KR2 新客转化率＝1.8%　ACOS＝23%　备注：回升",
        Update(code="KR2", values=(mv("新客转化率", "1.8%"), mv("ACOS", "23%")), note="回升"),
    ),
    ("/kr update KR3 repeat rate=30%", Update(code="KR3", values=(mv("repeat rate", "30%"),))),
    ("/kr update KR3 new customer GMV = 5k", Update(code="KR3", values=(mv("new customer GMV", "5k"),))),
    ("/kr update KR3 repeat rate= 30%", Update(code="KR3", values=(mv("repeat rate", "30%"),))),
    (
        "/kr update KR3 repeat rate=30% new customer GMV = 5k ACOS=21%",
        Update(
            code="KR3", values=(mv("repeat rate", "30%"), mv("new customer GMV", "5k"), mv("ACOS", "21%"))
        ),
    ),
    (
        "/kr update KR2 1.8% note: creative refresh worked next: broaden exact terms ask: $15k air-freight budget; 2 more people risk: stock-out in May",
        Update(
            code="KR2",
            values=(mv(None, "1.8%"),),
            note="creative refresh worked",
            next_step="broaden exact terms",
            risk="stock-out in May",
            asks=("$15k air-freight budget", "2 more people"),
        ),
    ),
    (
        "/kr update KR2 1.8% NOTE: a Next Step: b ASK: c RISK: d",
        Update(code="KR2", values=(mv(None, "1.8%"),), note="a", next_step="b", asks=("c",), risk="d"),
    ),
    (
        "/kr update KR2 1.8% note：a next：b ask：c risk：d",
        Update(code="KR2", values=(mv(None, "1.8%"),), note="a", next_step="b", asks=("c",), risk="d"),
    ),
    (
        "/kr update KR2 1.8% 备注:a 下一步:b 需求:c 风险:d",
        Update(code="KR2", values=(mv(None, "1.8%"),), note="a", next_step="b", asks=("c",), risk="d"),
    ),
    ("/kr update KR2 1.8% 原因：竞品降价", Update(code="KR2", values=(mv(None, "1.8%"),), note="竞品降价")),
    (
        "/kr update KR2 1.8% cause: price war",
        Update(code="KR2", values=(mv(None, "1.8%"),), note="price war"),
    ),
    (
        "/kr update KR2 1.8% next step: ship it",
        Update(code="KR2", values=(mv(None, "1.8%"),), next_step="ship it"),
    ),
    ("/kr update KR2 备注：xx", Update(code="KR2", note="xx")),
    ("/kr update KR2 1.8% 备注： 风险：断货", Update(code="KR2", values=(mv(None, "1.8%"),), risk="断货")),
    (
        "/kr update KR2 需求：追加5000欧预算；3名剪辑师;权限\n审批",
        Update(code="KR2", asks=("追加5000欧预算", "3名剪辑师", "权限", "审批")),
    ),
    # a keyword only counts at the start or after whitespace
    (
        "/kr update KR2 1.8% 备注：转化下降，原因：竞品降价",
        Update(code="KR2", values=(mv(None, "1.8%"),), note="转化下降，原因：竞品降价"),
    ),
    (
        "/kr update KR2 1.8% note: see https://x.test/a",
        Update(code="KR2", values=(mv(None, "1.8%"),), note="see https://x.test/a"),
    ),
    # the others
    ("/kr list", ListKrs()),
    ("/kr 列表", ListKrs()),
    ("/kr status", StatusOf(code=None)),
    ("/kr status O1", StatusOf(code="O1")),
    ("/kr 状态 kr2", StatusOf(code="KR2")),
    ("/kr report", Report()),
    ("/kr 报告", Report()),
    ("/kr paths", Paths()),
    ("/kr 路径", Paths()),
    ("/kr matrix", Matrix()),
    ("/kr 矩阵", Matrix()),
    ("/kr plan KR2", Plan(code="KR2")),
    ("/kr 计划 kr2", Plan(code="KR2")),
    # change
    (
        "/kr change KR2 target=2.2% reason: 竞品降价",
        Change(code="KR2", changes=(GoalEdit(measure=None, field="target", text="2.2%"),), reason="竞品降价"),
    ),
    (
        "/kr 变更 KR2 目标＝2.2% 原因：竞品降价",
        Change(code="KR2", changes=(GoalEdit(measure=None, field="target", text="2.2%"),), reason="竞品降价"),
    ),
    (
        "/kr change KR2 target=2.2%",
        Change(code="KR2", changes=(GoalEdit(measure=None, field="target", text="2.2%"),)),
    ),
    (  # a command ending with `!` insists (a target may cross the baseline); the `!` is not part of the reason
        "/kr change KR2 target=1.2% reason: 新规禁投，目标改为守住 !",
        Change(
            code="KR2",
            changes=(GoalEdit(measure=None, field="target", text="1.2%"),),
            reason="新规禁投，目标改为守住",
            insist=True,
        ),
    ),
    (
        "/kr 变更 KR2 目标=1.2% 原因：新规禁投！",
        Change(code="KR2", changes=(GoalEdit(measure=None, field="target", text="1.2%"),), reason="新规禁投", insist=True),
    ),
    (
        "/kr change KR2 ACOS.at_most=20% 新客转化率.target=2.2% reason: budget cut",
        Change(
            code="KR2",
            changes=(
                GoalEdit(measure="ACOS", field="at_most", text="20%"),
                GoalEdit(measure="新客转化率", field="target", text="2.2%"),
            ),
            reason="budget cut",
        ),
    ),
    (
        "/kr change KR3 repeat rate.target=30% 基线=10% 上限=5 下限=1 截止=2026-06-30 deadline=2026-07-01 标题=新目标",
        Change(
            code="KR3",
            changes=(
                GoalEdit(measure="repeat rate", field="target", text="30%"),
                GoalEdit(measure=None, field="baseline", text="10%"),
                GoalEdit(measure=None, field="at_most", text="5"),
                GoalEdit(measure=None, field="at_least", text="1"),
                GoalEdit(measure=None, field="due", text="2026-06-30"),
                GoalEdit(measure=None, field="due", text="2026-07-01"),
                GoalEdit(measure=None, field="title", text="新目标"),
            ),
        ),
    ),
    (
        "/kr change O1 title=Win the DACH market reason: scope",
        Change(
            code="O1",
            changes=(GoalEdit(measure=None, field="title", text="Win the DACH market"),),
            reason="scope",
        ),
    ),
    (
        "/kr change KR2 At Most=20% Baseline=3",
        Change(
            code="KR2",
            changes=(
                GoalEdit(measure=None, field="at_most", text="20%"),
                GoalEdit(measure=None, field="baseline", text="3"),
            ),
        ),
    ),
    # away
    ("/kr away 2026-12-20..2027-01-03", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026-12-20 2027-01-03", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026-12-20~2027-01-03", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026-12-20 ～ 2027-01-03", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026-12-20 to 2027-01-03", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026-12-20至2027-01-03", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr 请假 2026年12月20日至2027年1月3日", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026/12/20..2027/1/3", Away(start=date(2026, 12, 20), end=date(2027, 1, 3))),
    ("/kr away 2026-12-24", Away(start=date(2026, 12, 24), end=date(2026, 12, 24))),
    ("/kr away 2026-12-24..2026-12-24", Away(start=date(2026, 12, 24), end=date(2026, 12, 24))),
    ("/kr away off", Away(start=None, end=None)),
    ("/kr away Clear", Away(start=None, end=None)),
    ("/kr 请假 取消", Away(start=None, end=None)),
]


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[text or "<empty>" for text, _ in PARSES])
def test_parse(text: str, expected: object) -> None:
    """Each example parses to exactly this command."""
    assert parse_command(text=text) == expected


ERRORS: list[tuple[str, str, str]] = [
    # (text, key, the offending word that must be among the error's params)
    ("/kr fly", "command.unknown", "fly"),
    ("/kr KR2 1.8%", "command.unknown", "KR2"),
    ("/kr updat KR2 1.8%", "command.unknown_near", "updat"),
    ("/kr list mine", "command.extra_words", "mine"),
    ("/kr report now", "command.extra_words", "now"),
    ("/kr status O1 KR2", "command.extra_words", "KR2"),
    ("/kr plan KR2 KR3", "command.extra_words", "KR3"),
    ("/kr plan", "command.code_missing", "plan"),
    ("/kr done", "command.code_missing", "done"),
    ("/kr done KR3", "command.task_missing", "KR3"),
    ("/kr change", "command.code_missing", "change"),
    ("/kr plan 2", "command.bad_code", "2"),
    ("/kr status 新客", "command.bad_code", "新客"),
    ("/kr update 1.8%", "command.bad_code", "1.8%"),
    ("/kr update 新客转化率=1.8%", "command.bad_code", "新客转化率=1.8%"),
    ("/kr update note: xx", "command.bad_code", "note:"),
    ("/kr update KR2 1.8% 23%", "command.name_measures", "23%"),
    ("/kr update KR2 ACOS=23% 1.8%", "command.name_measures", "1.8%"),
    ("/kr update KR2 1.8% 素材更新后转化回升", "command.stray_words", "素材更新后转化回升"),
    ("/kr update KR2 ACOS=23% great week", "command.stray_words", "great week"),
    ("/kr update KR2 1,8 % 2", "command.name_measures", "2"),
    ("/kr udpate KR2 1.8%", "command.unknown_near", "update"),
    ("/kr update KR2 ACOS=", "command.value_missing", "ACOS"),
    ("/kr update KR2 ACOS=23% repeat rate= note: x", "command.value_missing", "repeat rate"),
    ("/kr update KR2 ACOS==23%", "command.value_missing", "ACOS"),
    ("/kr update KR2 =1.8%", "command.measure_missing", "1.8%"),
    ("/kr update KR2 ACOS=23% =1.8%", "command.measure_missing", "1.8%"),
    ("/kr change KR2 reason: 竞品降价", "command.no_edits", "KR2"),
    ("/kr change KR2", "command.no_edits", "KR2"),
    ("/kr change KR2 2.2%", "command.edit_unnamed", "2.2%"),
    ("/kr change KR2 goal=2.2%", "command.unknown_field", "goal"),
    ("/kr change KR2 新客转化率=2.2%", "command.unknown_field", "新客转化率"),
    ("/kr change KR2 ACOS.max=20%", "command.unknown_field", "max"),
    ("/kr change KR2 .target=2%", "command.measure_missing", ".target"),
    ("/kr away", "command.away_missing", "away"),
    ("/kr away tomorrow", "command.bad_date", "tomorrow"),
    ("/kr away 2026-13-01", "command.bad_date", "2026-13-01"),
    ("/kr away 2026-02-30..2026-03-02", "command.bad_date", "2026-02-30"),
    ("/kr away 2026-12-20..2027-01-03..2027-01-05", "command.bad_date", "2027-01-05"),
    ("/kr away 20.12.2026", "command.bad_date", "20.12.2026"),
    ("/kr away 2027-01-03..2026-12-20", "command.date_order", "2027-01-03..2026-12-20"),
]


@pytest.mark.parametrize(("text", "key", "word"), ERRORS, ids=[text for text, _, _ in ERRORS])
def test_refusal(text: str, key: str, word: str) -> None:
    """Each bad text is refused with this key, naming the offending word."""
    with pytest.raises(KrbotError) as caught:
        parse_command(text=text)
    assert caught.value.key == key
    assert word in caught.value.params.values()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("text", "key", "word"), ERRORS, ids=[text for text, _, _ in ERRORS])
def test_refusal_renders(text: str, key: str, word: str, lang: str) -> None:
    """Every refusal renders in both languages with exactly the params raised, and shows the word."""
    with pytest.raises(KrbotError) as caught:
        parse_command(text=text)
    template = Environment(undefined=StrictUndefined).from_string(_catalog(lang)[caught.value.key])
    assert word in template.render(**caught.value.params)


def test_every_raised_key_is_in_both_catalogs_and_tested() -> None:
    """Every key the parser can raise has an en and a zh sentence, and a case in ERRORS."""
    sources = (SOURCE, SOURCE.parent / "value_text.py")
    raised = {key for source in sources for key in re.findall(r'KrbotError\(\s*"([\w.]+)"', source.read_text(encoding="utf-8"))}
    assert raised, "no keys found in bot/commands.py"
    for lang in ("en", "zh"):
        assert raised <= set(_catalog(lang)), lang
    assert raised == {key for _, key, _ in ERRORS}


def test_catalogs_have_the_same_keys_and_help_lines() -> None:
    """en and zh define the same keys, including help.title and help.<name> for every command."""
    en, zh = _catalog("en"), _catalog("zh")
    assert set(en) == set(zh)
    assert {"help.title", *(f"help.{name}" for name in COMMAND_NAMES)} <= set(en)


_ALLOWED_ASCII = {*COMMAND_NAMES, *FIELDS, "kr", "krbot", "KR", "O", "YYYY", "MM", "DD"}


@pytest.mark.parametrize("key", sorted(_catalog("zh")))
def test_zh_has_no_english_words(key: str) -> None:
    """zh sentences are Chinese: ASCII words only for codes, command words and field names."""
    text = re.sub(r"{{.*?}}", "", _catalog("zh")[key])
    assert re.search(r"[\u4e00-\u9fff]", text), text
    words = set(re.findall(r"[A-Za-z][A-Za-z_]*", text))
    assert words <= _ALLOWED_ASCII, words - _ALLOWED_ASCII


def test_translate_reaches_these_messages() -> None:
    """The shared catalog (bot.i18n) serves this module's keys."""
    assert "fly" in translate("command.unknown", lang="en", word="fly")
    assert "fly" in translate("command.unknown", lang="zh", word="fly")


def test_command_names_cover_every_command() -> None:
    """Each canonical name parses (with a code where one is needed) and none is refused as unknown."""
    arguments = {"change": " KR2 target=1", "plan": " KR2", "away": " off", "done": " KR3 1"}
    for name in COMMAND_NAMES:
        parse_command(text=f"/kr {name}{arguments.get(name, '')}")


def test_parse_update_takes_the_check_in_grammar_with_or_without_the_command() -> None:
    """`krbot checkin TEXT` shares the `/kr update` grammar."""
    expected = Update(code="KR2", values=(mv(None, "1.8%"),), note="ok")
    assert parse_update(text="KR2 1.8% note: ok") == expected
    assert parse_update(text="/kr update KR2 1.8% note: ok") == expected
    assert parse_update(text="更新 KR2 1.8% 备注：ok") == expected
    with pytest.raises(KrbotError) as caught:
        parse_update(text="KR2 1.8% 2%")
    assert caught.value.key == "command.name_measures"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/kr done KR3 工厂排产完成", TaskDone(code="KR3", task="工厂排产完成")),
        ("/kr done kr3 2", TaskDone(code="KR3", task="2")),
        ("/kr 完成任务 KR3 海运 到港", TaskDone(code="KR3", task="海运 到港")),
    ],
)
def test_task_done(text: str, expected: TaskDone) -> None:
    """`/kr done CODE TASK` keeps the task words as typed for the service to match."""
    assert parse_command(text=text) == expected


def test_commands_are_frozen() -> None:
    """Commands cannot be changed after parsing."""
    command = parse_command(text="/kr update KR2 1.8%")
    with pytest.raises(AttributeError):
        command.code = "KR3"  # type: ignore[misc]


_WORD = st.text(alphabet=st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1, max_size=6)
# a milestone word after a name ("Launch done") is that milestone's value, so no name word is one
_NAMES = (
    st.lists(_WORD.filter(lambda w: w.casefold() not in MILESTONE_WORDS), min_size=1, max_size=3)
    .map(" ".join)
    .filter(lambda n: normalise(n) == n)
)
_VALUES = st.one_of(
    st.from_regex(r"[-+]?[0-9]{1,6}(\.[0-9]{1,2})?(%|万欧|千欧|k|单|h|天|M)?", fullmatch=True),
    st.sampled_from(["done", "完成", "€5,000", "$1.2M", "1.2亿"]),
    st.text(
        alphabet=st.characters(exclude_categories=["Z", "C"], exclude_characters="=＝:：;；,，、"),
        min_size=1,
        max_size=8,
    ).filter(lambda v: normalise(v) == v and " " not in v),
)
_NOTES = st.lists(
    st.text(
        alphabet=st.characters(exclude_categories=["Z", "C"], exclude_characters=":："),
        min_size=1,
        max_size=8,
    ),
    min_size=1,
    max_size=4,
).map(" ".join)


@given(name=_NAMES, value=_VALUES, note=_NOTES)
def test_generated_named_value_and_note(name: str, value: str, note: str) -> None:
    """Any measure name (letters/CJK, single spaces) with any value token and a note comes back unchanged."""
    command = parse_command(text=f"/kr update KR9 {name}={value} note: {note}")
    folded = normalise(name)
    assert command == Update(code="KR9", values=(MeasureValue(measure=folded, text=normalise(value)),), note=note)


@given(name=_NAMES, value=_VALUES)
def test_generated_change(name: str, value: str) -> None:
    """`measure.field=value` keeps any measure name and value."""
    command = parse_command(text=f"/kr change KR9 {name}.target={value} 原因：x")
    assert command == Change(
        code="KR9", changes=(GoalEdit(measure=name, field="target", text=value),), reason="x"
    )
