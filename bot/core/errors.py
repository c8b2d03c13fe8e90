"""Errors a user can meet: a message key for the templates' catalog plus the words it names."""

from __future__ import annotations

from typing import Any


class KrbotError(Exception):
    """A refusal the user should read: `key` picks the sentence in templates/i18n, `params` fill it."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def __str__(self) -> str:
        """Show the key and its words (rendered sentences come from bot.i18n)."""
        words = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        return f"{self.key}({words})"


class NotAllowed(KrbotError):
    """The sender may not do this (someone else's KR, a goal they do not own, an ask they cannot decide)."""
