"""Readiness checks (node/health.py) over a stand-in node: each check fails on its own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from node.config import NodeConfig
from node.health import readiness_checks, readiness_report

now_ms = 1_000_000_000


def _node(peers: int = 3, halted: str | None = None, block_ms: int = now_ms - 1000,
          started_ms: int = now_ms - 60_000, lag: int | None = 0) -> Any:
    replica = SimpleNamespace(halted=halted, catchup_lag_blocks=lag)
    runtime = SimpleNamespace(replica=replica, halted=halted,
                              last_block_timestamp_ms=block_ms)
    genesis = SimpleNamespace(fault_tolerance=1, validators=[None] * 4)
    manager = SimpleNamespace(connected_peers=lambda: list(range(peers)))
    return SimpleNamespace(config=NodeConfig(), shards={0: runtime}, genesis=genesis,
                           peer_manager=manager, started_wall_ms=started_ms)


def _failing(node: Any) -> set[str]:
    return {check.name for check in readiness_checks(node, now_ms) if not check.ok}


def test_a_healthy_node_passes_every_check() -> None:
    assert _failing(_node()) == set()


def test_each_check_fails_on_its_own_condition() -> None:
    assert _failing(_node(peers=1)) == {"peers"}
    assert _failing(_node(peers=2)) == set()  # 2f = 2 peers plus itself is a quorum
    assert _failing(_node(halted="roots differ")) == {"shard_halted"}
    assert _failing(_node(block_ms=now_ms - 31_000)) == {"block_age"}
    assert _failing(_node(lag=9)) == {"catching_up"}
    assert _failing(_node(lag=None)) == {"catching_up"}  # peers' heights not known yet


def test_a_node_that_just_started_is_given_the_block_age_to_see_a_block() -> None:
    assert _failing(_node(block_ms=0, started_ms=now_ms - 5_000)) == set()
    assert _failing(_node(block_ms=0, started_ms=now_ms - 40_000)) == {"block_age"}
    # A restarted node whose tip is old is not ready, however recently it started.
    assert _failing(_node(block_ms=now_ms - 40_000, started_ms=now_ms - 1_000)) == \
        {"block_age"}


def test_the_report_lists_failing_checks_with_their_shard() -> None:
    ready, body = readiness_report(_node(halted="roots differ"))
    assert not ready and body["failing"][0]["shard"] == 0
    assert "roots differ" in body["failing"][0]["detail"]
