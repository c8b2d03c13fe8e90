"""Settings from the environment or a `.env` file (CONTRACT §3)."""

from __future__ import annotations

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
