"""Memory stays bounded however long a replica runs.

A long run (300 heights, a view change every 25 heights with the old primary crashed and
later restarted to catch up, some lost messages) checks after every single step, besides
``check_invariants``, explicit bounds on every internal collection of every replica. The
bounds are constants of the configuration, never of the run length (TigerBeetle style:
"put a limit on everything"). Castro & Liskov 2002 §4.3 is why they can be constants:
the log is truncated at every stable checkpoint.
"""

from __future__ import annotations

import pytest

from consensus import replica as replica_module
from consensus.events import Output
from consensus.replica import Ignored, Replica
from consensus.types import Commit, Prepare
from tests.consensus.scenario import Cluster

verified_cache_small = 64


class BoundedCluster(Cluster):
    """Asserts the bounds on every replica after every step and records the largest sizes."""

    def __init__(self, n: int = 4, **overrides: int) -> None:
        super().__init__(n, **overrides)
        self.largest: dict[str, int] = {}

    def step(self, index: int, event: object) -> Output:
        out = super().step(index, event)
        replica = self.nodes[index].replica
        if replica is not None:
            self.check_bounds(replica)
        return out

    def check_bounds(self, replica: Replica) -> None:
        config = replica.config
        window = config.watermark_window_blocks
        sizes = {
            "slots": len(replica._slots),
            "checkpoints": len(replica._checkpoints),
            "signed": len(replica._signed),
            "verified": len(replica._verified),
            "view_changes": len(replica._view_changes),
            "links": len(replica._links),
            "executed": len(replica._executed),
            "peer_heights": len(replica._peer_heights),
            "ignored_reasons": len(replica.stats.ignored),
            "votes_per_slot": max(
                (len(slot.prepares) + len(slot.commits) for slot in replica._slots.values()),
                default=0,
            ),
        }
        bounds = {
            "slots": window,
            "checkpoints": window // config.checkpoint_interval_blocks + 1,
            "signed": 2 * window + 2,
            "verified": verified_cache_small,
            "view_changes": config.n,
            "links": window + 2 + config.sync_blocks_max,
            "executed": window + config.state_root_lag_blocks + 2 + config.sync_blocks_max,
            "peer_heights": config.n,
            "ignored_reasons": len(Ignored),
            "votes_per_slot": 2 * config.n,
        }
        for name, size in sizes.items():
            assert size <= bounds[name], (name, size, bounds[name], replica.id)
            self.largest[name] = max(self.largest.get(name, 0), size)
        assert all(replica.low < height <= replica.low + window for height in replica._slots)


def test_replica_memory_stays_bounded_over_a_long_run_with_view_changes_and_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small signature cache, so that its eviction is exercised within the run.
    monkeypatch.setattr(replica_module, "verified_cache_entries_max", verified_cache_small)
    cluster = BoundedCluster(4, state_root_lag_blocks=3)
    crashed: int | None = None
    lost = 0
    while min(node.height for node in cluster.nodes if node.replica is not None) < 300:
        height = max(cluster.heights())
        if height % 25 == 24 and crashed is None:
            crashed = cluster.primary
            cluster.crash(crashed)
            for _ in range(200):
                cluster.tick()
                cluster.deliver()
                if (
                    not any(cluster.replica(i).in_view_change for i in range(4) if i != crashed)
                    and cluster.primary != crashed
                ):
                    break
        elif height % 25 == 12 and crashed is not None:
            cluster.restart(crashed)
            crashed = None
        primary = cluster.replica(cluster.primary)
        if primary._proposal_height() is not None:
            cluster.propose()
        # Lose every seventh vote in flight, so slots linger and retransmission paths run.
        for envelope in list(cluster.network):
            if isinstance(envelope.message, (Prepare, Commit)) and lost % 7 == 0:
                cluster.network.remove(envelope)
            lost += 1
        cluster.deliver()
        cluster.tick()
        cluster.deliver()
    if crashed is not None:
        cluster.restart(crashed)
    for _ in range(60):
        cluster.tick()
        if cluster.replica(cluster.primary)._proposal_height() is not None:
            cluster.propose()
        cluster.deliver()
        if len(set(cluster.heights())) == 1:
            break
    cluster.assert_agreement()
    assert len(set(cluster.heights())) == 1 and min(cluster.heights()) >= 300
    views = [cluster.replica(index).view for index in range(4)]
    assert min(views) >= 10, views
    # The run exercised what it bounds: full windows, a full signature cache, synced blocks.
    assert cluster.largest["verified"] == verified_cache_small
    assert cluster.largest["slots"] >= 3
    assert cluster.largest["view_changes"] >= 3
    assert sum(cluster.replica(index).stats.blocks_synced for index in range(4)) > 0
    for index in range(4):
        replica = cluster.replica(index)
        assert replica.low >= 296 and len(replica._slots) <= 8
