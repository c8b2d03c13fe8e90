"""The user's documentation holds: docs/ and the README name no internal file, every link lands, and every variable,
command, route, chat command and OKR-file field the code has is documented."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import BaseModel

from bot.api import api_routes
from bot.cli import cli
from bot.config import Settings
from bot.okrfile import OkrFile, parse_okr_file

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
USER_TEXTS = [ROOT / "README.md", *PAGES, ROOT / ".env.example", *sorted((ROOT / "examples").iterdir())]
INTERNAL = re.compile(r"CONTRACT|METHOD\.md|shared/|§")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
READS = re.compile(r"""(?:environ\.get|getenv|variable)\(\s*(?:name=)?["']([A-Z][A-Z0-9_]+)["']""")


def _all_docs() -> str:
    """Every page of docs/ as one text."""
    return "\n".join(page.read_text(encoding="utf-8") for page in PAGES)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (letters of any script kept), spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside code blocks), duplicates numbered as GitHub does."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6}\s+(.*)", line)):
            slug = _slug(heading[1])
            found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return found


def test_docs_exist_and_the_readme_leads_there() -> None:
    """docs/ has its index and a page per subject, and the README links to the index."""
    names = {page.name for page in PAGES}
    assert {"README.md", "okr-file.md", "chat.md", "digest.md", "api.md", "operators.md", "web.md", "cli.md"} <= names
    assert "](docs/README.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", USER_TEXTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_user_text_names_the_internal_contract_or_method(path: Path) -> None:
    """Users have neither CONTRACT.md nor METHOD.md: nothing they read points at them or at their § numbers."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert not INTERNAL.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_no_catalog_word_or_help_text_names_the_internal_contract() -> None:
    """What chat, the CLI's --help and the reports say never sends a user to CONTRACT/METHOD or a § number."""
    words: list[str] = []
    for catalog in sorted((ROOT / "templates" / "i18n").rglob("*.yaml")):
        entries = yaml.safe_load(catalog.read_text(encoding="utf-8")) or {}
        words += [f"{catalog.name} {key}: {value}" for key, value in entries.items()]

    def walk(command: Any) -> None:
        words.append(f"{command.name}: {command.help or ''}")
        words.extend(f"{command.name} {param.name}: {getattr(param, 'help', '') or ''}" for param in command.params)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(cli))
    assert len(words) > 100  # the catalogs and the commands were read
    assert [word for word in words if INTERNAL.search(word)] == []


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES], ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_lands(path: Path) -> None:
    """Each relative link of the README and docs/ names a file that exists and, with #anchor, a heading in it."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert broken == [], f"{path.relative_to(ROOT)}: broken links {broken}"


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    """A positive control for the anchors: a heading's slug is found, a missing one is not."""
    page = tmp_path / "page.md"
    page.write_text("# Who may do what (权限)\n## `krbot run`: modes\n```\n# not a heading\n```\n", encoding="utf-8")
    assert _anchors(page) == {"who-may-do-what-权限", "krbot-run-modes"}


@pytest.mark.parametrize("name", ["operators.md", "zh/operators.md"])
def test_every_variable_krbot_reads_is_in_the_operators_page(name: str) -> None:
    """Each setting of bot/config.py, and each variable any module reads by name, is explained in operators.md."""
    names = {str(field.alias) for field in Settings.model_fields.values() if field.alias}
    for module in sorted((ROOT / "bot").rglob("*.py")):
        names |= set(READS.findall(module.read_text(encoding="utf-8")))
    assert {"KRBOT_DATABASE_URL", "SLACK_BOT_TOKEN", "FEISHU_APP_ID", "KRBOT_SOURCE_ENVS"} <= names
    page = (DOCS / name).read_text(encoding="utf-8")
    assert sorted(variable for variable in names if f"`{variable}`" not in page) == []


def test_every_krbot_command_is_in_the_docs() -> None:
    """Every command and subcommand `krbot --help` lists is named in docs/ as `krbot NAME`."""
    paths: list[str] = []

    def walk(command: Any, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            if getattr(sub, "commands", None):  # a group (typer's own click types): its subcommands
                walk(sub, f"{prefix}{name} ")
            else:
                paths.append(f"{prefix}{name}")

    walk(typer.main.get_command(cli), "")
    assert {"import", "digest", "jobs run", "token create"} <= set(paths)
    docs = _all_docs()
    assert [path for path in paths if f"krbot {path}" not in docs] == []


def _commands() -> set[str]:
    """The top-level commands `krbot --help` lists."""
    return set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]


def test_the_docs_name_no_krbot_command_that_does_not_exist() -> None:
    """Outside the pages and sections that say what is planned, each `krbot NAME` in docs/ is a real command."""
    shipped = [page for page in PAGES if page.name != "web.md"]
    text = "\n".join(page.read_text(encoding="utf-8") for page in shipped)
    text = re.sub(r"## (?:Not in this version yet|本版本尚未提供)\n.*?(?=\n## |\Z)", "", text, flags=re.S)
    named = set(re.findall(r"`krbot ([a-z][a-z-]*)", text))
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        named |= set(re.findall(r"^krbot ([a-z][a-z-]*)", block, flags=re.M))
    assert {"run", "import", "jobs"} <= named
    assert sorted(named - _commands()) == []


@pytest.mark.parametrize("name", ["chat.md", "zh/chat.md"])
def test_every_chat_command_of_the_help_is_in_the_chat_page(name: str) -> None:
    """Every command `/kr help` lists (the catalog's help lines, zh and en) is explained in chat.md and its zh twin."""
    page = (DOCS / name).read_text(encoding="utf-8")
    for lang in ("en", "zh"):
        entries = yaml.safe_load((ROOT / "templates" / "i18n" / lang / "commands.yaml").read_text(encoding="utf-8"))
        commands = {key.split(".", 1)[1] for key in entries if key.startswith("help.") and key != "help.title"}
        assert {"update", "change", "away"} <= commands
        assert sorted(name for name in commands if f"`/kr {name}" not in page) == []


@pytest.mark.parametrize("name", ["api.md", "zh/api.md"])
def test_every_api_route_is_in_the_api_page(name: str) -> None:
    """Each path of the OpenAPI document krbot serves, and the hook route, is described in api.md (and zh)."""
    mount, hook = api_routes(uow=None)
    paths = [f"/api/v1{path}" for path in mount.app.openapi()["paths"]] + [hook.path]
    assert "/api/v1/checkins" in paths
    page = re.sub(r"\{[^}]*\}", "{}", (DOCS / name).read_text(encoding="utf-8"))
    assert [path for path in paths if re.sub(r"\{[^}]*\}", "{}", path) not in page] == []


def _fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """Every field name of an OKR-file model and of the models inside it."""
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= _fields(kind, seen)
            stack.extend(typing.get_args(kind))
    return names


@pytest.mark.parametrize("name", ["okr-file.md", "zh/okr-file.md"])
def test_every_field_of_the_okr_file_is_in_its_page(name: str) -> None:
    """A field the OKR file accepts (workspace to tasks, sources and webhooks) is explained in okr-file.md (and zh)."""
    fields = _fields(OkrFile, set())
    assert {"locale", "webhooks", "sync", "database_env", "headers_env", "delegates", "contributors", "was"} <= fields
    page = (DOCS / name).read_text(encoding="utf-8")
    assert sorted(name for name in fields if f"`{name}`" not in page and f"{name}:" not in page) == []


def test_the_complete_example_of_the_okr_file_page_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's complete file is a file krbot takes as it stands, with the variables it says to allow."""
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SALES_DB_URL,ERP_WEBHOOK_SECRET")
    page = (DOCS / "okr-file.md").read_text(encoding="utf-8")
    block = re.search(r"## A complete file.*?```yaml\n(.*?)```", page, re.S)
    assert block is not None
    spec, _root = parse_okr_file(text=block[1], filename="okr-file.md")
    kr = spec.objectives[0].paths[0].krs[0]
    assert kr.delegates and kr.contributors and spec.workspace.webhooks and spec.workspace.locale
