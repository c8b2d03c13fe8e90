"""A krbot process to be killed: stores check-ins one by one (each drained to the webhook right after its commit)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    """Store `--count` check-ins, printing "stored N" after each commit, until killed."""
    from bot import services
    from bot.app import build_app
    from tests.fakes.okr_helpers import AT

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    app = build_app(database_url=args.db, migrate=False)
    for n in range(args.count):
        reply = services.run_command(uow=app.uow, person="chen", text=f"/kr update KR2 {1.5 + (n % 90) / 100:.2f}%", at=AT)
        assert reply.ok, reply
        print(f"stored {n}", flush=True)


if __name__ == "__main__":
    main()
