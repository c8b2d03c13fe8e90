"""Both languages from the first line: the same keys in zh and en, and every key the code names exists."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import meta

from bot.i18n import _ENV, LANGUAGES, catalog, translate

ROOT = Path(__file__).resolve().parents[2]
KEY_IN_CODE = re.compile(r"""(?:KrbotError|NotAllowed|Reply|translate|\bt)\(\s*(?:key=)?["']([a-z_]+\.[a-z_.]*[a-z_])["']""")  # a prefix ("digest.measure." + kind) is no key
KEY_IN_TEMPLATE = re.compile(r"""t\(\s*'([a-z_]+\.[a-z_.]*[a-z_])'""")


def test_zh_and_en_have_the_same_keys() -> None:
    """No sentence exists in one language only."""
    zh, en = set(catalog(lang="zh")), set(catalog(lang="en"))
    assert zh - en == set(), "only in zh"
    assert en - zh == set(), "only in en"


def test_every_key_named_in_code_and_templates_exists() -> None:
    """A refusal or label the code raises always has words in both languages."""
    named: set[str] = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "storage").rglob("*.py")]:
        named.update(KEY_IN_CODE.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "templates").rglob("*.j2"):
        named.update(KEY_IN_TEMPLATE.findall(path.read_text(encoding="utf-8")))
    assert len(named) > 40
    for lang in LANGUAGES:
        missing = sorted(named - set(catalog(lang=lang)))
        assert missing == [], f"{lang} lacks {missing}"


def test_user_words_are_values_never_template_code() -> None:
    """A parameter that looks like Jinja is shown literally."""
    text = translate("code.unknown", lang="en", word="{{ 7*7 }}{% raw %}", known="KR1")
    assert "{{ 7*7 }}{% raw %}" in text
    assert "49" not in text


def test_no_sentence_reads_the_template_environment() -> None:
    """A sentence is rendered in a namespace of its own words and helpers (t, value, percent, percent_range, lang), not
    over Jinja's globals: none may use range, dict, namespace, cycler, joiner or lipsum."""
    for lang in LANGUAGES:
        for key, text in catalog(lang=lang).items():
            used = meta.find_undeclared_variables(_ENV.parse(text)) & set(_ENV.globals)
            assert not used, f"{lang} {key} uses {sorted(used)}"
