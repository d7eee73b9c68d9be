"""Run ``agora`` as a user does: the installed console script in a subprocess, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

command_timeout_seconds = 60.0


def agora_executable() -> list[str]:
    script = Path(sys.executable).parent / "agora"
    return [str(script)] if script.exists() else [sys.executable, "-m", "node.cli"]


def agora(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
          timeout_seconds: float = command_timeout_seconds) -> subprocess.CompletedProcess[str]:
    """``agora ARGS`` with the environment minus any AGORA_* of the caller (plus ``env``)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AGORA_")}
    return subprocess.run([*agora_executable(), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**clean, **(env or {})},
                          timeout=timeout_seconds, check=False)


def ok(*args: str | Path, **options: object) -> str:
    """stdout of a command that must succeed (its stderr in the failure message)."""
    result = agora(*args, **options)  # type: ignore[arg-type]
    assert result.returncode == 0, f"agora {args} -> {result.returncode}: {result.stderr}"
    return result.stdout
