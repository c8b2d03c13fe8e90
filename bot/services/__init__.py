"""The actions every edge calls — CLI, Slack, Feishu, console and scheduler — one file per kind of action.

Each action loads what it needs (`context`), calls the pure core, commits, and returns a typed reply
(`replies`); edges answer the platform only after that commit. `run_command` is the one entry for the
chat grammar; the other names below are the actions behind buttons, forms, files and the schedule.
"""

from __future__ import annotations

from bot.services.asks import decide_ask
from bot.services.checkins import (
    _STATUS_RANK,
    build_checkin,
    read_measure,
    record_checkin,
    saved_reply,
    validate_checkin,
)
from bot.services.context import (
    ChatSender,
    Scope,
    boss_channels,
    chat_sender,
    codes_of,
    find_person,
    load_scope,
    local_zone,
    name_of,
    owned_target,
    parse_as_of,
    parse_moment,
    person_in,
    person_of,
    slack_team_of,
    workspace_id_of,
    workspace_language,
    workspace_timezone,
)
from bot.services.digest import boss_digest, compose, compose_as_posted, compose_report, digest_run
from bot.services.dispatch import run_command
from bot.services.events import (
    EVENT_MEMORY,
    Once,
    all_or_nothing,
    claim_event,
    claim_events,
    handle_once,
    release_event,
)
from bot.services.export import export_all, export_csv
from bot.services.files import import_okrs, lint_file, smart_terms, upgrade_schema
from bot.services.forms import CONFIDENCE_FIELD, form_confidence, record_form
from bot.services.goals import change_goal, complete_task
from bot.services.hooks import HookRefused, create_hook, hook_checkin, list_hooks, revoke_hook
from bot.services.inbound import json_checkin, moment_within_reach, request_key
from bot.services.installs import slack_install_stores, slack_team_that_took_back, slack_token_taken_back
from bot.services.keys import bound_request, checked_key
from bot.services.okr_file import export_okr_file
from bot.services.replies import DigestRun, Escalation, ImportOutcome, Notice, Reply, Shows
from bot.services.schedule import ScheduleView, overdue_tasks, reminder_rows, schedule_views, set_away
from bot.services.spreadsheets import CSV_COLUMNS, CSV_IGNORED, CSV_OPTIONAL, import_checkins
from bot.services.sync import SourceNotice, SyncRun, source_status, sync_sources
from bot.services.tokens import (
    Caller,
    Issued,
    create_token,
    list_tokens,
    person_language,
    revoke_token,
    token_caller,
)
from bot.services.views import (
    list_krs,
    measure_row,
    rows_by_person,
    show_matrix,
    show_paths,
    show_plan,
    status_of,
)
from bot.services.web_doors import WebDoor, web_link
from bot.services.webhooks import queue_digest_posted, webhook_backlog, workspace_admins
from storage.db import UnitOfWork  # the database handle every action takes, held by the edges

__all__ = [
    "CONFIDENCE_FIELD",
    "form_confidence",
    "bound_request",
    "checked_key",
    "Caller",
    "HookRefused",
    "Issued",
    "create_hook",
    "create_token",
    "hook_checkin",
    "json_checkin",
    "list_hooks",
    "moment_within_reach",
    "list_tokens",
    "person_language",
    "request_key",
    "revoke_hook",
    "revoke_token",
    "token_caller",
    "ChatSender",
    "chat_sender",
    "DigestRun",
    "digest_run",
    "workspace_id_of",
    "Shows",
    "UnitOfWork",
    "slack_install_stores",
    "slack_team_that_took_back",
    "slack_token_taken_back",
    "SourceNotice",
    "SyncRun",
    "source_status",
    "sync_sources",
    "CSV_COLUMNS",
    "CSV_IGNORED",
    "CSV_OPTIONAL",
    "EVENT_MEMORY",
    "Escalation",
    "Once",
    "ImportOutcome",
    "Notice",
    "Reply",
    "ScheduleView",
    "Scope",
    "_STATUS_RANK",
    "all_or_nothing",
    "boss_channels",
    "boss_digest",
    "build_checkin",
    "change_goal",
    "claim_event",
    "claim_events",
    "codes_of",
    "complete_task",
    "compose",
    "compose_as_posted",
    "compose_report",
    "decide_ask",
    "export_all",
    "export_csv",
    "export_okr_file",
    "find_person",
    "handle_once",
    "import_checkins",
    "import_okrs",
    "lint_file",
    "list_krs",
    "load_scope",
    "local_zone",
    "measure_row",
    "name_of",
    "overdue_tasks",
    "owned_target",
    "parse_as_of",
    "parse_moment",
    "person_in",
    "person_of",
    "read_measure",
    "record_checkin",
    "record_form",
    "release_event",
    "reminder_rows",
    "rows_by_person",
    "run_command",
    "saved_reply",
    "schedule_views",
    "set_away",
    "show_matrix",
    "show_paths",
    "show_plan",
    "slack_team_of",
    "smart_terms",
    "status_of",
    "upgrade_schema",
    "validate_checkin",
    "workspace_language",
    "workspace_timezone",
    "queue_digest_posted",
    "WebDoor",
    "web_link",
    "webhook_backlog",
    "workspace_admins",
]
