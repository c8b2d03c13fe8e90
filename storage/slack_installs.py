"""Slack multi-workspace installs: slack_sdk's SQLAlchemy stores, with every token Fernet-encrypted at rest."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, func, select

from storage.models import SLACK_BOTS, TOKEN_COLUMNS

STATE_MINUTES = 10  # how long an "Add to Slack" link stays good
Stored = TypeVar("Stored", Bot, Installation)


def new_secret_key() -> str:
    """A fresh key for KRBOT_SECRET_KEY."""
    return Fernet.generate_key().decode()


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store; tokens are encrypted before they are written and decrypted when read."""

    def __init__(self, *, client_id: str, engine: Engine, secret_key: str) -> None:
        """The store over krbot's database (tables from krbot's migrations), encrypting with `secret_key`."""
        super().__init__(client_id=client_id, engine=engine)
        self._fernet = Fernet(secret_key.encode())

    def _sealed(self, stored: Stored) -> Stored:
        """A copy with each token encrypted (slack_sdk's save() hands its bot, already sealed, to save_bot())."""
        sealed = copy.copy(stored)
        for name in TOKEN_COLUMNS:
            value = getattr(sealed, name, None)
            if value and not self._is_sealed(value):
                setattr(sealed, name, self._fernet.encrypt(value.encode()).decode())
        return sealed

    def _is_sealed(self, value: str) -> bool:
        """True for a value this key encrypted."""
        try:
            self._fernet.decrypt(value.encode())
        except InvalidToken:
            return False
        return True

    def _opened(self, stored: Stored | None) -> Stored | None:
        """The stored entity with its tokens decrypted (None stays None)."""
        if stored is None:
            return None
        for name in TOKEN_COLUMNS:
            value = getattr(stored, name, None)
            if value:
                try:
                    setattr(stored, name, self._fernet.decrypt(value.encode()).decode())
                except InvalidToken as error:
                    raise InvalidToken(f"a stored Slack {name} does not open with KRBOT_SECRET_KEY") from error
        return stored

    def save(self, installation: Installation) -> None:
        """Store an installation (and its bot), tokens encrypted."""
        super().save(self._sealed(installation))

    def save_bot(self, bot: Bot) -> None:
        """Store a bot, its tokens encrypted."""
        super().save_bot(self._sealed(bot))

    def find_bot(self, **kwargs: Any) -> Bot | None:
        """The latest bot of a team, tokens decrypted."""
        return self._opened(super().find_bot(**kwargs))

    def find_installation(self, **kwargs: Any) -> Installation | None:
        """The latest installation of a team (or user), tokens decrypted."""
        return self._opened(super().find_installation(**kwargs))

    def uninstalled(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget every token of a team that uninstalled krbot (app_uninstalled): its bot and its installations."""
        self.delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def revoked(self, *, enterprise_id: str | None, team_id: str | None, users: list[str], bot: bool) -> None:
        """Forget a team's revoked tokens (tokens_revoked): the listed users' installations; the bot's takes every token
        of the team with it, as krbot works through its bot alone."""
        if bot:
            self.delete_all(enterprise_id=enterprise_id, team_id=team_id)
            return
        for user in users:
            self.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user)

    def teams(self) -> list[str]:
        """The Slack teams krbot's bot is installed in."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(SLACK_BOTS.c.team_id)
                .where(SLACK_BOTS.c.client_id == self.client_id, SLACK_BOTS.c.team_id.is_not(None))
                .group_by(SLACK_BOTS.c.team_id)
                .order_by(func.min(SLACK_BOTS.c.installed_at))
            ).all()
        return [row[0] for row in rows]


def state_store(*, engine: Engine) -> SQLAlchemyOAuthStateStore:
    """slack_sdk's OAuth state store over krbot's database (one-time `state` values of the install link)."""
    return SQLAlchemyOAuthStateStore(expiration_seconds=STATE_MINUTES * 60, engine=engine)
