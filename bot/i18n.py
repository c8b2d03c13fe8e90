"""The message catalog: every sentence a user sees, in zh and en, keyed and filled with Jinja."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml
from babel import Locale
from jinja2 import Environment, StrictUndefined, Template
from jinja2.runtime import new_context

from bot.core.errors import KrbotError
from bot.locale_words import percent_for, range_for, value_for
from bot.resources import resource_dir

LANGUAGES = ("zh", "en")

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where PyYAML has it: ten times faster
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@cache
def catalog(*, lang: str) -> dict[str, str]:
    """All message strings of one language, merged from templates/i18n/<lang>/*.yaml."""
    if lang not in LANGUAGES:
        raise KrbotError("language.unknown", word=lang, known=", ".join(LANGUAGES))
    merged: dict[str, str] = {}
    for path in sorted((resource_dir(name="templates") / "i18n" / lang).glob("*.yaml")):
        entries = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}  # noqa: S506 - a safe loader
        for key, text in entries.items():
            if key in merged:
                raise RuntimeError(f"message key {key!r} is defined twice ({path.name})")
            merged[key] = str(text)
    return merged


@cache
def _compiled(lang: str, key: str) -> Template:
    return _ENV.from_string(catalog(lang=lang)[key])


@cache
def _plain(lang: str, key: str) -> str | None:
    """The sentence as it reads when it has no placeholder (nothing to render), else None."""
    text = catalog(lang=lang)[key]
    return None if "{" in text else text.strip()


LIST_PARAMS = frozenset({"known", "names", "items", "allowed", "missing", "fields"})


def _zh_list(text: Any) -> Any:
    """A list that code joined with ", " joined the Chinese way, with 、."""
    return text.replace(", ", "、") if isinstance(text, str) else text


def percent_range(*, low: float, high: float, locale: str | None = None) -> str:
    """A range of completions as whole percents with the sign written once: "85–101%" ("85–101 %" in de)."""
    return range_for(low=low, high=high, locale=locale)


@cache
def _plural_rule(lang: str) -> Any:
    """The CLDR plural rule of a language (Babel): en has one and other, zh only other."""
    return Locale.parse(lang).plural_form


def plural(number: Any, one: str, other: str, /, *, lang: str) -> str:
    """The word for `number` things by the language's plural rule: 1 objective, 2 objectives, 0 objectives."""
    if isinstance(number, bool) or not isinstance(number, int | float):  # "more than 2", or nothing counted
        return other
    return one if _plural_rule(lang)(abs(number)) == "one" else other


def translate(key: str, /, *, lang: str, locale: str | None = None, **params: Any) -> str:
    """The sentence `key` in `lang`, with `params` filled in as plain values (never as template code); numbers are
    written in the reader's `locale` (BCP 47) where it has its own signs (`1.000`, `12,5 h`), else the language's
    way."""
    plain = _plain(lang, key)
    if plain is not None:  # most labels: no template to run
        return plain
    def nested(other: str, /, **extra: Any) -> str:
        return translate(other, lang=lang, locale=locale, **{**params, **extra})

    def value(number: float | None, unit: str | None = None, digits: int | None = 3) -> str:
        return value_for(number=number, unit=unit, lang=lang, locale=locale, digits=digits)

    def percent(ratio: float | None) -> str:
        return percent_for(ratio=ratio, locale=locale)

    def number_range(low: float, high: float) -> str:
        return percent_range(low=low, high=high, locale=locale)

    def word_for(number: Any, one: str, other: str) -> str:
        return plural(number, one, other, lang=lang)

    def source_error(text: str | None) -> str:
        return source_error_words(text, lang=lang)

    if lang == "zh" and not LIST_PARAMS.isdisjoint(params):  # a zh list reads 甲、乙、丙, not 甲, 乙, 丙
        params = {key: _zh_list(text) if key in LIST_PARAMS else text for key, text in params.items()}
    context = {"t": nested, "value": value, "percent": percent, "percent_range": number_range, "lang": lang,
               "plural": word_for, "source_error": source_error, **params}
    template = _compiled(lang, key)
    # the context is the template's whole namespace (a sentence reads only what is passed here), so neither it nor
    # the environment's globals are copied for each of a digest's ten thousand sentences
    namespace = new_context(_ENV, key, template.blocks, context, shared=True)
    return "".join(template.root_render_func(namespace)).strip()


_STORED_KIND = re.compile(r"(source\.kind\.[a-z_]+)(?::(.*))?")


def source_error_words(text: str | None, /, *, lang: str) -> str:
    """A data source's stored failure in the reader's language (stored as `source.kind.too_slow` or
    `source.kind.http_status:502`); any other stored text as it is."""
    found = _STORED_KIND.fullmatch(text or "")
    if found is None or found[1] not in catalog(lang=lang):
        return text or ""
    return translate(found[1], lang=lang, status=found[2])


def error_message(error: KrbotError, /, *, lang: str) -> str:
    """A refusal rendered for the user who caused it."""
    return translate(error.key, lang=lang, **error.params)
