"""Whether a SQL source connects as a role that may do more than read: warned at `krbot import` and in /healthz.

krbot runs a source's statement read-only whatever the role may do, but the operator is told when the role is a
PostgreSQL superuser (or may run programs or write files on the server), or may write (INSERT/UPDATE/DELETE/TRUNCATE
on a table, CREATE in a schema, CREATEROLE/CREATEDB); on MySQL/MariaDB, from its grants. A SQLite source is opened
read-only from the file, so there is nothing to check. Each check runs in the same read-only transaction under the
same deadline as a pull; an unreachable database is "could not check", never a crash or a hang.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.core.errors import KrbotError
from bot.pulling import TIMEOUT_SECONDS, Puller, environment

log = logging.getLogger("krbot.sources")

SUPERUSER, WRITER, UNCHECKED = "superuser", "writer", "unchecked"
CHECK_EVERY_SECONDS = 600.0  # /healthz reports the last check; a new one starts at most this often
_POSTGRES_ROLE = """
SELECT current_user::text,
       r.rolsuper OR pg_has_role('pg_execute_server_program', 'MEMBER') OR pg_has_role('pg_write_server_files', 'MEMBER'),
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                 AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')),
       EXISTS (SELECT 1 FROM pg_namespace n
               WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                 AND has_schema_privilege(n.oid, 'CREATE')),
       r.rolcreaterole OR r.rolcreatedb
FROM pg_roles r WHERE r.rolname = current_user
"""
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<on>\S+) TO (?P<role>\S+)", re.IGNORECASE)
_MYSQL_WRITES = ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "TRIGGER",
                 "FILE", "SUPER", "CREATE USER", "EVENT", "CREATE ROUTINE", "ALTER ROUTINE", "LOCK TABLES")


@dataclass(frozen=True, slots=True)
class RoleCheck:
    """What the role of one source (named by its environment variable) may do beyond reading."""

    name: str
    kind: str  # "" (reads only), SUPERUSER, WRITER or UNCHECKED
    role: str = ""
    privileges: str = ""  # SQL words: what lets a writer write
    error: KrbotError | None = None  # why it could not be checked


def check_role(*, name: str, timeout: float = TIMEOUT_SECONDS) -> RoleCheck | None:
    """What the role of source `name` may do; None when there is nothing to check (variable unset, SQLite)."""
    from bot.pulling.sql import source_engine, source_url

    try:
        address = environment(name=name)
        backend = source_url(name=name, address=address).get_backend_name()
    except KrbotError:
        return None  # the pull will say what is wrong with the variable
    if backend == "sqlite":
        return None
    puller = Puller(timeout=timeout)
    try:
        rows = _read(engine=source_engine(puller=puller, name=name, address=address), timeout=timeout)
    except KrbotError as error:
        return RoleCheck(name=name, kind=UNCHECKED, error=error)
    finally:
        puller.close()
    return _postgres_check(name=name, row=rows[0]) if backend == "postgresql" else _mysql_check(name=name, rows=rows)


def _read(*, engine: Any, timeout: float) -> list[tuple[Any, ...]]:
    """Our own question about the role, asked like a pull: read-only, under the deadline, rolled back."""
    from bot.pulling.sql_run import reading_scope

    question = _POSTGRES_ROLE if engine.url.get_backend_name() == "postgresql" else "SHOW GRANTS FOR CURRENT_USER()"
    with reading_scope(engine=engine, deadline=time.monotonic() + timeout, seconds=timeout) as reading:
        reading.run(sql=question)
        return [tuple(row) for row in reading.cursor.fetchmany(1000)]


def _postgres_check(*, name: str, row: tuple[Any, ...]) -> RoleCheck:
    """A PostgreSQL role: a superuser, a role that may write (and how), or one that reads only."""
    role, superuser, tables, schemas, admin = row
    if superuser:
        return RoleCheck(name=name, kind=SUPERUSER, role=role)
    privileges = [words for held, words in ((tables, "INSERT/UPDATE/DELETE/TRUNCATE"), (schemas, "CREATE"),
                                            (admin, "CREATEROLE/CREATEDB")) if held]
    return RoleCheck(name=name, kind=WRITER if privileges else "", role=role, privileges=", ".join(privileges))


def _mysql_check(*, name: str, rows: list[tuple[Any, ...]]) -> RoleCheck:
    """A MySQL/MariaDB account from its grants: everything on *.* is a superuser; any write privilege a writer."""
    role, superuser, privileges = "", False, []
    for row in rows:
        found = _GRANT.match(str(row[0]))
        if not found:
            continue
        role = role or found.group("role")
        held = [item.strip().split(" (", 1)[0].upper() for item in found.group("privileges").split(",")]
        superuser |= found.group("on") == "*.*" and ("ALL PRIVILEGES" in held or "SUPER" in held)
        privileges += [item for item in held if item in _MYSQL_WRITES and item not in privileges]
    if superuser:
        return RoleCheck(name=name, kind=SUPERUSER, role=role)
    return RoleCheck(name=name, kind=WRITER if privileges else "", role=role, privileges=", ".join(privileges))


def check_roles(*, names: Iterable[str], timeout: float = TIMEOUT_SECONDS) -> list[RoleCheck]:
    """The checks of several sources at once (each within `timeout`), those with something to say."""
    unique = sorted(set(names))
    if not unique:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(unique)), thread_name_prefix="krbot-role") as pool:
        checks = list(pool.map(lambda name: check_role(name=name, timeout=timeout), unique))
    return [check for check in checks if check is not None and check.kind]


def role_findings(*, names: Iterable[str]) -> list[Any]:
    """A lint warning for each source whose role is a superuser or may write, or could not be checked."""
    from bot.core.lint import Finding

    findings = []
    for check in check_roles(names=names):
        if check.kind == UNCHECKED and check.error is not None:
            params = {**check.error.params, "name": check.name, "reason": check.error.key}
            findings.append(Finding(letter="F", code="", severity="warn", key="source_role.unchecked", params=params))
            continue
        key = "source_role.superuser" if check.kind == SUPERUSER else "source_role.writer"
        params = {"name": check.name, "role": check.role, "privileges": check.privileges}
        findings.append(Finding(letter="F", code="", severity="warn", key=key, params=params))
    return findings


def workspace_source_envs(*, uow: Any) -> list[str]:
    """The environment variables the SQL sources of every measure krbot holds name."""
    from sqlalchemy import select

    from storage.models import MeasureRow

    with uow.begin() as session:
        sources = session.scalars(
            select(MeasureRow.source).where(MeasureRow.source.is_not(None), MeasureRow.archived.is_(False))
        ).all()
    return sorted({str(source["database_env"]) for source in sources
                   if isinstance(source, dict) and source.get("sql") and source.get("database_env")})


class RoleWatch:
    """The last role check of the workspaces' SQL sources for /healthz: refreshed in the background, never waited on."""

    def __init__(self, *, names: Callable[[], list[str]], every: float = CHECK_EVERY_SECONDS) -> None:
        self._names = names
        self._every = every
        self._lock = threading.Lock()
        self._checks: list[RoleCheck] | None = None
        self._at = -math.inf
        self._running = False

    def report(self) -> dict[str, Any]:
        """{"checked", "privileged": {variable: superuser|writer}, "unchecked": [variable]}; starts a check when due."""
        with self._lock:
            if not self._running and time.monotonic() - self._at >= self._every:
                self._running = True
                threading.Thread(target=self._refresh, name="krbot-source-roles", daemon=True).start()
            checks = self._checks
        if checks is None:
            return {"checked": False, "privileged": {}, "unchecked": []}
        return {
            "checked": True,
            "privileged": {check.name: check.kind for check in checks if check.kind in (SUPERUSER, WRITER)},
            "unchecked": [check.name for check in checks if check.kind == UNCHECKED],
        }

    def _refresh(self) -> None:
        """Check every source's role now (in this background thread)."""
        checks = self._checks
        try:
            checks = check_roles(names=self._names())
        except Exception:  # noqa: BLE001 - krbot's own database did not answer: keep the last report, try later
            log.warning("could not list the data sources to check their roles", exc_info=True)
        finally:
            with self._lock:
                self._checks = checks
                self._at = time.monotonic()
                self._running = False
