"""A SQL source's text checked before any database sees it: exactly one SELECT that only reads, parsed by sqlglot.

`checked_statement` tokenizes and parses the text in the database's dialect (comments and string literals are
tokens, so a `;` inside them counts for nothing) and refuses, as `source.statement_refused`, anything but one
`SELECT` / `WITH … SELECT` (or a UNION of them): several statements, COPY, SET, ATTACH, PRAGMA, CALL, DO, EXPLAIN,
INSERT/UPDATE/DELETE anywhere (a data-modifying CTE included), `SELECT … INTO`, `FOR UPDATE`/`FOR SHARE`, bind
parameters (a source has none: a colon or `%` in a literal stays text), MySQL's executable comments, and the few
functions that would reach outside a read-only transaction (server files and programs, other connections, session
locks). What passes is sent as the user wrote it, never as sqlglot re-writes it, wrapped by `bounded_sql` so the
database itself also insists on one query (a CTE body cannot hold a second statement or a write) and hands back
at most two small rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from bot.core.errors import KrbotError

MAX_VALUE_BYTES = 1024  # a value longer than this as text is "too big", refused without being sent
ROWS_LOOKED_AT = 3  # rows the database counts (3 means "more than 2"); at most 2 ever leave it

DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql"}
_SIZE = {  # the value's length in bytes as text, computed by the database
    "postgres": "octet_length(CAST(v AS text))",
    "mysql": "octet_length(v)",
    "sqlite": "length(CAST(v AS BLOB))",
}
# Functions that act outside the read-only transaction: files and programs on the server, other connections,
# session-level locks, the server's own state. Names, or name prefixes ending in "_".
_OUTSIDE_FUNCTIONS = frozenset({
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_terminate_backend", "pg_cancel_backend",
    "pg_reload_conf", "pg_rotate_logfile", "pg_promote", "pg_switch_wal", "pg_notify", "pg_advisory_lock",
    "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared", "query_to_xml",
    "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "dblink",
    "load_file", "get_lock", "release_lock", "release_all_locks", "sys_exec", "sys_eval",
    "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
})
_WRITE_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "CREATE", "DROP", "ALTER",
                          "TRUNCATE", "COPY", "GRANT", "REVOKE", "RENAME", "VACUUM", "REINDEX", "COMMENT"})
_OUTSIDE_PREFIXES = ("pg_ls_", "pg_file_", "lo_", "dblink_", "pg_create_", "pg_drop_", "pg_replication_",
                     "pg_logical_")


@dataclass(frozen=True, slots=True)
class Statement:
    """One checked SELECT: its text (a trailing `;` cut off) and its column count when the text says it."""

    text: str
    dialect: str
    columns: int | None  # None for `SELECT *`: the database tells


@dataclass(frozen=True, slots=True)
class _Verdict:
    """A cached check: the statement, or the refusal's key and params."""

    statement: Statement | None
    key: str = ""
    params: tuple[tuple[str, Any], ...] = ()


def checked_statement(*, sql: str, dialect: str) -> Statement:
    """`sql` as one read-only SELECT in `dialect` (sqlglot's name), or the KrbotError that says what was refused."""
    verdict = _verdict(sql, dialect)
    if verdict.statement is None:
        raise KrbotError(verdict.key, **dict(verdict.params))
    return verdict.statement


def bounded_sql(*, statement: Statement, columns: int) -> str:
    """The statement as a CTE body, read as (first value when short, its size in bytes, rows up to 3), at most 2 rows.

    The CTE names all `columns` (the first `v`), so the database refuses a count that is not the statement's."""
    size = _SIZE[statement.dialect]
    names = ", ".join(["v", *(f"krbot_{n}" for n in range(2, columns + 1))])
    return (
        f"WITH krbot_source({names}) AS (\n{statement.text}\n)\n"
        f"SELECT CASE WHEN {size} <= {MAX_VALUE_BYTES} THEN v END, {size}, count(*) OVER ()\n"
        f"FROM (SELECT v FROM krbot_source LIMIT {ROWS_LOOKED_AT}) AS krbot_first\nLIMIT 2"
    )


def probe_sql(*, statement: Statement) -> str:
    """A query that returns the statement's columns and no row (to count the columns of a `SELECT *`)."""
    return f"SELECT * FROM (\n{statement.text}\n) AS krbot_source LIMIT 0"


def _refused(what: str, **params: Any) -> _Verdict:
    return _Verdict(statement=None, key="source.statement_refused", params=(("what", what), *params.items()))


@dataclass(frozen=True, slots=True)
class _Sqlglot:
    """sqlglot, imported when the first SQL source is pulled, and what the check looks for in its trees."""

    exp: Any
    error: type[Exception]
    semicolon: Any
    hint: Any
    changes: tuple[type, ...]
    dialects: dict[str, Any]


@cache
def _sqlglot() -> _Sqlglot:
    """sqlglot loaded once (its "falling back to Command" notes, which quote the SQL, silenced)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    names = ("DML", "DDL", "Command", "Set", "Pragma", "Transaction", "Commit", "Rollback", "Attach", "Detach",
             "Alter", "Drop")
    return _Sqlglot(exp=exp, error=SqlglotError, semicolon=TokenType.SEMICOLON, hint=TokenType.HINT,
                    changes=tuple(getattr(exp, name) for name in names if hasattr(exp, name)),
                    dialects={name: sqlglot.Dialect.get_or_raise(name) for name in set(DIALECTS.values())})


@lru_cache(maxsize=4096)
def _verdict(sql: str, dialect: str) -> _Verdict:
    """The check of one text in one dialect, cached: a sync pulls the same sources run after run."""
    glot = _sqlglot()
    reader = glot.dialects[dialect]
    try:
        tokens = reader.tokenize(sql)
        trees = [tree for tree in reader.parser().parse(tokens, sql) if tree is not None]
    except glot.error as error:
        where = (getattr(error, "errors", None) or [{}])[0]
        return _refused("unreadable", line=where.get("line") or 1, column=where.get("col") or 1)
    if not trees:
        return _refused("nothing")
    if len(trees) > 1:
        return _refused(f"{len(trees)} statements", count=len(trees))
    words = [token for token in tokens if token.token_type is not glot.semicolon]
    if dialect == "mysql":
        hidden = _mysql_hidden(tokens=tokens, hint=glot.hint)
        if hidden:
            return _refused(hidden)
    refusal, writing = _refusal(tree=trees[0], first=words[0].text.upper(), glot=glot)
    if refusal:
        return _refused(refusal, **({"writes": True} if writing else {}))
    text = sql[: words[-1].end + 1]  # a trailing `;` (and what follows it) would end the CTE body early
    return _Verdict(statement=Statement(text=text, dialect=dialect, columns=_columns(tree=trees[0])))


def _mysql_hidden(*, tokens: list[Any], hint: Any) -> str:
    """MySQL runs `/*! … */` comments and obeys `/*+ … */` hints: neither is a comment there."""
    for token in tokens:
        if token.token_type is hint:
            return "/*+ … */"
        if any(comment.startswith("!") for comment in token.comments):
            return "/*! … */"
    return ""


def _refusal(*, tree: Any, first: str, glot: _Sqlglot) -> tuple[str, bool]:
    """What makes a parsed statement more than one read-only SELECT ("" when nothing does), and whether it writes."""
    exp, changes = glot.exp, glot.changes
    query = tree.unnest() if isinstance(tree, exp.Subquery) else tree
    if not isinstance(query, (exp.Select, exp.SetOperation)):
        if first == "WITH" and not isinstance(query, exp.Command):
            return f"WITH … {query.key.upper()}", True
        return first, writes(what=first)
    for node in tree.walk():
        if isinstance(node, changes):
            what = node.key.upper()
            return (f"WITH … {what}" if first == "WITH" else what), writes(what=what)
        if isinstance(node, exp.Into):
            return "SELECT … INTO", True
        if isinstance(node, exp.Lock):
            return ("FOR UPDATE" if node.args.get("update") else "FOR SHARE"), True
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            return f"parameter {node.sql()}", False
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if outside_function(name=name):
                return f"{name}()", False
    return "", False


def writes(*, what: str) -> bool:
    """True when a refused statement's first word is one that changes data or schema."""
    return what.split(" ", 1)[0] in _WRITE_WORDS


def outside_function(*, name: str) -> bool:
    """True for a function that acts outside a read-only transaction (files, programs, connections, locks)."""
    lowered = name.lower()
    return lowered in _OUTSIDE_FUNCTIONS or lowered.startswith(_OUTSIDE_PREFIXES)


def _columns(*, tree: Any) -> int | None:
    """How many columns the statement returns, or None when a `*` leaves it to the database."""
    selects = tree.selects
    if any(select.is_star for select in selects):
        return None
    return len(selects)
