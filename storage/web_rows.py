"""The web's tables: sign-ins (a one-time link's nonce, then the session it opened) and read-only share links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UtcDateTime


class WebSessionRow(Base):
    """A sign-in: issued as a one-time link (used_at empty until it is used, once), then the session it opened."""

    __tablename__ = "web_sessions"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    person_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # link | slack | feishu: how the person signed in
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the session's start
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # signed out


class ShareLinkRow(Base):
    """A read-only link to one week's report, made by the boss or an admin for someone outside krbot."""

    __tablename__ = "share_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    week: Mapped[str] = mapped_column(String(10))  # ISO week, 2026-W44
    made_for: Mapped[str] = mapped_column(String(200))
    made_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
