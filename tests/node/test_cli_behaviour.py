"""The CLI behaves (#18 point 4): --version, -h everywhere, one-line errors with distinct
exit codes, environment overrides (#18 point 5)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from node.cli import ExitCode, main
from node.home import HomeError, load_home_config
from tests.node.agora_cli import agora, ok


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


def test_version_names_the_package_commit_and_python() -> None:
    out = ok("--version")
    assert out.startswith("agora 0.") and "commit" in out and "Python 3." in out


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_answers_help_in_one_style(flag: str) -> None:
    runner = CliRunner()
    commands = _commands(main)
    assert ("genesis", "add-validator") in commands and ("bench",) in commands
    for path in [(), *commands]:
        result = runner.invoke(main, [*path, flag])
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Usage: "), (path, result.output[:200])
        assert "Options:" in result.output, path


def test_an_unreachable_node_is_one_line_and_exit_code_6() -> None:
    result = agora("status", "--rpc", "http://127.0.0.1:1")
    assert result.returncode == ExitCode.UNREACHABLE == 6
    assert result.stderr.startswith("agora: cannot reach the node")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_missing_home_is_exit_code_5(tmp_path: Path) -> None:
    for args in (("node", "start", "--home", tmp_path / "nope"),
                 ("config", "check", "--home", tmp_path / "nope")):
        result = agora(*args)
        assert result.returncode == ExitCode.HOME == 5, result.stderr
        assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = agora("config", "check")  # neither --home nor AGORA_HOME
    assert result.returncode == 5 and "AGORA_HOME" in result.stderr


def test_an_invalid_config_lists_every_problem_with_exit_code_3(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[node]\nlog_level = "LOUD"\nlog_format = "xml"\n[rpc]\nport = "x"\n[nope]\n')
    result = agora("node", "start", "--home", tmp_path)
    assert result.returncode == ExitCode.INVALID_CONFIG == 3
    assert "invalid configuration (4 problems)" in result.stderr
    for needle in ("node.log_level", "node.log_format", "rpc.port", "[nope]"):
        assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_environment_overrides_apply_and_a_typo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[rpc]\nport = 8000\n")
    config = load_home_config(tmp_path, {"AGORA_RPC_PORT": "8600",
                                         "AGORA_NODE_LOG_FORMAT": "json",
                                         "AGORA_RPC_CORS_ALLOWED_ORIGINS": '["http://a", "http://b"]',
                                         "AGORA_BUILD_COMMIT": "not config"})
    assert config.rpc.port == 8600 and config.node.log_format == "json"
    assert config.rpc.cors_allowed_origins == ("http://a", "http://b")
    assert config.node.home_dir == str(tmp_path.resolve())
    result = agora("config", "check", env={"AGORA_HOME": str(tmp_path),
                                           "AGORA_RPC_PROT": "1"})
    assert result.returncode == 3 and "AGORA_RPC_PROT" in result.stderr
    with pytest.raises(HomeError):
        load_home_config(tmp_path / "missing", {})
