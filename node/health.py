"""Liveness and readiness of a node, for ``GET /health`` and ``GET /ready``.

``/health`` is liveness: the process serves HTTP (200 ``ok``), nothing more; restart it
only when that fails. ``/ready`` is readiness, as Besu's ``/readiness`` and Fabric's
``/healthz``: 200 when the node can serve and take part in consensus, else 503 with JSON
naming each failing check, so a load balancer stops sending it traffic and an operator
sees why. The checks:

``shard_halted``  a shard's replica halted (its state root differs from a quorum's: a
                  determinism bug or a damaged disk; see the README);
``peers``         fewer than 2f peers linked (with itself, 2f + 1 = a quorum);
``block_age``     a shard's last finalized block is older than
                  ``health.block_age_seconds_max`` (a shard with only its genesis counts
                  from the node's start; a restarted node's old tip counts as old);
``catching_up``   a shard is more than ``health.catchup_lag_blocks_max`` blocks behind
                  what f + 1 peers vouch for, or f + 1 peers have not yet shown it how far
                  the chain is (just after a start).

The report is plain data built from the node's state; the wall clock enters only here,
in the shell, never in anything hashed or signed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.node import Node


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    shard: int | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"check": self.name, "ok": self.ok, "detail": self.detail}
        if self.shard is not None:
            entry["shard"] = self.shard
        return entry


def readiness_checks(node: Node, now_ms: int | None = None) -> list[Check]:
    """Every readiness check of ``node``, passing or not, in a stable order."""
    now_ms = _now_ms() if now_ms is None else now_ms
    health = node.config.health
    checks = [_peers_check(node)]
    for shard, runtime in sorted(node.shards.items()):
        replica = runtime.replica
        halted = replica.halted if replica.halted is not None else runtime.halted
        checks.append(Check("shard_halted", halted is None,
                            f"halted: {halted}" if halted else "running", shard))
        checks.append(_block_age_check(node, runtime, shard, now_ms))
        lag = replica.catchup_lag_blocks
        if lag is None:
            checks.append(Check("catching_up", False, "f+1 peers have not yet shown how far "
                                "the chain is", shard))
        else:
            checks.append(Check("catching_up", lag <= health.catchup_lag_blocks_max,
                                f"{lag} blocks behind the peers (max "
                                f"{health.catchup_lag_blocks_max})", shard))
    return checks


def _block_age_check(node: Node, runtime: Any, shard: int, now_ms: int) -> Check:
    """The last finalized block's age; a node with only the genesis counts from its start
    (a restarted node's old tip is old: it is not ready until it has caught up)."""
    limit = node.config.health.block_age_seconds_max
    if runtime.last_block_timestamp_ms:
        age_seconds = max(0, now_ms - runtime.last_block_timestamp_ms) / 1000
        detail = f"last finalized block {age_seconds:.1f} s old (max {limit:g} s)"
    else:
        age_seconds = max(0, now_ms - node.started_wall_ms) / 1000
        detail = f"no block finalized yet, {age_seconds:.1f} s after start (max {limit:g} s)"
    return Check("block_age", age_seconds <= limit, detail, shard)


def _peers_check(node: Node) -> Check:
    manager = node.peer_manager
    linked = len(manager.connected_peers()) if manager is not None else 0
    needed = 2 * node.genesis.fault_tolerance
    return Check("peers", linked >= needed,
                 f"{linked} of {len(node.genesis.validators) - 1} peers linked, "
                 f"{needed} (2f) needed")


def readiness_report(node: Node) -> tuple[bool, dict[str, Any]]:
    """(ready, body) for ``GET /ready``: body lists the failing checks and all checks."""
    checks = readiness_checks(node)
    failing = [check.to_json() for check in checks if not check.ok]
    return not failing, {"ready": not failing, "failing": failing,
                         "checks": [check.to_json() for check in checks]}


def _now_ms() -> int:
    return math.floor(time.time() * 1000)
