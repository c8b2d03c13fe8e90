"""The console platform: reminders and digests printed as they fall due, `/kr` commands typed in the terminal."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from bot import services
from bot.config import Settings
from bot.core import model
from bot.core.digest import Digest
from bot.i18n import translate
from bot.platforms.base import Drains, InstalledEverywhere, Reminder, Sent
from bot.render import render_digest, render_reply

if TYPE_CHECKING:
    from bot.services import UnitOfWork

PLATFORM = "console"


def build(
    *,
    settings: Settings,
    uow: UnitOfWork,
    http: bool,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ConsolePlatform:
    """The console platform (used when no chat platform is configured)."""
    return ConsolePlatform(uow=uow, stdin=stdin, stdout=stdout, clock=clock)


class ConsolePlatform(Drains, InstalledEverywhere):
    """The terminal as a chat: one line in (`chen: /kr update KR2 1.8%`, or `as chen` then `/kr …`), replies out."""

    name = PLATFORM
    default_channel = "console"

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.uow = uow
        self.stdin = stdin
        self.stdout = stdout
        self.clock = clock or (lambda: datetime.now(UTC))
        self.speaker: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def _print(self, text: str) -> None:
        with self._lock:
            out = self.stdout or sys.stdout
            out.write(text.rstrip("\n") + "\n")
            out.flush()

    def _lang(self) -> str:
        return services.workspace_language(uow=self.uow, workspace=None)

    # ------------------------------------------------------------ Platform

    def send_reminder(self, *, reminder: Reminder, idempotency_key: str) -> Sent:
        """Print a reminder (or chaser) addressed to its person."""
        key = "scheduler.chaser" if reminder.chaser else (
            "scheduler.reminder_words" if reminder.words_only else "scheduler.reminder")
        kind = translate("delivery.chaser" if reminder.chaser else "delivery.reminder", lang=reminder.lang)
        head = translate("console.to", lang=reminder.lang, name=reminder.person.name, kind=kind)
        body = translate(key, lang=reminder.lang, locale=reminder.locale, name=reminder.person.name,
                         rows=list(reminder.rows))
        self._print(f"{head}\n{body}\n")
        return Sent(platform=PLATFORM, message_id=idempotency_key)

    def post_digest(self, *, digest: Digest, channel: str, idempotency_key: str) -> Sent:
        """Print the digest as text."""
        head = translate("console.digest_to", lang=digest.language, channel=channel)
        self._print(f"{head}\n{render_digest(digest=digest, fmt='text')}")
        return Sent(platform=PLATFORM, message_id=idempotency_key)

    def notify(self, *, person: model.Person, text: str, idempotency_key: str) -> Sent:
        """Print a notice addressed to one person."""
        lang = self._lang()
        head = translate("console.to", lang=lang, name=person.name, kind=translate("delivery.escalation", lang=lang))
        self._print(f"{head}\n{text}\n")
        return Sent(platform=PLATFORM, message_id=idempotency_key)

    def routes(self) -> list[Any]:
        """The console serves no HTTP routes."""
        return []

    def start(self) -> None:
        """Read commands from the terminal in a background thread."""
        if self._thread is not None:
            return
        self._print(translate("console.hello", lang=self._lang()))
        self._thread = threading.Thread(target=self.loop, name="krbot-console", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading (the thread ends at the next line or end of input)."""
        self._stopped.set()

    def reaches(self, *, person: model.Person) -> bool:
        """The terminal shows what goes to anyone."""
        return True

    def healthy(self) -> bool:
        """The terminal is always there."""
        return True

    # ------------------------------------------------------------ input

    def loop(self) -> None:
        """Answer each line until end of input or stop()."""
        for line in self.stdin or sys.stdin:
            if self._stopped.is_set():
                return
            answer = self.handle(line=line)
            if answer:
                self._print(answer)

    def handle(self, *, line: str) -> str | None:
        """One typed line: `as PERSON`, `PERSON: /kr …`, or `/kr …` as the current speaker; the reply as text."""
        text = line.strip()
        if not text:
            return None
        lang = self._lang()
        if text.lower().startswith("as ") and len(text.split()) == 2:
            self.speaker = text.split()[1]
            return translate("console.as", lang=lang, person=self.speaker)
        person = self.speaker
        head, colon, rest = text.partition(":")
        if colon and " " not in head.strip() and rest.strip().startswith("/"):
            person, text = head.strip(), rest.strip()
        if person is None:
            return translate("console.who", lang=lang)
        reply = services.run_command(uow=self.uow, person=person, text=text, at=self.clock(), source="console")
        return render_reply(reply=reply)
