"""Where a Slack app installed in many workspaces keeps its tokens and one-time OAuth states: krbot's database."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
