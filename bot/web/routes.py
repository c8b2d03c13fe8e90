"""Every router of the web pages, in the order they are matched; each checks the CSRF token of a POST."""

from __future__ import annotations

from fastapi import APIRouter

from bot.web.pages import router as pages
from bot.web.shares import router as shares
from bot.web.signin import router as signin


def routers() -> list[APIRouter]:
    """Sign-in first, then the report pages, then share links (h23b: add /me and /asks routers here)."""
    return [signin, pages, shares]
