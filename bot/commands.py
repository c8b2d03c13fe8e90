"""The chat commands: one parser turns `/kr …` text from the CLI, Slack or Feishu into a frozen command."""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import date

from bot.command_types import (
    Away,
    Change,
    Command,
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
)
from bot.core.confidence import read_confidence
from bot.core.errors import KrbotError
from bot.value_text import goal_pairs, scan_values

COMMAND_NAMES: tuple[str, ...] = (
    "help",
    "update",
    "list",
    "status",
    "report",
    "paths",
    "matrix",
    "plan",
    "change",
    "done",
    "away",
)

FIELDS: tuple[str, ...] = ("target", "baseline", "at_most", "at_least", "due", "title")



_PREFIX = re.compile(r"[/／]?kr(?=\s|$)", re.IGNORECASE)
_FIRST_WORD = re.compile(r"\s*(\S+)\s*(.*)", re.DOTALL)
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,31}")
_EQUALS = re.compile(r"[=＝]")
_ASK_SPLIT = re.compile(r"[;；\n]")
_RANGE_SPLIT = re.compile(r"\s*(?:\.\.\.?|[~～至到–—]|\bto\b)\s*|\s+", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_CLEAR_WORDS = frozenset({"off", "clear", "cancel", "none", "取消", "清除", "关闭"})

_ALIASES: dict[str, str] = {
    **{name: name for name in COMMAND_NAMES},
    "checkin": "update",
    "path": "paths",
    "帮助": "help",
    "更新": "update",
    "列表": "list",
    "状态": "status",
    "报告": "report",
    "路径": "paths",
    "矩阵": "matrix",
    "计划": "plan",
    "变更": "change",
    "完成任务": "done",
    "请假": "away",
}
_CJK_ALIASES = tuple(alias for alias in _ALIASES if not alias.isascii())

_UPDATE_SECTIONS: dict[str, str] = {
    "note": "note",
    "notes": "note",
    "cause": "note",
    "reason": "note",
    "备注": "note",
    "原因": "note",
    "next": "next",
    "nextstep": "next",
    "nextsteps": "next",
    "下一步": "next",
    "ask": "ask",
    "asks": "ask",
    "需求": "ask",
    "risk": "risk",
    "risks": "risk",
    "风险": "risk",
    "confidence": "confidence",
    "信心": "confidence",
}
_CHANGE_SECTIONS: dict[str, str] = {
    "reason": "reason",
    "cause": "reason",
    "why": "reason",
    "note": "reason",
    "原因": "reason",
    "理由": "reason",
    "备注": "reason",
}


def _keyword_pattern(*, words: dict[str, str], lead: str = r"^|(?<=\s)") -> re.Pattern[str]:
    """A section keyword at the start or after whitespace (or `lead`), then an ASCII or full-width colon."""
    spelled = sorted((re.sub(r"(?<=next)(?=step)", r"[\\s_-]*", re.escape(word)) for word in words), key=len)
    return re.compile(rf"(?:{lead})(?P<kw>{'|'.join(reversed(spelled))})[^\S\n]*[:：]", re.IGNORECASE)


_UPDATE_KEYWORDS = _keyword_pattern(words=_UPDATE_SECTIONS)
_CHANGE_KEYWORDS = _keyword_pattern(words=_CHANGE_SECTIONS)
_AFTER_COMMA = r"^|(?<=\s)|(?<=[,，;；、])"  # the first keyword may follow the values' comma: 1.8%，备注：…
_FIRST_KEYWORDS = {
    _UPDATE_KEYWORDS: _keyword_pattern(words=_UPDATE_SECTIONS, lead=_AFTER_COMMA),
    _CHANGE_KEYWORDS: _keyword_pattern(words=_CHANGE_SECTIONS, lead=_AFTER_COMMA),
}

_FIELD_ALIASES: dict[str, str] = {
    **{name: name for name in FIELDS},
    "目标": "target",
    "目标值": "target",
    "基线": "baseline",
    "上限": "at_most",
    "下限": "at_least",
    "截止": "due",
    "截止日期": "due",
    "deadline": "due",
    "标题": "title",
}


def parse_command(*, text: str) -> Command:
    """Read one chat command; `/kr` is optional and an empty text asks for help."""
    name, word, tail = _split_command(text=text)
    if name is None:
        nearest = _nearest(word=word)
        if nearest:
            raise KrbotError("command.unknown_near", word=word, suggestion=nearest)
        raise KrbotError("command.unknown", word=word)
    if name == "help":
        return Help()
    if name == "update":
        return _update(body=tail)
    if name == "status":
        return StatusOf(code=_optional_code(body=tail, command=name))
    if name == "plan":
        return Plan(code=_required_code(body=tail, command=name))
    if name == "change":
        return _change(body=tail)
    if name == "away":
        return _away(body=tail)
    if name == "done":
        code = _required_code(body=tail.split(maxsplit=1)[0] if tail.strip() else "", command=name)
        task = tail.split(maxsplit=1)[1].strip() if len(tail.split(maxsplit=1)) > 1 else ""
        if not task:
            raise KrbotError("command.task_missing", code=code)
        return TaskDone(code=code, task=task)
    _no_more_words(body=tail, command=name)
    return {"list": ListKrs, "report": Report, "paths": Paths, "matrix": Matrix}[name]()


def _nearest(*, word: str) -> str:
    """The subcommand a mistyped word most likely meant (`udpate` -> `update`), or ""."""
    close = difflib.get_close_matches(unicodedata.normalize("NFKC", word).casefold(), list(_ALIASES), n=1, cutoff=0.6)
    return _ALIASES[close[0]] if close else ""


def parse_update(*, text: str) -> Update:
    """Read a check-in in the grammar of `/kr update`, with or without the leading `/kr update`."""
    name, _word, tail = _split_command(text=text)
    return _update(body=tail if name == "update" else _strip_prefix(text=text))


def _strip_prefix(*, text: str) -> str:
    """The text without surrounding space and without a leading `/kr` or `kr`."""
    text = text.strip()
    match = _PREFIX.match(text)
    return text[match.end() :].strip() if match else text


def _split_command(*, text: str) -> tuple[str | None, str, str]:
    """The canonical subcommand (None when unknown), the word as typed, and the rest of the text."""
    body = _strip_prefix(text=text)
    if not body:
        return "help", "", ""
    word, tail = _first_word(text=body)
    name = _ALIASES.get(unicodedata.normalize("NFKC", word).casefold())
    if name is not None:
        return name, word, tail
    for alias in _CJK_ALIASES:
        if body.startswith(alias):
            return _ALIASES[alias], alias, body[len(alias) :].strip()
    return None, word, tail


def _first_word(*, text: str) -> tuple[str, str]:
    """The first whitespace-separated word and the stripped rest ("" and "" for blank text)."""
    match = _FIRST_WORD.match(text)
    if match is None:
        return "", ""
    return match[1], match[2].strip()


def _code(*, word: str, command: str) -> str:
    """The upper-cased goal code (full-width forms folded), or a refusal naming the word."""
    folded = unicodedata.normalize("NFKC", word)
    if not _CODE.fullmatch(folded):
        raise KrbotError("command.bad_code", word=word, command=command)
    return folded.upper()


def _optional_code(*, body: str, command: str) -> str | None:
    """A single optional code as the whole argument."""
    word, rest = _first_word(text=body)
    _no_more_words(body=rest, command=command)
    return _code(word=word, command=command) if word else None


def _required_code(*, body: str, command: str) -> str:
    """A single code as the whole argument."""
    code = _optional_code(body=body, command=command)
    if code is None:
        raise KrbotError("command.code_missing", word=command)
    return code


def _no_more_words(*, body: str, command: str) -> None:
    """Refuse words a command does not take."""
    if body.strip():
        raise KrbotError("command.extra_words", word=body.strip(), command=command)


def _sections(
    *, text: str, keywords: re.Pattern[str], kinds: dict[str, str]
) -> tuple[str, dict[str, list[str]]]:
    """The text before the first keyword, and each keyword's non-empty texts by section kind."""
    start = _FIRST_KEYWORDS[keywords].search(text)
    matches = [] if start is None else [start, *keywords.finditer(text, start.end())]
    head = text[: matches[0].start()] if matches else text
    found: dict[str, list[str]] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if body:
            kind = kinds[re.sub(r"[\s_-]+", "", match["kw"]).casefold()]
            found.setdefault(kind, []).append(body)
    return head.strip(), found


def _joined(*, texts: list[str] | None) -> str | None:
    """Several texts of one section as one, or None."""
    return "\n".join(texts) if texts else None


def _update(*, body: str) -> Update:
    """The check-in after `/kr update`."""
    if not body.strip():
        return Update(code=None)
    word, rest = _first_word(text=body)
    coded = _CODE_COLON.match(unicodedata.normalize("NFKC", word))
    if coded is not None and not _UPDATE_KEYWORDS.match(word):  # KR2：1.8% · KR2: 1.8%
        word, rest = coded[1], (coded[2] + " " + rest).strip()
    code = _code(word=word, command="update")
    head, found = _sections(text=rest, keywords=_UPDATE_KEYWORDS, kinds=_UPDATE_SECTIONS)
    asks = tuple(
        ask.strip() for section in found.get("ask", []) for ask in _ASK_SPLIT.split(section) if ask.strip()
    )
    return Update(
        code=code,
        values=tuple(MeasureValue(measure=name, text=value) for name, value in scan_values(head=head)),
        note=_joined(texts=found.get("note")),
        next_step=_joined(texts=found.get("next")),
        risk=_joined(texts=found.get("risk")),
        asks=asks,
        confidence=_confidence(texts=found.get("confidence")),
    )


def _confidence(*, texts: list[str] | None) -> int | None:
    """The owner's confidence after `confidence:` / `信心：` (the last one given counts), or None."""
    return read_confidence(text=texts[-1]) if texts else None


_CODE_COLON = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]{0,31}):(.*)", re.DOTALL)


def _change(*, body: str) -> Change:
    """The goal change after `/kr change`."""
    word, rest = _first_word(text=body)
    if not word:
        raise KrbotError("command.code_missing", word="change")
    code = _code(word=word, command="change")
    rest = rest.rstrip()
    insist = rest.endswith(("!", "！"))
    if insist:
        rest = rest[:-1].rstrip()
    head, found = _sections(text=rest, keywords=_CHANGE_KEYWORDS, kinds=_CHANGE_SECTIONS)
    if not head:
        raise KrbotError("command.no_edits", word=code)
    if not _EQUALS.search(head):
        raise KrbotError("command.edit_unnamed", word=head, fields=", ".join(FIELDS))
    edits = tuple(_edit(name=name, text=value) for name, value in goal_pairs(head=head))
    return Change(code=code, changes=edits, reason=_joined(texts=found.get("reason")), insist=insist)


def _edit(*, name: str, text: str) -> GoalEdit:
    """One `field=value` or `measure.field=value` edit."""
    measure, dot, field = name.rpartition(".")
    measure = " ".join(measure.split())
    if dot and not measure:
        raise KrbotError("command.measure_missing", word=name)
    key = re.sub(r"[\s-]+", "_", field.strip()).casefold()
    canonical = _FIELD_ALIASES.get(key)
    if canonical is None:
        raise KrbotError("command.unknown_field", word=field.strip(), fields=", ".join(FIELDS))
    return GoalEdit(measure=measure or None, field=canonical, text=text)


def _away(*, body: str) -> Away:
    """The absence after `/kr away`: one day, a range, or a clear word."""
    body = body.strip()
    if not body:
        raise KrbotError("command.away_missing", word="away")
    if body.casefold() in _CLEAR_WORDS:
        return Away(start=None, end=None)
    parts = [part for part in _RANGE_SPLIT.split(body) if part]
    if len(parts) > 2:
        raise KrbotError("command.bad_date", word=parts[2])
    start = _date(word=parts[0])
    end = _date(word=parts[-1])
    if end < start:
        raise KrbotError("command.date_order", word=body, start=start.isoformat(), end=end.isoformat())
    return Away(start=start, end=end)


def _date(*, word: str) -> date:
    """A day written YYYY-MM-DD (also / . or 年月日), or a refusal naming the word."""
    match = _DATE.fullmatch(word)
    try:
        if match is None:
            raise ValueError(word)
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise KrbotError("command.bad_date", word=word) from None
