"""A data source's failure in the reader's language: stored as its kind's catalog key, written in zh or en by whoever
reads it — `/kr status`, the digest, the export (CONTRACT §9, §7)."""

from __future__ import annotations

import pytest

from bot import services
from bot.app import App
from bot.i18n import source_error_words, translate
from bot.render import render_digest, render_reply
from tests.fakes.pulls import AT, synced_with_pull


@pytest.mark.parametrize(("stored", "zh", "en"), [
    ("source.kind.too_slow", "太慢", "too slow"),
    ("source.kind.http_status:502", "502", "answered HTTP 502"),
    ("connection refused", "connection refused", "connection refused"),  # a row stored before: as it was
])
def test_a_stored_kind_reads_in_each_language(stored: str, zh: str, en: str) -> None:
    assert zh in source_error_words(stored, lang="zh")
    assert source_error_words(stored, lang="en") == en
    assert "source.kind" not in source_error_words(stored, lang="zh")


def test_status_and_digest_write_a_failed_pull_in_the_readers_language(example: App) -> None:
    synced_with_pull(example, error="source.kind.http_status:502")
    reply = services.run_command(uow=example.uow, person="chen", text="/kr status KR2", at=AT)
    zh, en = render_reply(reply=reply), translate("reply.status_kr", lang="en", **reply.params)
    assert "最近一次拉取失败：" in zh and "502" in zh and "answered HTTP" not in zh, zh
    assert "last pull failed: answered HTTP 502" in en, en
    digest = services.compose(uow=example.uow, as_of=AT)
    assert "last pull failed: answered HTTP 502" in render_digest(digest=digest, fmt="text", lang="en")
    chinese = render_digest(digest=digest, fmt="text", lang="zh")
    assert "502" in chinese and "source.kind" not in chinese and "answered HTTP" not in chinese
    exported = services.export_all(uow=example.uow, at=AT)
    sourced = [m for p in exported["objectives"][0]["paths"] for kr in p["krs"] for m in kr["measures"] if "source" in m]
    assert [m["source"]["last_pull"]["error"] for m in sourced] == [source_error_words("source.kind.http_status:502",
                                                                                       lang="zh")]
