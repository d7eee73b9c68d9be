"""The deployment files in configs/ (#18 point 7): the systemd unit verifies, the compose
file runs 4 validators whose genesis its own init script builds, the Dockerfile copies
every package and builds where a container engine is available."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.node.agora_cli import agora_executable

root = Path(__file__).resolve().parents[2]
configs = root / "configs"
hardening = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/agora",
             "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=",
             "RestrictAddressFamilies=", "SystemCallFilter=@system-service")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    text = (configs / "systemd" / "agora-node.service").read_text()
    for option in hardening:
        assert f"\n{option}" in text, option
    assert "RestartPreventExitStatus=3 4 5 7" in text  # node/cli.py ExitCode
    # verify needs the ExecStart binaries to exist: point them at this venv's agora.
    unit = tmp_path / "agora-node.service"
    unit.write_text(text.replace("/opt/agora/bin/agora", agora_executable()[0]))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False)
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if unit.name in line]
    assert result.returncode == 0 and not complaints, complaints


def test_the_compose_file_runs_four_validators_with_their_own_volumes() -> None:
    compose = yaml.safe_load((configs / "docker-compose.yml").read_text())
    validators = {name: service for name, service in compose["services"].items()
                  if name.startswith("validator")}
    assert sorted(validators) == [f"validator{k}" for k in range(4)]
    volumes = [service["volumes"][0].split(":")[0] for service in validators.values()]
    assert len(set(volumes)) == 4 and set(volumes) <= set(compose["volumes"])
    ports = [port for service in validators.values() for port in service["ports"]]
    assert len(ports) == len(set(ports)) == 8
    for service in validators.values():
        assert service["depends_on"]["genesis"]["condition"] == \
            "service_completed_successfully"
        assert service["command"][:2] == ["node", "start"]
        assert "/ready" in " ".join(service["healthcheck"]["test"])


def test_the_compose_genesis_script_builds_a_network_every_validator_accepts(
        tmp_path: Path) -> None:
    """Run the compose init script for real (with `agora` from this venv and the volumes
    as local directories): every home passes `agora config check`."""
    compose = yaml.safe_load((configs / "docker-compose.yml").read_text())
    script = compose["services"]["genesis"]["command"][0].replace("$$", "$")
    script = script.replace("/homes/", f"{tmp_path}/").replace("/tmp/genesis.json",
                                                               f"{tmp_path}/genesis.json")
    bin_dir = str(Path(agora_executable()[0]).parent)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGORA_")},
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    result = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    for k in range(4):
        home = tmp_path / f"validator{k}"
        check = subprocess.run([*agora_executable(), "config", "check", "--home", str(home)],
                               capture_output=True, text=True, env=env, timeout=60,
                               check=False)
        assert check.returncode == 0, check.stderr
        assert f"validator {k} (validator{k})" in check.stdout
        config = tomllib.loads((home / "config.toml").read_text())
        assert config["rpc"]["host"] == "0.0.0.0" and config["network"]["listen_port"] == 26700


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return result.returncode == 0


def test_the_dockerfile_copies_every_package_and_matches_the_python_minor() -> None:
    text = (configs / "Dockerfile").read_text()
    project = tomllib.loads((root / "pyproject.toml").read_text())
    packages = [name.rstrip("*") for name in
                project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for package in packages:
        assert f"COPY {package} /src/{package}" in text, package
    minors = set(re.findall(r"FROM python:(\d+\.\d+)", text))
    assert minors == {f"{sys.version_info.major}.{sys.version_info.minor}"}


@pytest.mark.skipif(not _docker_available(), reason="no container engine running here")
@pytest.mark.timeout(900)
def test_the_image_builds_and_answers_version() -> None:
    build = subprocess.run(["docker", "build", "-f", str(configs / "Dockerfile"), "-t",
                            "agora:test", str(root)], capture_output=True, text=True,
                           timeout=880, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(["docker", "run", "--rm", "agora:test", "--version"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and run.stdout.startswith("agora ")
