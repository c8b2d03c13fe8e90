"""Hostile OKR files: a YAML alias bomb and deep nesting are refused at once by lint and import, in zh and en."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAUGHS = "".join(
    f"  {name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)


def _bomb(lang: str, where: str) -> str:
    """The example file with nine levels of nine aliases (9⁹ ≈ 387 million strings) where lint or import reads it."""
    example = (ROOT / "examples" / f"q4-europe.{lang}.yaml").read_text(encoding="utf-8")
    if where == "title":  # lint reads every objective's title as text: expanding it takes minutes and gigabytes
        first = next(line for line in example.splitlines() if line.strip().startswith("title:"))
        example = example.replace(first, first.split("title:")[0] + "title: *i", 1)
    return "x-laughs:\n" + LAUGHS + example


def _bounded(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Run krbot in a process held to 1 GB of memory and 60 s; (exit code, output, seconds)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=60, preexec_fn=limit
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("command", ["lint", "import"])
def test_alias_bomb_is_refused_at_once(command: str, lang: str, tmp_path: Path) -> None:
    """Exit 2 within seconds and a gigabyte, saying the aliases expand too far, in the file's language."""
    file = tmp_path / "bomb.yaml"
    file.write_text(_bomb(lang, "title"), encoding="utf-8")
    args = [command, str(file)] + (["--db", f"sqlite:///{tmp_path / 'k.db'}"] if command == "import" else [])
    code, output, seconds = _bounded(args, ROOT)
    assert code == 2, output[-2000:]
    assert ("别名" in output) if lang == "zh" else ("aliases" in output and "200000" in output)
    assert "Traceback" not in output and seconds < 30


@pytest.mark.parametrize("command", ["lint", "import"])
def test_deep_nesting_is_refused_without_a_traceback(command: str, tmp_path: Path) -> None:
    """Five thousand nested brackets: a located refusal, not a RecursionError."""
    file = tmp_path / "deep.yaml"
    file.write_text("workspace: {name: x, language: zh}\nx: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    args = [command, str(file)] + (["--db", f"sqlite:///{tmp_path / 'k.db'}"] if command == "import" else [])
    code, output, _ = _bounded(args, ROOT)
    assert code == 2 and "嵌套超过64层" in output and "Traceback" not in output, output[-2000:]


def test_files_with_a_few_aliases_still_import(tmp_path: Path) -> None:
    """Ordinary anchors (a shared list of people, say) stay allowed."""
    from bot.okrfile import load_yaml

    text = "shared: &people [chen, zhao]\nkr1: {informed: *people}\nkr2: {informed: *people}\n"
    assert load_yaml(text=text, filename="x.yaml")["kr2"] == {"informed": ["chen", "zhao"]}
