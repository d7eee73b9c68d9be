"""A node started as an operator starts it: readable status, JSON logs with per-module
levels, hypercorn's lines once, version in the status (#18 points 4 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.client import AgoraClient
from node.setup import free_port_block
from tests.e2e.cluster import wait_until
from tests.e2e.processes import node_processes
from tests.node.agora_cli import ok

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _single_node(root: Path) -> tuple[Path, str, int]:
    base = free_port_block(3)
    ok("init", "--validators", "1", "--out", root, "--p2p-port", str(base),
       "--rpc-port", str(base + 1), "--metrics-port", str(base + 2))
    return root / "node0", f"http://127.0.0.1:{base + 1}", base + 2


def test_status_is_readable_and_logs_are_json_with_per_module_levels(tmp_path: Path) -> None:
    home, rpc, metrics_port = _single_node(tmp_path / "net")
    with node_processes() as nodes:
        nodes.start(home, "--log-format", "json", "--log-level",
                    "node=info,hypercorn=info,*=warning",
                    env={"AGORA_RPC_BODY_BYTES_MAX": "200000"})
        client = AgoraClient(rpc, timeout_seconds=2.0)

        def height() -> int:
            nodes.check_alive()
            return int(client.status()["shards"][0]["height"])

        wait_until(lambda: height() >= 2, 30, "blocks on a one-validator chain")
        readable = ok("status", "--rpc", rpc)
        assert readable.startswith("node 0 of chain agora-local (agora 0.")
        assert "shard   height" in readable and "  ok" in readable
        as_json = json.loads(ok("status", "--rpc", rpc, "--json"))
        assert as_json["version"] and as_json["shards"][0]["height"] >= 2
        nodes.stop(home)
    lines = (home / "node.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "node", "message"} <= set(entries[0])
    assert any(entry["logger"].startswith("node.") and entry["level"] == "INFO"
               for entry in entries)
    # network's INFO lines ("network listening") are below its level (*=warning).
    assert not any(entry["logger"].startswith("network") and entry["level"] == "INFO"
                   for entry in entries)
    running = [entry["message"] for entry in entries if "Running on" in entry["message"]]
    assert sorted(running) == sorted(set(running)) and len(running) == 2, running
    assert any(str(metrics_port) in message for message in running)
