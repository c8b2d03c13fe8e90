"""The one wiring function: settings -> engine -> unit of work (platforms and scheduler join here later)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from storage.db import UnitOfWork, make_engine, upgrade


@dataclass(frozen=True, slots=True)
class App:
    """What every edge needs: the settings and the unit of work over the database."""

    settings: Settings
    uow: UnitOfWork


def build_app(*, database_url: str | None = None, migrate: bool = True) -> App:
    """Connect to the database (migrating it to head unless told not to) and hand back the wired app."""
    settings = Settings()
    url = database_url or settings.database_url
    engine = make_engine(url=url)
    if migrate:
        upgrade(engine=engine)
    return App(settings=settings, uow=UnitOfWork(engine=engine))
