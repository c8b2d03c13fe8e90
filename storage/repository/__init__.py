"""The repository: the OKR tree, check-ins, asks, goal changes and people between tables and the plain domain."""

from __future__ import annotations

from storage.repository.asks import ask_row, load_asks, tell_decision
from storage.repository.changes import add_goal_change, load_changes
from storage.repository.checkins import (
    NewCheckin,
    add_checkin,
    add_checkins,
    checkin_with_event,
    last_checkins,
    load_checkins,
    stored_checkin,
    tell_checkins,
)
from storage.repository.daily import day_history, note_days, reckon_days
from storage.repository.people import away_days, person_by_chat_id, schedule_owners, set_away
from storage.repository.revisions import bump_revision, changes_after, current_revision, goals_since
from storage.repository.sync import GOAL_FIELDS, IMPORT_REASON, SyncReport, sync_okrs
from storage.repository.tree import (
    Loaded,
    current_cycle,
    find_workspace,
    load_code,
    load_okrs,
    measure_row,
    objective_row,
    pick_cycle,
    workspace_names,
    workspace_with_cycles,
    workspaces,
)

__all__ = [
    "GOAL_FIELDS",
    "IMPORT_REASON",
    "Loaded",
    "SyncReport",
    "NewCheckin",
    "add_checkin",
    "add_checkins",
    "add_goal_change",
    "bump_revision",
    "changes_after",
    "current_revision",
    "goals_since",
    "ask_row",
    "away_days",
    "checkin_with_event",
    "current_cycle",
    "day_history",
    "find_workspace",
    "last_checkins",
    "load_asks",
    "load_changes",
    "load_checkins",
    "load_code",
    "load_okrs",
    "measure_row",
    "note_days",
    "objective_row",
    "person_by_chat_id",
    "pick_cycle",
    "reckon_days",
    "schedule_owners",
    "set_away",
    "stored_checkin",
    "sync_okrs",
    "tell_checkins",
    "tell_decision",
    "workspace_names",
    "workspace_with_cycles",
    "workspaces",
]
