"""CLI start-up: `krbot --help` beside `alembic --help` in the same venv, interleaved (target: within 1.5×).

Run from the repository root:

    .venv/bin/python bench/cli_start.py [--runs 15]

Each run starts both commands as fresh processes, alternately, so machine noise hits both alike;
the figure is the ratio of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_RATIO = 1.5


def timed(*, command: list[str]) -> float:
    """Wall seconds of one run of `command` (which must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    """Print both medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    commands = {"krbot --help": [str(bin_dir / "krbot"), "--help"], "alembic --help": [str(bin_dir / "alembic"), "--help"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        timed(command=command)  # warm the file cache
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(timed(command=command))
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values) * 1000:.0f} ms over {args.runs} runs")
    ratio = statistics.median(times["krbot --help"]) / statistics.median(times["alembic --help"])
    print(f"ratio: {ratio:.2f}× (target ≤ {TARGET_RATIO}×: {'met' if ratio <= TARGET_RATIO else 'MISSED'})")


if __name__ == "__main__":
    main()
