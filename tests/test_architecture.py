"""The shape DESIGN.md asks for: a pure core, imports pointing inward, a docstring atop every module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "bot" / "core"
SOURCES = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "storage").rglob("*.py")])


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_is_pure(path: Path) -> None:
    """bot/core imports only the standard library and itself: no SQLAlchemy, Jinja, SDKs or other layers."""
    for name in _imports(path):
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or name.startswith("bot.core") or top == "__future__", (
            f"{path.name} imports {name}"
        )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_is_for(path: Path) -> None:
    """Each module opens with a sentence on its role."""
    if path.name == "__init__.py" and not path.read_text(encoding="utf-8").strip():
        return
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring and docstring.strip().endswith((".", ")")), f"{path} has no opening sentence"


def test_storage_does_not_reach_into_edges() -> None:
    """storage/ knows the domain, never the services, the CLI or the platforms."""
    for path in (ROOT / "storage").rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("bot.services", "bot.platforms", "bot.__main__", "bot.render")), (
                f"{path.name} imports {name}"
            )
