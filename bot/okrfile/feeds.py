"""The OKR file's §9 parts: a measure's data source and the workspace's outbound webhooks, and the shared validation bits."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.core import model

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WebhookSpec(_Strict):
    """One outbound webhook: where, which events, the variable holding its signing secret (§9)."""

    url: str = Field(min_length=1, max_length=2000)
    events: list[Literal["checkin.saved", "ask.decided", "goal.changed", "digest.posted"]] = Field(min_length=1)
    secret_env: str

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise _problem("webhook_url", word=value)
        return value

    @field_validator("secret_env")
    @classmethod
    def _variable(cls, value: str) -> str:
        return _check_env(value)

    def to_domain(self) -> model.Webhook:
        """The plain webhook."""
        return model.Webhook(
            url=self.url,
            events=tuple(model.WebhookEvent(event) for event in dict.fromkeys(self.events)),
            secret_env=self.secret_env,
        )


class SourceSpec(_Strict):
    """A measure's data source: `{sql, database_env}` or `{url, json_path, headers_env}` (§9)."""

    sql: str | None = Field(default=None, min_length=1)
    database_env: str | None = None
    url: str | None = Field(default=None, min_length=1)
    json_path: str | None = Field(default=None, min_length=1)
    headers_env: str | None = None

    @field_validator("database_env", "headers_env")
    @classmethod
    def _variable(cls, value: str | None) -> str | None:
        return None if value is None else _check_env(value)

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        if (self.sql is None) == (self.url is None):
            raise _problem("source_kind")
        if self.sql is not None and (self.database_env is None or self.json_path or self.headers_env):
            raise _problem("source_sql")
        if self.sql is not None and self.database_env is not None:
            _check_statement(sql=self.sql, env=self.database_env)
        if self.url is not None:
            if self.json_path is None or self.database_env is not None:
                raise _problem("source_url")
            if not self.url.lower().startswith(("https://", "http://")):
                raise _problem("webhook_url", word=self.url)
        return self

    def to_domain(self) -> model.Source:
        """The plain source."""
        return model.Source(
            sql=self.sql,
            database_env=self.database_env,
            url=self.url,
            json_path=self.json_path,
            headers_env=self.headers_env,
        )


def _check_env(value: str) -> str:
    """A variable name the operator allows the file to name (KRBOT_SOURCE_ENVS), never one of krbot's own."""
    from bot.config import allowed_source_envs, own_variable

    if not _ENV_NAME.match(value):
        raise _problem("env_name", word=value)
    if own_variable(name=value):
        raise _problem("env_own", word=value)
    allowed = allowed_source_envs()
    if value not in allowed:
        raise _problem("env_not_allowed", word=value, allowed=", ".join(sorted(allowed)))
    return value


def _check_statement(*, sql: str, env: str) -> None:
    """Refuse, at import, a SQL source that is not one SELECT that only reads — in its database's dialect, when its
    variable says which database (else the pull refuses it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from bot.config import variable
    from bot.core.errors import KrbotError

    address = (variable(name=env) or "").strip()
    try:
        backend = make_url(address).get_backend_name() if address else None
    except ArgumentError:
        return
    from bot.pulling.sql_statement import DIALECTS, checked_statement

    dialect = DIALECTS.get(backend or "")
    if dialect is None:
        return
    try:
        checked_statement(sql=sql, dialect=dialect)
    except KrbotError as error:
        params = {("at_line" if name == "line" else name): value for name, value in error.params.items()}
        raise _problem("source_statement", **params) from None


def _problem(key: str, /, **params: Any) -> PydanticCustomError:
    """A validation failure that carries our catalog key (okrfile.problem.<key>) and its words."""
    return PydanticCustomError(f"okr_{key}", key, params)
