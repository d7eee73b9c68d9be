"""A validator replaying a 12 MB PRE-PREPARE cannot stall the honest nodes (#12 point 5).

Four real node processes on 127.0.0.1; node 3 is stopped and the test takes its place
with its real key (an authenticated, Byzantine validator): it sends every honest node,
over and over, the issue's frame, a PRE-PREPARE of 100,000 txs with bad signatures while
it is not the primary. Before the fix each copy cost every node's network loop a decode
and 100,000 signature checks (~8 s, the view timeout here is 2 s), so the cluster stopped
finalizing. Now each copy is dropped on its head ("not_primary") and the three honest
nodes keep finalizing blocks while the frames keep coming.
"""

from __future__ import annotations

import signal
from pathlib import Path

import nacl.signing
import pytest
import trio

from consensus.types import (
    Block,
    BlockHeader,
    PrePrepare,
    Signer,
    Transaction,
    encode_message,
    sign_message,
    tx_root,
)
from network.config import NetworkConfig
from network.peer_manager import PeerManager
from node.genesis import load_genesis
from node.keys import load_seed
from node.node import WireKind, encode_wire
from tests.e2e.cluster import TestCluster, running_cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ATTACK_TXS = 100_000
BYZANTINE = 3
HONEST = [0, 1, 2]
FLOOD_DEADLINE_SECONDS = 60.0
HEIGHTS_TO_FINALIZE_UNDER_FLOOD = 3
FRAMES_PER_NODE_MIN = 4


def _attack_frame(chain_id: str, seed: bytes) -> bytes:
    wellformed = Signer(b"\x07" * 32).sign(b"not this tx")
    sender = Signer(b"\x08" * 32).public_key
    txs = tuple(Transaction(chain_id, sender, nonce, 5, 0, b"", "t", b"", wellformed)
                for nonce in range(ATTACK_TXS))
    header = BlockHeader(chain_id, 0, 1, b"\0" * 32, 0, BYZANTINE, 0, tx_root(txs), 0,
                         b"\0" * 32, b"\0" * 32)
    block = Block(header, txs)
    message = sign_message(
        PrePrepare(chain_id, 0, 0, 1, BYZANTINE, block.hash(), block, b""), Signer(seed))
    return encode_wire(WireKind.CONSENSUS, encode_message(message))


async def _flood(cluster: TestCluster, seed: bytes, frame: bytes) -> dict[str, int]:
    """Send ``frame`` to every honest node until each got FRAMES_PER_NODE_MIN copies and
    all of them finalized HEIGHTS_TO_FINALIZE_UNDER_FLOOD more blocks meanwhile."""
    genesis = load_genesis(cluster.local.directory / "genesis.json")
    addresses = {}
    for index, validator in enumerate(genesis.validators):
        host, _, port = validator.p2p_address.rpartition(":")
        addresses[index] = (host, int(port))
    addresses[BYZANTINE] = ("127.0.0.1", 1)  # nobody needs to reach us
    manager = PeerManager(NetworkConfig(), nacl.signing.SigningKey(seed), BYZANTINE,
                          genesis.chain_id, dict(enumerate(genesis.validator_keys)), addresses,
                          genesis_hash=genesis.hash())

    def heights() -> list[int]:
        return cluster.heights(0, HONEST)

    with trio.fail_after(FLOOD_DEADLINE_SECONDS):
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run)
            await manager.wait_connected(HONEST)
            start = max(await trio.to_thread.run_sync(heights))
            sent = dict.fromkeys(HONEST, 0)
            while True:
                for index in HONEST:
                    sent[index] += manager.send(index, frame)
                if min(sent.values()) >= FRAMES_PER_NODE_MIN and min(
                        await trio.to_thread.run_sync(heights)
                ) >= start + HEIGHTS_TO_FINALIZE_UNDER_FLOOD:
                    break
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    return {str(index): count for index, count in sent.items()}


def test_a_validator_replaying_a_huge_non_primary_proposal_does_not_stall_the_cluster(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        wait_until(lambda: min(cluster.heights()) >= 2, 60, "first blocks")
        cluster.local.kill(BYZANTINE, signal.SIGTERM)
        seed = load_seed(cluster.local.homes[BYZANTINE] / "node_key.hex")
        frame = _attack_frame(cluster.client(0).status()["chain_id"], seed)
        assert len(frame) > 12_000_000
        trio.run(_flood, cluster, seed, frame)
        for index in HONEST:
            status = cluster.client(index).status()
            assert status["peer_messages_dropped"].get("not_primary", 0) >= 1, status
            assert status["tx_signature_checks"] < ATTACK_TXS
