"""`python -m bot` and the `krbot` script: the command line that bot/cli builds."""

from __future__ import annotations

from bot.cli import cli, main

__all__ = ["cli", "main"]

if __name__ == "__main__":
    main()
