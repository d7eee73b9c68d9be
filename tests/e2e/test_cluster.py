"""End-to-end: four validator processes on 127.0.0.1, real TCP, LevelDB and HTTP."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from node.client import Account
from tests.e2e.cluster import TestCluster, assert_same_chain, running_cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _transfers(cluster: TestCluster, count: int, first_nonce: int = 0, via: int = 0) -> list:
    client = cluster.client(via)
    recipients = [Account.generate().address for _ in range(20)]
    return [client.build_transfer(cluster.faucet, recipients[n % 20], 1 + n % 7,
                                  nonce=first_nonce + n) for n in range(count)]


def _all_committed(cluster: TestCluster, hashes: list[bytes], index: int) -> bool:
    client = cluster.client(index)
    return all(client.get_receipt(tx_hash) is not None for tx_hash in hashes)


def test_four_validators_finalize_a_thousand_txs_with_identical_blocks_and_state(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        txs = _transfers(cluster, 1000)
        hashes = [tx.hash() for tx in txs]
        for start in range(0, len(txs), 100):
            responses = cluster.send_batch(start // 100 % 4, txs[start:start + 100])
            assert all("result" in item for item in responses), responses[:3]
        for index in range(4):
            wait_until(lambda: _all_committed(cluster, hashes, index), 90,
                       f"1000 txs committed on node{index}")
        assert_same_chain(cluster, 0, [0, 1, 2, 3])
        receipts = [cluster.client(0).get_receipt(tx_hash) for tx_hash in hashes]
        assert all(receipt["ok"] for receipt in receipts)
        # Each replica checks each client signature once, whether the tx reached it by
        # RPC, by gossip or inside a proposal first.
        checks = [cluster.client(index).status()["tx_signature_checks"] for index in range(4)]
        assert checks == [len(txs)] * 4, checks


def test_stopping_the_primary_changes_view_and_the_restarted_node_catches_up(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        wait_until(lambda: min(cluster.heights()) >= 3, 30, "first blocks")
        primary = cluster.client(1).status()["shards"][0]["primary"]
        cluster.local.kill(primary, signal.SIGTERM)
        live = [index for index in range(4) if index != primary]
        txs = _transfers(cluster, 50, via=live[0])
        cluster.send_batch(live[0], txs)
        wait_until(lambda: _all_committed(cluster, [tx.hash() for tx in txs], live[0]), 60,
                   "txs committed after the primary stopped")
        assert cluster.client(live[0]).status()["shards"][0]["view"] > 0
        cluster.local.start([primary])
        cluster.local.wait_ready(indexes=[primary])
        target = max(cluster.heights(0, live))
        wait_until(lambda: cluster.heights(0, [primary])[0] >= target, 60,
                   "the restarted primary catches up")
        assert_same_chain(cluster, 0, [0, 1, 2, 3])


def test_a_node_killed_with_sigkill_during_load_restarts_without_losing_txs(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=2) as cluster:
        txs = _transfers(cluster, 400)
        hashes = [tx.hash() for tx in txs]
        cluster.send_batch(0, txs[:200])
        wait_until(lambda: cluster.client(2).get_receipt(hashes[50]) is not None, 60,
                   "load under way on node2")
        committed_before = [h for h in hashes[:200]
                            if cluster.client(2).get_receipt(h) is not None]
        cluster.local.kill(2, signal.SIGKILL)
        cluster.send_batch(1, txs[200:])
        cluster.local.start([2])
        cluster.local.wait_ready(indexes=[2])
        for tx_hash in committed_before:
            assert cluster.client(2).get_receipt(tx_hash) is not None, "lost a finalized tx"
        for index in range(4):
            wait_until(lambda: _all_committed(cluster, hashes, index), 90,
                       f"every tx committed on node{index}")
        for shard in range(2):
            assert_same_chain(cluster, shard, [0, 1, 2, 3])
