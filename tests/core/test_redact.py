"""Addresses and outside words made safe to show (bot/core/redact.py) and a failed pull's kind (bot/core/sources.py)."""

from __future__ import annotations

import pytest

from bot.core.redact import QUOTE_LIMIT, blank_url, blank_urls, plain_quote
from bot.core.sources import FAILURE_KINDS, failure_kind


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://erp.example.com/api/gmv.json", "https://erp.example.com/api/gmv.json"),
        ("https://erp.example.com/api/gmv.json?api_key=s3cret", "https://erp.example.com/api/gmv.json?…"),
        ("https://bob:pa55@erp.example.com:8443/x#frag", "https://…@erp.example.com:8443/x#…"),
        ("postgresql+psycopg://reader:pw@db.internal/sales", "postgresql+psycopg://…@db.internal/sales"),
        ("http://[::1]:8080/a?token=1", "http://[::1]:8080/a?…"),
    ],
)
def test_a_url_loses_its_credentials_query_and_fragment(url: str, shown: str) -> None:
    assert blank_url(url=url) == shown
    for secret in ("s3cret", "pa55", "bob", "reader", "pw@", "token=1", "frag"):
        assert secret not in blank_url(url=url)


def test_urls_inside_words_are_blanked_and_the_rest_kept() -> None:
    said = "HTTP 500 from https://hooks.example.com/in?key=abc123 (retry later)"
    assert blank_urls(text=said) == "HTTP 500 from https://hooks.example.com/in?… (retry later)"


def test_a_quote_is_plain_one_line_and_at_most_120_characters() -> None:
    long = "root:x:0:0:root:/root:/bin/bash\n" * 40 + "\x00\x07"
    quoted = plain_quote(text=long)
    assert len(quoted) <= QUOTE_LIMIT and quoted.endswith("…")
    assert "\n" not in quoted and "\x00" not in quoted and "\x07" not in quoted
    assert plain_quote(text="  42 apples \n") == "42 apples"
    assert plain_quote(text="see https://x.example/a?secret=1") == "see https://x.example/a?…"


def test_every_source_refusal_has_a_kind_everyone_may_read() -> None:
    assert failure_kind(key="source.timeout") == "too_slow"
    assert failure_kind(key="source.too_big") == "too_large"
    assert failure_kind(key="source.text") == "not_number"
    assert failure_kind(key="source.rows") == "several"
    assert failure_kind(key="source.redirected") == "redirected"
    assert failure_kind(key="source.address_refused") == "refused"
    assert failure_kind(key="source.something_new") == "failed"
    assert set(FAILURE_KINDS.values()) <= {
        "too_slow", "too_large", "not_number", "no_value", "several", "refused", "redirected", "unreachable",
        "http_status", "query", "implausible", "setup",
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_kind_has_words_in_both_languages(lang: str) -> None:
    from bot.i18n import translate

    for kind in {*FAILURE_KINDS.values(), "failed"}:
        words = translate(f"source.kind.{kind}", lang=lang, status=503)
        assert words and not words.startswith("source.kind"), (kind, words)


def test_every_refusal_a_pull_can_raise_has_a_kind() -> None:
    """A new `source.*` refusal without a kind would show as a bare "failed" in the digest: name its kind."""
    from pathlib import Path

    import yaml

    catalog = yaml.safe_load((Path(__file__).parents[2] / "templates/i18n/en/sources.yaml").read_text(encoding="utf-8"))
    ours = ("source.kind.", "source.check.", "source.notice")
    refusals = {key for key in catalog if key.startswith("source.") and not key.startswith(ours)}
    assert refusals - set(FAILURE_KINDS) == set()
