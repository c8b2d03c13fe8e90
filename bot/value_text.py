"""Where values begin and end in a chat command: `name=value`, `name：value`, `name value`, `5 000 €`, `87,5 %`."""

from __future__ import annotations

import re

from bot.core.errors import KrbotError
from bot.core.units import COUNT_WORDS, fold, normalise
from bot.core.values import MILESTONE_WORDS, VALUE_TEXT

_EQUALS = re.compile(r"[=＝]")
_SEPARATOR = re.compile(r"[，、;；]|,(?=\s*[^\d\s]|\s*$)")


def scan_values(*, head: str) -> list[tuple[str | None, str]]:
    """The measure values before the first keyword: `name=value`, `name: value`, `name value`, or one bare value.

    A value ends where the number and its unit end (`5 000 €`, `87,5 %`), at the next `name=`, or at the end."""
    text = " ".join(_SEPARATOR.sub(" ", normalise(head)).replace(":", "=").split())
    pairs: list[tuple[str | None, str]] = []
    words: list[str] = []
    position, equals = 0, False
    while position < len(text):
        if text[position] == " ":
            position += 1
            continue
        if text[position] == "=":
            if equals or not words:
                following = text[position + 1 :].split()
                if equals:
                    raise KrbotError("command.value_missing", word=" ".join(words) or "=")
                raise KrbotError("command.measure_missing", word=following[0] if following else "=")
            equals, position = True, position + 1
            continue
        word_end = _word_end(text, position)
        later_equals = "=" in text[word_end:]
        names_next = not equals and (text[word_end:].lstrip().startswith("=") or (not words and later_equals))
        match = None if names_next else VALUE_TEXT.match(text, position)
        if match is None and not names_next and (equals or text[position:word_end].casefold() in MILESTONE_WORDS):
            match = _WORD.match(text, position)
        if match is None:
            words.append(text[position:word_end])
            position = word_end
            continue
        value = match[0].rstrip()
        name = " ".join(words) if words else None
        if name is None and pairs:
            pairs[-1], name = _name_from_unit(pairs[-1], value=value, values=text)
        if pairs and pairs[0][0] is None:
            raise KrbotError("command.name_measures", word=value, values=text)
        pairs.append((name, value))
        words, equals, position = [], False, position + len(value)
    if equals:
        raise KrbotError("command.value_missing", word=" ".join(words) or "=")
    if words:
        if not pairs and len(words) == 1:
            return [(None, words[0])]
        raise KrbotError("command.stray_words", word=" ".join(words))
    return pairs


def _name_from_unit(pair: tuple[str | None, str], *, value: str, values: str) -> tuple[tuple[str | None, str], str]:
    """`GMV 5000 Orders 20`: the count word read as 5000's unit names the next measure; refused when it is none."""
    name, previous = pair
    head, _, word = previous.rpartition(" ")
    if name is None or not head or fold(word) not in _NAME_WORDS or VALUE_TEXT.fullmatch(head) is None:
        raise KrbotError("command.name_measures", word=value, values=values)
    return (name, head), word


_NAME_WORDS = frozenset(fold(word) for word in COUNT_WORDS)
_WORD = re.compile(r"[^\s=]+")
_WORD_END = re.compile(r"[\s=]")


def _word_end(text: str, position: int) -> int:
    """Where the word starting at `position` ends (at a space or `=`)."""
    found = _WORD_END.search(text, position)
    return found.start() if found else len(text)


def goal_pairs(*, head: str) -> list[tuple[str, str]]:
    """`name=value …` edits (names may hold spaces); a middle value ends where its number ends, the last runs to the end."""
    parts = _EQUALS.split(head)
    name = " ".join(parts[0].split())
    pairs: list[tuple[str, str]] = []
    for index, middle in enumerate(parts[1:-1], start=1):
        tokens = middle.split()
        if not tokens:
            raise KrbotError("command.value_missing", word=name or "=")
        if not name:
            raise KrbotError("command.measure_missing", word=tokens[0])
        spaced = VALUE_TEXT.match(middle.strip() + "=")  # the next name follows: a unit word before it is the name
        value = spaced[0].rstrip() if spaced is not None else tokens[0]
        rest = middle.strip()[len(value):].split()
        if not rest:
            following = parts[index + 1].split()
            raise KrbotError("command.measure_missing", word=following[0] if following else "=")
        pairs.append((name, value))
        name = " ".join(rest)
    last = parts[-1].strip()
    if not last:
        raise KrbotError("command.value_missing", word=name or "=")
    if not name:
        raise KrbotError("command.measure_missing", word=last.split()[0])
    pairs.append((name, last))
    return pairs
