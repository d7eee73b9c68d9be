"""Node processes started the way an operator starts them: ``agora node start --home H``.

Every process runs in its own session with its output in ``H/node.log`` and is stopped
(SIGTERM, then SIGKILL after a grace period) when the context ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.node.agora_cli import agora_executable

stop_grace_seconds = 10.0


class NodeProcesses:
    def __init__(self) -> None:
        self.processes: dict[Path, subprocess.Popen[bytes]] = {}

    def start(self, home: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        with open(home / "node.log", "ab") as log:
            clean = {key: value for key, value in os.environ.items()
                     if not key.startswith("AGORA_")}
            self.processes[home] = subprocess.Popen(
                [*agora_executable(), "node", "start", "--home", str(home), *extra],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**clean, "PYTHONUNBUFFERED": "1", **(env or {})})

    def stop(self, home: Path) -> int:
        process = self.processes.pop(home)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=stop_grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def check_alive(self) -> None:
        for home, process in self.processes.items():
            if process.poll() is not None:
                log = (home / "node.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{home} exited with {process.returncode}:\n{log}")

    def stop_all(self) -> None:
        for home in list(self.processes):
            self.stop(home)


@contextmanager
def node_processes() -> Iterator[NodeProcesses]:
    nodes = NodeProcesses()
    try:
        yield nodes
    finally:
        nodes.stop_all()
