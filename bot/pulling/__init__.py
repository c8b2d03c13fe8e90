"""Pulling a measure's value from its data source (§9): one SQL query or one JSON document, I/O outside the core.

`Puller` holds what one sync run shares (database engines per URL, one HTTP client) and is closed after the run;
`pull` answers the raw value a source gave (a number, or a string for the §6 reader), or raises a KrbotError
whose key (`source.*`) names what went wrong and what to check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.core import model
from bot.core.errors import KrbotError

TIMEOUT_SECONDS = 10.0  # a source that takes longer is a failed pull


def environment(*, name: str) -> str:
    """The value of a variable a source or webhook names — only one the operator allowed in KRBOT_SOURCE_ENVS, from
    the environment or `.env` as Settings reads krbot's own — or the refusal that says why not."""
    from bot.config import allowed_source_envs, own_variable, variable

    if own_variable(name=name):
        raise KrbotError("source.env_own", name=name)
    if name not in allowed_source_envs():
        raise KrbotError("source.env_not_allowed", name=name)
    value = (variable(name=name) or "").strip()
    if not value:
        raise KrbotError("source.env_missing", name=name)
    return value


def scalar(*, value: Any) -> Any:
    """A pulled value a number reader can take: a number or a non-empty string; else the refusal that says why."""
    if value is None:
        raise KrbotError("source.null")
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise KrbotError("source.not_number", kind=type(value).__name__)
    if isinstance(value, str) and not value.strip():
        raise KrbotError("source.empty_text")
    return value


@dataclass
class Puller:
    """What one sync run shares: a database engine per URL and one HTTP client, closed by `close`."""

    timeout: float = TIMEOUT_SECONDS
    engines: dict[str, Any] = field(default_factory=dict)
    client: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # engines and the client are made once, by one thread
    addresses: dict[str, str] = field(default_factory=dict)  # variables read once per run (refusals: each time)

    def address(self, *, name: str) -> str:
        """The value of the allowed variable `name` (`environment`), read once within this run."""
        found = self.addresses.get(name)
        if found is None:
            found = self.addresses[name] = environment(name=name)
        return found

    def local(self, *, source: model.Source | None) -> bool:
        """True for a SQL source on a local SQLite file: no other system to wait for, so no thread of its own helps."""
        if source is None or source.sql is None or source.database_env is None:
            return False
        try:
            return self.address(name=source.database_env).lower().startswith("sqlite")
        except KrbotError:
            return False  # the pull says what is wrong with the variable

    def pull(self, *, source: model.Source) -> Any:
        """The raw value `source` gives now (a number or a string), or a KrbotError saying what failed."""
        if source.sql is not None:
            from bot.pulling.sql import pull_sql

            assert source.database_env is not None
            return pull_sql(puller=self, sql=source.sql, database_env=source.database_env)
        from bot.pulling.json_url import pull_json

        assert source.url is not None and source.json_path is not None
        return pull_json(puller=self, url=source.url, json_path=source.json_path, headers_env=source.headers_env)

    def close(self) -> None:
        """Dispose of every engine and the HTTP client."""
        for engine in self.engines.values():
            engine.dispose()
        self.engines.clear()
        if self.client is not None:
            self.client.close()
            self.client = None
