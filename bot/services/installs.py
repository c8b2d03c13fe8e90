"""Where a Slack app installed in many workspaces keeps its tokens and one-time OAuth states: krbot's database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from storage import slack_uninstalls

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store import InstallationStore
    from slack_sdk.oauth.state_store import OAuthStateStore

    from storage.db import UnitOfWork


def slack_install_stores(
    *, uow: UnitOfWork, client_id: str, secret_key: str
) -> tuple[InstallationStore, OAuthStateStore]:
    """The installation store (tokens encrypted at rest under `secret_key`) and the state store for Bolt's OAuth."""
    from storage.slack_installs import EncryptedInstallationStore, state_store

    installs = EncryptedInstallationStore(client_id=client_id, engine=uow.engine, secret_key=secret_key)
    return installs, state_store(engine=uow.engine)


def slack_token_taken_back(*, uow: UnitOfWork, token: str, team_id: str, at: datetime) -> None:
    """Remember, across restarts, that a Slack team uninstalled krbot (or revoked its bot token) while it ran on `token`."""
    with uow.begin() as session:
        slack_uninstalls.mark(session=session, token=token, team_id=team_id, at=at)


def slack_team_that_took_back(*, uow: UnitOfWork, token: str) -> str | None:
    """The Slack team that took the single `token` back (krbot sends nothing there until a new token), else None."""
    with uow.begin() as session:
        return slack_uninstalls.taken_back(session=session, token=token)
