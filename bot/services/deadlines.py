"""Deadlines on the database for the edges: a request's work bounded in time, and what its failure may be told."""

from __future__ import annotations

from storage.deadlines import REQUEST_SECONDS, DatabaseLate, deadline, maybe_saved

__all__ = ["REQUEST_SECONDS", "DatabaseLate", "deadline", "maybe_saved"]
