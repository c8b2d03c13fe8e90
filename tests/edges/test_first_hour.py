"""The admin's first hour, as a new admin tries it: the compose file, the README's commands, the Feishu setup notes."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.__main__ import cli
from bot.config import Settings
from tests.conftest import ROOT


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${NAME:-default}` substitution, from `env` (what compose reads from `.env`)."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or (m.group(2) or ""), text)


def _krbot_service(env: dict[str, str]) -> dict:
    return yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(encoding="utf-8"), env))["services"]["krbot"]


@pytest.mark.parametrize("port", ["3000", "8080"])
def test_compose_publishes_the_port_krbot_listens_on(port: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`KRBOT_HTTP_PORT=8080` in .env: the container listens on 8080, compose maps 8080:8080, the health check asks 8080."""
    env = {"KRBOT_HTTP_PORT": port} if port != "3000" else {}
    service = _krbot_service(env)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, str(value))
    listening = Settings().http_port  # what `krbot run --http` binds inside the container
    assert service["ports"] == [f"{port}:{listening}"] and str(listening) == port
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "os.environ.get('KRBOT_HTTP_PORT'" in dockerfile  # the image's health check asks the same variable


def test_compose_mounts_the_okrs_folder_the_readme_imports_from() -> None:
    """The README's `krbot import /okrs/…` names a path that compose mounts from ./okrs, which exists."""
    volumes = _krbot_service({})["volumes"]
    mounts = {target: source for source, target, *_ in (v.split(":") for v in volumes)}
    assert mounts.get("/okrs") == "./okrs" and (ROOT / "okrs").is_dir()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    imports = re.findall(r"docker compose exec krbot krbot import (\S+)", readme)
    assert imports and all(path.startswith("/okrs/") for path in imports)
    assert "/path/to/okrs.yaml" not in readme


def test_readme_deploy_commands_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's deploy block, container commands run as the container would (./okrs at /okrs, stdin for `-`)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\ncp \.env\.example \.env.*?```", readme, re.S).group(0)
    okrs = tmp_path / "okrs"
    okrs.mkdir()
    monkeypatch.chdir(tmp_path)
    database = f"sqlite:///{tmp_path / 'krbot.db'}"
    (tmp_path / "my-okrs.yaml").write_text((ROOT / "examples" / "q4-europe.en.yaml").read_text(encoding="utf-8"))
    ran = []
    for line in block.splitlines()[1:-1]:
        command = line.split("  #")[0].strip()
        if command.startswith("cp examples/"):
            source, target = shlex.split(command)[1:]
            shutil.copy(ROOT / source, tmp_path / target)
        elif command.startswith("docker compose exec"):
            words = shlex.split(command.split("<")[0])
            service = words.index("krbot", 3)
            words = words[words.index("krbot", service + 1) + 1 :]  # what runs in the container
            words = [word.replace("/okrs/", f"{okrs}/") for word in words]
            stdin = (tmp_path / command.split("<")[1].strip()).read_text() if "<" in command else None
            result = CliRunner().invoke(cli, [*words, "--db", database], input=stdin)
            assert result.exit_code == 0, (command, result.output)
            ran.append(words)
    assert [words[:1] for words in ran] == [["import"], ["import"]]
    assert ran[1][1] == "-"


def test_import_reads_standard_input(tmp_path: Path) -> None:
    """`krbot import -` takes the file from standard input, and refuses bad YAML there as from a file."""
    database = f"sqlite:///{tmp_path / 'krbot.db'}"
    text = (ROOT / "examples" / "q4-europe.zh.yaml").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "-", "--db", database], input=text)
    assert result.exit_code == 0 and "欧洲事业部" in result.output
    bad = CliRunner().invoke(cli, ["import", "-", "--db", database], input="workspace: [unclosed")
    assert bad.exit_code == 2


def test_feishu_readme_names_the_contact_scope_and_the_availability_range() -> None:
    """Looking up open_ids by phone or email needs contact:user.id:readonly; the app's 可用范围 is explained (zh and en)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    feishu = readme[readme.index("## 飞书 / Feishu") :]
    chinese, english = feishu.split("### English", 1)
    for part in (chinese, english):
        assert "contact:user.id:readonly" in part and "可用范围" in part
    assert "No contacts scope is needed" not in readme and "\n不需要通讯录权限：" not in readme
