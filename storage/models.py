"""The tables: SQLAlchemy 2.0 models of workspaces, the OKR tree, check-ins, asks and goal changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import NAMING, Base, UtcDateTime

__all__ = ["NAMING", "Base", "ShareLinkRow", "UtcDateTime", "WebSessionRow"]  # where the other modules have always found them


class WorkspaceRow(Base):
    """A team using krbot."""

    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    boss_channel: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    reminder: Mapped[str] = mapped_column(String(32), default="thu 10:00")
    digest: Mapped[str] = mapped_column(String(32), default="fri 17:00")
    slack_team: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the Slack team (multi-workspace installs)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)  # BCP 47 (numbers, dates)
    sync: Mapped[str | None] = mapped_column(String(32), nullable=True)  # when sources are pulled; None: the default
    webhooks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)  # [{url, events, secret_env}]
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # raised by each change of the goals


class PersonRow(Base):
    """A person of a workspace, by their id in the OKR file."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="member")
    timezone: Mapped[str | None] = mapped_column(String(64))
    slack_id: Mapped[str | None] = mapped_column(String(64), index=True)
    feishu_id: Mapped[str | None] = mapped_column(String(128), index=True)
    department: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)  # BCP 47; None: the workspace's
    archived: Mapped[bool] = mapped_column(Boolean, default=False)  # no longer in the OKR file: unknown to krbot


class AwayRow(Base):
    """Days a person asked not to be prompted."""

    __tablename__ = "away_periods"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)


class CycleRow(Base):
    """An OKR period of a workspace."""

    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)


class ObjectiveRow(Base):
    """A SMART objective of a cycle."""

    __tablename__ = "objectives"
    __table_args__ = (UniqueConstraint("cycle_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    owner_key: Mapped[str] = mapped_column(String(100))
    strategy: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[date | None] = mapped_column(Date)
    achievable: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class PathRow(Base):
    """A strategic path of an objective."""

    __tablename__ = "paths"
    __table_args__ = (UniqueConstraint("objective_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    priority: Mapped[int | None] = mapped_column(Integer)
    scores: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class KrRow(Base):
    """A key result: one owner, RACI by person keys, control and impact."""

    __tablename__ = "krs"
    __table_args__ = (UniqueConstraint("cycle_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("paths.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    owner_key: Mapped[str] = mapped_column(String(100))
    accountable_key: Mapped[str | None] = mapped_column(String(100))
    consulted: Mapped[list[str]] = mapped_column(JSON, default=list)
    informed: Mapped[list[str]] = mapped_column(JSON, default=list)
    delegates: Mapped[list[str]] = mapped_column(JSON, default=list)
    contributors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    control: Mapped[str | None] = mapped_column(String(16))
    impact: Mapped[str | None] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # first imported (stale counts from then)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class MeasureRow(Base):
    """A measure of an objective or KR, named within its owner's code."""

    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("cycle_id", "code", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(32))
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    limit_value: Mapped[float | None] = mapped_column(Float)
    bounds: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)  # `min:`/`max:` the forecast keeps to
    due: Mapped[date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)  # {sql, database_env} | {url, json_path, headers_env}


class SourcePullRow(Base):
    """How a measure's data source last went: the last good pull, the last failure, the day its owner was told."""

    __tablename__ = "source_pulls"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), unique=True)
    tried_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ok_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the last pull that stored a value
    value: Mapped[float | None] = mapped_column(Float)  # what it pulled then
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the last pull that failed or found nothing
    error: Mapped[str | None] = mapped_column(Text)  # why, in words an owner can act on
    told_on: Mapped[date | None] = mapped_column(Date)  # the day the owner was last told it failed (once a day)


class ApiTokenRow(Base):
    """A bearer token for /api/v1/, acting as its person; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    person_key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart in a list
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MeasureHookRow(Base):
    """A secret check-in URL for one measure of one KR (for tools that cannot hold a token); only its hash is kept."""

    __tablename__ = "measure_hooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    measure: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(100))
    owner_key: Mapped[str | None] = mapped_column(String(100))  # whose check-ins it stores: the owner it was made for
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RequestKeyRow(Base):
    """A client's Idempotency-Key, bound to its holder (a token's person, a hook), route and body's SHA-256."""

    __tablename__ = "request_keys"
    key_hash: Mapped[str] = mapped_column(String(80), primary_key=True)  # the key within its holder: never cut
    holder: Mapped[str] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    done: Mapped[bool] = mapped_column(Boolean, default=False)  # False while the first request is in flight
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TaskRow(Base):
    """A task of a KR with one owner."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("kr_id", "title"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kr_id: Mapped[int] = mapped_column(ForeignKey("krs.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    owner_key: Mapped[str] = mapped_column(String(100))
    due: Mapped[date] = mapped_column(Date)
    buffer_days: Mapped[int] = mapped_column(Integer, default=0)
    duration_days: Mapped[int] = mapped_column(Integer, default=0)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class CheckinRow(Base):
    """One check-in: who reported on which code when, with their words; values in checkin_values."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("workspace_id", "event_key"), Index("ix_checkins_cycle_at", "cycle_id", "at"),
                      Index("ix_checkins_cycle_code_at", "cycle_id", "code", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    person_key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(Text)
    risk: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="cli")
    event_key: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[int | None] = mapped_column(Integer)  # the owner's call, 0–10 (§6)


class CheckinValueRow(Base):
    """One measure's value in a check-in (a milestone: 1.0 done, 0.0 not)."""

    __tablename__ = "checkin_values"
    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"), index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), index=True)
    value: Mapped[float] = mapped_column(Float)


class DayValueRow(Base):
    """A measure's last value of one calendar day (the workspace's), kept as check-ins arrive: what a forecast reads."""

    __tablename__ = "day_values"
    __table_args__ = (UniqueConstraint("measure_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"), index=True)
    value: Mapped[float] = mapped_column(Float)


class AskRow(Base):
    """A request for money, people or permissions, and its decision."""

    __tablename__ = "asks"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(32))
    person_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_comment: Mapped[str | None] = mapped_column(Text)  # the decider's words, when they gave any (web)


class GoalChangeRow(Base):
    """A logged goal change: old, new, reason, who, when."""

    __tablename__ = "goal_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    measure: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    person_key: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the workspace's revision it made


class ProcessedEventRow(Base):
    """A platform event already handled (Slack event_id, Feishu event_id, a form submission), kept 8 hours."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class DeliveryRow(Base):
    """The send ledger: one row per (workspace, kind, target, period), claimed before sending, marked after."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "target", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reminder | chaser | digest | thread | escalation | overdue | notice
    target: Mapped[str] = mapped_column(String(200))  # a person key, or a channel
    period: Mapped[str] = mapped_column(String(64))  # the scheduled slot, in the target's timezone
    status: Mapped[str] = mapped_column(String(16), default="claimed")  # queued | claimed | sent | failed | missed
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    platform: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what to send, for a row queued before its send


class SendRate(Base):
    """A shared send gate per platform: the earliest moment the next message may go, for every replica at once."""

    __tablename__ = "send_rates"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)  # epoch seconds


class SlackUninstallRow(Base):
    """A Slack team that took krbot back (uninstalled it, revoked its bot token) while krbot ran on one SLACK_BOT_TOKEN."""

    __tablename__ = "slack_uninstalls"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)  # the token taken back, by its SHA-256
    team_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


# slack_sdk's own install and OAuth-state tables, made by our migrations; Fernet-encrypted tokens need wider columns.
SLACK_INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(Base.metadata, "slack_installations")
SLACK_BOTS = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, "slack_oauth_states")
TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
for _column in [t.c[name] for t in (SLACK_INSTALLATIONS, SLACK_BOTS) for name in TOKEN_COLUMNS if name in t.c]:
    _column.type = String(1000)

from storage.web_rows import ShareLinkRow, WebSessionRow  # noqa: E402 - the web's tables, on the same metadata
