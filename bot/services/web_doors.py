"""The chat's doors to the web pages: `/kr web` and the digest's "Open the report" button answer the person who asked,
privately, with their own one-time sign-in link — or say the pages are off when KRBOT_SECRET_KEY is not set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services.context import load_scope, person_in
from bot.services.replies import Reply, Shows
from bot.services.web_access import issue_link
from storage.db import UnitOfWork


@dataclass(frozen=True, slots=True)
class WebDoor:
    """What a chat edge needs to hand out sign-in links: the key they are signed with and where the pages are."""

    secret_key: str | None
    public_url: str

    @classmethod
    def of(cls, *, secret_key: str | None, public_url: str | None, port: int) -> WebDoor:
        """The door from the settings: KRBOT_SECRET_KEY, and KRBOT_PUBLIC_URL or http://localhost:PORT."""
        return cls(secret_key=secret_key or None, public_url=(public_url or f"http://localhost:{port}").rstrip("/"))


def web_link(
    *, uow: UnitOfWork, person: str, at: datetime, lang: str, door: WebDoor | None, workspace: str | None = None
) -> Reply:
    """A private answer carrying a one-time link that signs `person` in (10 minutes, once), or why there is none."""
    if door is None or not door.secret_key:
        with uow.begin() as session:
            person_in(load_scope(session=session, workspace=workspace, at=at), person)  # a stranger is refused first
        return Reply(key="web.chat_link_off", lang=lang, shows=Shows.LINK)
    url = issue_link(uow=uow, person=person, at=at, secret_key=door.secret_key, public_url=door.public_url,
                     workspace=workspace)
    return Reply(key="web.chat_link", lang=lang, params={"url": url}, shows=Shows.LINK)
