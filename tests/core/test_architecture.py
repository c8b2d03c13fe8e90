"""The shape DESIGN.md asks for: a pure core, imports pointing inward, a docstring atop every module."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """Our modules a module imports when it loads: not those inside functions or under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"{package}.{node.module}"
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    ours = {_module_name(p) for p in SOURCES}
    return {name for name in names if name in ours}


EDGES = ("platforms", "api", "web")  # the chat platforms, the HTTP API and the web pages: all only translate


@pytest.mark.parametrize("edge", EDGES)
def test_edges_import_services_render_and_the_grammar_never_storage_or_the_wiring(edge: str) -> None:
    """Edges translate: bot/platforms and bot/api reach the database only through bot.services, never bot.app."""
    paths = sorted((ROOT / "bot" / edge).rglob("*.py"))
    assert paths, f"bot/{edge} has no modules"
    for path in paths:
        for name in _top_level_imports(path) | _imports(path):
            assert not name.startswith(("storage", "bot.app")), f"{path.name} imports {name}"


@pytest.mark.parametrize("edge", EDGES)
def test_edges_pick_a_surface_by_the_replys_kind_never_by_its_catalog_key(edge: str) -> None:
    """A reply says what it is (Reply.shows: text, form, chart, digest, decision, repeat): an edge that compared its
    catalog key would break when a sentence is renamed, and would hold a rule the services own."""
    branching = re.compile(r"\breply\.key\s*(==|!=|\bin\b)|\breply\.key\.startswith")
    for path in sorted((ROOT / "bot" / edge).rglob("*.py")):
        found = branching.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.relative_to(ROOT)} branches on a reply's catalog key: {found.group(0)!r}"


def test_only_the_cli_and_the_demo_import_the_wiring() -> None:
    """bot.app is the one wiring function: the CLI and the demo call it, nothing else imports it."""
    allowed = {"bot/__main__.py", "bot/demo.py", "bot/app.py"}  # and bot/cli/, the CLI itself
    for path in SOURCES:
        if str(path.relative_to(ROOT)) in allowed or str(path.relative_to(ROOT)).startswith("bot/cli"):
            continue
        assert not any(name == "bot.app" for name in _imports(path)), f"{path.relative_to(ROOT)} imports bot.app"


def test_no_import_circle() -> None:
    """Imports point one way: no module reaches itself through the modules it imports when it loads."""
    graph = {_module_name(path): _top_level_imports(path) for path in SOURCES}
    seen: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            cycle = trail[trail.index(name) :] + (name,)
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if name in seen:
            return
        for imported in sorted(graph.get(name, ())):
            visit(imported, (*trail, name))
        seen.add(name)

    for name in sorted(graph):
        visit(name, ())


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path: Path) -> None:
    """A module is a room one can hold in mind: at most 400 lines."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines; split it by what it does"


def test_the_cli_answers_help_without_loading_the_heavy_libraries() -> None:
    """`krbot --help` imports what a command needs when it runs: no database, template or platform SDK."""
    heavy = (
        "sqlalchemy", "jinja2", "slack_bolt", "slack_sdk", "lark_oapi", "alembic", "starlette", "uvicorn", "fastapi",
        "httpx", "pydantic", "jsonpath_ng",
    )
    probe = (
        "import sys, bot.__main__; "
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "", f"krbot --help loads {done.stdout.strip()}"
