"""The command line (CONTRACT §4): every command a thin edge over bot.services, importing what it needs when it runs."""

from __future__ import annotations

from bot.cli.app import (
    AtOption,
    DbOption,
    DigestFormat,
    ExportFormat,
    Lang,
    WorkspaceOption,
    cli,
    db_cli,
    jobs_cli,
    main,
)
from bot.cli.chat import checkin, plan, say
from bot.cli.credentials import hook_cli, token_cli
from bot.cli.files import KINDS, export, import_checkins, import_file, lint
from bot.cli.ops import JobName, db_upgrade, demo, jobs_list, jobs_run, run, secret_key
from bot.cli.reports import digest
from bot.cli.web import share_cli, web_link

__all__ = [
    "AtOption",
    "DbOption",
    "DigestFormat",
    "ExportFormat",
    "JobName",
    "KINDS",
    "Lang",
    "WorkspaceOption",
    "checkin",
    "cli",
    "db_cli",
    "db_upgrade",
    "demo",
    "digest",
    "hook_cli",
    "export",
    "import_checkins",
    "import_file",
    "jobs_cli",
    "jobs_list",
    "jobs_run",
    "lint",
    "main",
    "plan",
    "run",
    "say",
    "share_cli",
    "secret_key",
    "token_cli",
    "web_link",
]
