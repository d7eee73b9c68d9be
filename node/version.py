"""The running build: package version, source commit and Python, for ``agora --version``,
``agora status`` and the ``agora_build_info`` metric.

The commit comes from ``AGORA_BUILD_COMMIT`` (set by the Dockerfile, where there is no
``.git``), else from ``git rev-parse`` in the source tree, else ``unknown``. Looked up once.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

source_dir = Path(__file__).resolve().parents[1]
git_timeout_seconds = 2.0


@functools.cache
def version() -> str:
    try:
        return metadata.version("agora")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@functools.cache
def commit() -> str:
    given = os.environ.get("AGORA_BUILD_COMMIT", "").strip()
    if given:
        return given
    try:
        result = subprocess.run(["git", "-C", str(source_dir), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=git_timeout_seconds,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else "unknown"


def python_version() -> str:
    return platform.python_version()


def describe() -> str:
    """One line: ``agora 0.1.0 (commit abc123, Python 3.11.2)``."""
    return f"agora {version()} (commit {commit()}, Python {python_version()})"
