"""Settings from the environment or a `.env` file (CONTRACT §3)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything krbot reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default="sqlite:///./krbot.db", alias="KRBOT_DATABASE_URL")
    http_port: int = Field(default=3000, alias="KRBOT_HTTP_PORT")
    log_format: str = Field(default="text", alias="KRBOT_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="KRBOT_LOG_LEVEL")
    metrics_token: str | None = Field(default=None, alias="KRBOT_METRICS_TOKEN")
    public_url: str | None = Field(default=None, alias="KRBOT_PUBLIC_URL")  # where hook URLs point (§9)
    source_envs: str | None = Field(default=None, alias="KRBOT_SOURCE_ENVS")  # variables the OKR file may name (§8)
    outbound_allow: str | None = Field(default=None, alias="KRBOT_OUTBOUND_ALLOW")  # loopback etc. sources may reach

    def web_address(self, port: int | None = None) -> str:
        """Where people reach `krbot run --http`: KRBOT_PUBLIC_URL, else http://localhost:PORT (links in chat)."""
        return (self.public_url or f"http://localhost:{port or self.http_port}").rstrip("/")

    def secrets(self) -> tuple[str, ...]:
        """Every credential krbot holds, so that logs can blank them out."""
        values = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.slack_client_secret,
            self.secret_key,
            self.feishu_app_secret,
            self.feishu_verification_token,
            self.feishu_encrypt_key,
            self.metrics_token,
        )
        return tuple(value for value in values if value)
    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(default=None, alias="SLACK_API_URL")
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    secret_key: str | None = Field(default=None, alias="KRBOT_SECRET_KEY")
    feishu_app_id: str | None = Field(default=None, alias="FEISHU_APP_ID")
    feishu_app_secret: str | None = Field(default=None, alias="FEISHU_APP_SECRET")
    feishu_verification_token: str | None = Field(default=None, alias="FEISHU_VERIFICATION_TOKEN")
    feishu_encrypt_key: str | None = Field(default=None, alias="FEISHU_ENCRYPT_KEY")
    feishu_domain: str | None = Field(default=None, alias="FEISHU_DOMAIN")
    feishu_tenant_key: str | None = Field(default=None, alias="FEISHU_TENANT_KEY")  # when set, only this tenant's events


OWN_PREFIXES = ("KRBOT_", "SLACK_", "FEISHU_")  # krbot's own variables: never readable through the OKR file
ENV_FILE = ".env"


def own_variable(*, name: str) -> bool:
    """True for a variable of krbot's own (KRBOT_*, SLACK_*, FEISHU_*), which no OKR file may name."""
    return name.upper().startswith(OWN_PREFIXES)


def _env_file() -> tuple[str, float]:
    """The `.env` file Settings reads, and its modification time (0 when there is none)."""
    try:
        return ENV_FILE, Path(ENV_FILE).stat().st_mtime
    except OSError:
        return ENV_FILE, 0.0


@lru_cache(maxsize=4)
def _file_values(path: str, mtime: float) -> dict[str, str]:
    """The variables a `.env` file sets (read again when it changes)."""
    if not mtime:
        return {}
    from dotenv import dotenv_values

    return {name: value for name, value in dotenv_values(path, encoding="utf-8").items() if value is not None}


def variable(*, name: str) -> str | None:
    """A variable as Settings sees it: the process environment first, then the `.env` file; None when unset."""
    value = os.environ.get(name)
    return value if value is not None else _file_values(*_env_file()).get(name)


def allowed_source_envs() -> frozenset[str]:
    """The variables the operator lets the OKR file name (`KRBOT_SOURCE_ENVS`), krbot's own never among them."""
    listed = (variable(name="KRBOT_SOURCE_ENVS") or "").replace(";", ",").split(",")
    return frozenset(name.strip() for name in listed if name.strip() and not own_variable(name=name.strip()))
