"""The OKR file names only the variables the operator allowed (KRBOT_SOURCE_ENVS, never krbot's own), read from the
environment or `.env`; what a source said reaches only its owner, as at most 120 plain characters (§8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import services
from bot.api import api_routes
from bot.app import App
from bot.core.errors import KrbotError
from bot.render import render_digest, render_report
from tests.fakes.sources import sources_yaml
from tests.fakes.synced import IMPORTED, OCT15, Synced, synced_workspace

SECRET_TEXT = "INTERNAL-ROW customer=Müller iban=DE89370400440532013000 " * 8


@pytest.fixture
def synced(app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Synced]:
    """The example with sourced measures (tests/fakes/synced.py)."""
    with synced_workspace(app=app, db_url=db_url, tmp_path=tmp_path, monkeypatch=monkeypatch) as workspace:
        yield workspace


def _refusal(app: App, text: str) -> str:
    """The words of an import's refusal."""
    with pytest.raises(KrbotError) as refused:
        services.import_okrs(uow=app.uow, text=text, filename="okrs.yaml", at=IMPORTED)
    from bot.i18n import translate

    error = refused.value
    problems = error.params.get("problems") or []
    return translate(error.key, lang="en", **error.params) + "\n" + "\n".join(map(str, problems))


def test_a_variable_the_operator_did_not_allow_is_refused_at_import_by_line(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SHOP_HEADERS")
    text = sources_yaml(json_url="https://shop.example.com/m.json")
    said = _refusal(app, text)
    line = next(n for n, words in enumerate(text.splitlines(), 1) if "SALES_DB_URL" in words)
    assert "SALES_DB_URL" in said and "KRBOT_SOURCE_ENVS" in said and f"okrs.yaml:{line}:" in said, said
    assert "SHOP_HEADERS" in said  # what is allowed now
    with app.uow.begin() as session:  # nothing half-written
        from sqlalchemy import func, select

        from storage.models import KrRow

        assert session.scalar(select(func.count()).select_from(KrRow)) == 0


@pytest.mark.parametrize("name", ["KRBOT_DATABASE_URL", "SLACK_BOT_TOKEN", "FEISHU_APP_SECRET", "krbot_secret_key"])
def test_krbots_own_variables_are_never_allowed_even_when_listed(
    app: App, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", f"SALES_DB_URL,SHOP_HEADERS,{name}")
    text = sources_yaml(json_url="https://shop.example.com/m.json").replace("database_env: SALES_DB_URL", f"database_env: {name}", 1)
    said = _refusal(app, text)
    assert name in said and "krbot's own" in said, said


def test_a_source_reads_its_variable_from_dotenv_as_krbot_reads_its_own(
    synced: Synced, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text(
        f"KRBOT_SOURCE_ENVS=SALES_DB_URL,SHOP_HEADERS\nSALES_DB_URL={synced.sales}\n", encoding="utf-8"
    )
    monkeypatch.delenv("SALES_DB_URL")
    monkeypatch.delenv("KRBOT_SOURCE_ENVS")
    monkeypatch.chdir(work)
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert outcome.counts["pulled"] == 3 and outcome.counts["pull failed"] == 0, outcome.counts


def test_a_variable_withdrawn_after_import_is_not_read_and_the_pull_fails_as_not_set_up(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SHOP_HEADERS")
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert outcome.counts["pulled"] == 1 and outcome.counts["pull failed"] == 2, outcome.counts
    assert synced.pulls()["GMV"]["source"]["last_pull"]["error"] == "not set up"
    told = next(n["text"] for n in synced.notices() if n["target"] == "ana")
    assert "SALES_DB_URL" in told and "KRBOT_SOURCE_ENVS" in told, told


def test_what_a_source_said_reaches_only_its_owner_and_only_120_plain_characters(synced: Synced) -> None:
    secret_url = synced.json.url + "?api_key=k-123456"
    services.import_okrs(uow=synced.app.uow, filename="sync.yaml", at=IMPORTED,
                         text=sources_yaml(json_url=secret_url, gmv_sql="SELECT 'zq' || CAST(sum(gmv) AS TEXT) FROM orders"))
    synced.json.document = {"data": {"orders": SECRET_TEXT}}
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert outcome.counts["pull failed"] == 2, outcome.counts
    digest = services.compose(uow=synced.app.uow, as_of=OCT15.replace(hour=12))
    for lang in ("en", "zh"):
        shown_all = [render_digest(digest=digest, fmt=fmt, lang=lang) for fmt in ("text", "markdown")]
        for fmt, shown in zip(("text", "markdown", "html"), [*shown_all, render_report(digest=digest, lang=lang)], strict=True):
            assert "INTERNAL" not in shown and "DE89" not in shown and "zq3500" not in shown, (lang, fmt)
    assert "not a number" in render_digest(digest=digest, fmt="text", lang="en")
    exported = str(services.export_all(uow=synced.app.uow, at=OCT15))
    assert "INTERNAL" not in exported and "zq3500" not in exported and "k-123456" not in exported
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    api = FastAPI()
    api.router.routes.extend(api_routes(uow=synced.app.uow))
    token = services.create_token(uow=synced.app.uow, person="lead", name="t", at=IMPORTED).secret
    answer = TestClient(api).get("/api/v1/okrs", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and "not a number" in answer.text
    assert "INTERNAL" not in answer.text and "zq3500" not in answer.text and "k-123456" not in answer.text
    told = [n["text"] for n in synced.notices() if n["target"] == "ana"]
    assert told and all("k-123456" not in text for text in told)
    assert any("zq3500" in text for text in told)  # the owner reads what the source said
    for text in (text for text in told if "INTERNAL" in text):  # and of a long answer, at most 120 characters
        assert text.count("INTERNAL-ROW") <= 2 and SECRET_TEXT[:60] not in text, text


def test_a_pull_never_reads_krbots_own_database_url_whatever_the_allow_list_says(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.pulling import environment

    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "KRBOT_DATABASE_URL,SALES_DB_URL")
    monkeypatch.setenv("KRBOT_DATABASE_URL", "sqlite:////tmp/krbot-own.db")
    monkeypatch.setenv("SALES_DB_URL", "sqlite:////tmp/sales.db")
    with pytest.raises(KrbotError) as refused:
        environment(name="KRBOT_DATABASE_URL")
    assert refused.value.key == "source.env_own"
    assert environment(name="SALES_DB_URL") == "sqlite:////tmp/sales.db"
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "")
    with pytest.raises(KrbotError) as unlisted:
        environment(name="SALES_DB_URL")
    assert unlisted.value.key == "source.env_not_allowed"


def test_a_sql_source_that_is_not_one_select_is_refused_at_import_by_line(
    app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SALES_DB_URL", f"sqlite:///{tmp_path / 'sales.db'}")
    text = sources_yaml(json_url="https://shop.example.com/m.json", gmv_sql="SELECT 1; DROP TABLE orders")
    said = _refusal(app, text)
    line = next(n for n, words in enumerate(text.splitlines(), 1) if "DROP TABLE" in words)
    assert f"okrs.yaml:{line}:" in said and "2 statements" in said and "exactly one SELECT" in said, said
    with pytest.raises(KrbotError) as refused:  # the same refusal in the file's other language
        services.import_okrs(uow=app.uow, text=text, filename="okrs.yaml", at=IMPORTED)
    from bot.i18n import translate

    zh = translate(refused.value.key, lang="zh", **refused.value.params)
    assert f"okrs.yaml:{line}" in zh and "2 条语句" in zh and "只读" in zh, zh
