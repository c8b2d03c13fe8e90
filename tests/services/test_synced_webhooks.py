"""A value a data source pulled is a check-in like any other: outbound webhooks hear of it as checkin.saved (§9)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import services
from bot.app import App
from bot.webhooks import install
from tests.fakes.sources import sources_yaml
from tests.fakes.synced import IMPORTED, OCT15, synced_workspace
from tests.fakes.webhook_receiver import SECRET, SECRET_ENV, Receiver


def test_synced_checkins_are_told_to_webhooks_once_and_signed(
    app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with synced_workspace(app=app, db_url=db_url, tmp_path=tmp_path, monkeypatch=monkeypatch) as synced:
        data = yaml.safe_load(sources_yaml(json_url=synced.json.url))
        data["workspace"]["webhooks"] = [{"url": receiver.url, "events": ["checkin.saved"], "secret_env": SECRET_ENV}]
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        services.import_okrs(uow=app.uow, text=text, filename="hooked.yaml", at=IMPORTED)
        synced.runner().run(job="sync", now=OCT15)
        synced.runner().run(job="sync", now=OCT15)  # the same slot again: nothing pulled, nothing told
        stored = synced.synced()
        assert stored, "the sources stored nothing"
        bodies = receiver.wait_for(len(stored))
        install(uow=app.uow).wait(timeout=15)
    told = [body["data"] for body in receiver.delivered() if body["event"] == "checkin.saved"]
    assert sorted((d["code"], d["source"]) for d in told) == sorted((row.code, "sync") for row in stored)
    assert len({body["id"] for body in bodies}) == len(bodies) == len(stored)
    assert all(request.valid for request in receiver.requests)
