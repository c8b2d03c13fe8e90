"""Every router of the web pages, in the order they are matched; each checks the CSRF token of a POST."""

from __future__ import annotations

from fastapi import APIRouter

from bot.web.asks import router as asks
from bot.web.chat_signin import router as chat_signin
from bot.web.me import router as me
from bot.web.pages import router as pages
from bot.web.shares import router as shares
from bot.web.signin import router as signin


def routers() -> list[APIRouter]:
    """Sign-in first (by link, then Slack's and Feishu's), then the report pages, share links, my week, the asks."""
    return [signin, chat_signin, pages, shares, me, asks]
