"""Revision 0012 on a database that holds hooks already: each is bound to its KR's owner, and keeps working."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import select, update

from bot import services
from bot.app import App
from storage.db import alembic_config
from storage.models import MeasureHookRow

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_an_upgraded_database_binds_its_hooks_to_their_owners(example: App) -> None:
    """Down to 0011 (no owners, no key table) and up again: KR2's hook is chen's, O1's lin's; both still store."""
    kr2, _, _ = services.create_hook(uow=example.uow, code="KR2", measure="新客转化率", at=NOW)
    o1, _, _ = services.create_hook(uow=example.uow, code="O1", measure="新客GMV", at=NOW)
    config = alembic_config(engine=example.uow.engine)
    command.downgrade(config, "0011")
    command.upgrade(config, "head")
    with example.uow.begin() as session:
        owners = {code: owner for code, owner in session.execute(select(MeasureHookRow.code, MeasureHookRow.owner_key))}
    assert owners == {"KR2": "chen", "O1": "lin"}
    for issued, value in ((kr2, 1.8), (o1, 52000)):
        reply, _ = services.hook_checkin(uow=example.uow, secret=issued.secret, value=value, now=NOW, key="k")
        assert reply.key != "checkin.duplicate" and reply.params["values"][0]["value"] == value


def test_a_hook_made_before_owners_were_bound_stores_for_the_owner_of_today(example: App) -> None:
    """A hook whose owner the upgrade could not tell (none stored) stores for the KR's owner, as before."""
    issued, _, _ = services.create_hook(uow=example.uow, code="KR2", measure="新客转化率", at=NOW)
    with example.uow.begin() as session:
        session.execute(update(MeasureHookRow).values(owner_key=None))
    reply, _ = services.hook_checkin(uow=example.uow, secret=issued.secret, value=1.8, now=NOW)
    assert reply.params["values"][0]["value"] == 1.8
