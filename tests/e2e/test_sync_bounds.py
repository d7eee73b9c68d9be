"""A node asked for a huge catch-up range answers a bounded prefix and keeps running.

Issue #12 point 3. Before: ``_serve_sync`` read and decoded as many blocks as asked (up to
1,024) on the event loop, with no byte limit; 64 blocks of 2,000 transfers made a 22 MB
answer, ``PeerManager.send`` raised ``PayloadTooLarge`` and the node process died. Here a
real node process (``agora node start``) holds 64 such blocks in its LevelDB, and this
test, as validator 3 over a real authenticated link on 127.0.0.1, asks it for 1,024
blocks twice: each answer must hold at most ``sync_batch_blocks`` blocks within
``sync_response_bytes_max``, start where asked, and the node must still answer its RPC.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import nacl.signing
import pytest
import trio

from consensus import codec
from consensus.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    Signer,
    SyncRequest,
    SyncResponse,
    Transaction,
    decode_message,
    encode_message,
    sign_message,
    tx_root,
)
from network.peer_manager import PeerManager
from node.client import AgoraClient
from node.config import load_config
from node.genesis import load_genesis
from node.keys import load_seed
from node.node import Node, WireKind, _decode_wire, encode_wire
from node.setup import LocalCluster, free_port_block
from storage.state_root import next_state_root

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

stored_blocks = 64
block_txs = 2000


def _transfers(chain_id: str) -> tuple[Transaction, ...]:
    signer = Signer(hashlib.sha256(b"sync-bounds").digest())
    txs = []
    for index in range(block_txs):
        tx = Transaction(chain_id, signer.public_key, index, 900, 0, b"", "transfer",
                         codec.pack((hashlib.sha256(b"%d" % index).digest(), 10)), b"")
        txs.append(dataclasses.replace(tx, signature=signer.sign(tx.signing_bytes())))
    return tuple(txs)


def _fill_store(home: Path) -> int:
    """Finalize ``stored_blocks`` blocks of ``block_txs`` transfers in node0's store, as a
    node that committed them would hold them; returns the bytes of one stored block."""
    config = load_config(home / "config.toml")
    config = dataclasses.replace(config, node=dataclasses.replace(config.node,
                                                                  home_dir=str(home)))
    node = Node.open(config)
    store, chain_id = node.store, node.genesis.chain_id
    txs = _transfers(chain_id)
    root_of_txs = tx_root(txs)
    previous = store.finalized(0)
    assert previous is not None
    for height in range(1, stored_blocks + 1):
        header = BlockHeader(chain_id, 0, height, previous.block_hash, 0, 0, 1000 + height,
                             root_of_txs, 0, bytes(32), bytes(32))
        block = Block(header, txs)
        certificate = CommitCertificate(chain_id, 0, 0, height, block.hash(), tuple(
            CommitSignature(replica, bytes(64)) for replica in range(3)))
        previous = store.finalize_block(
            0, height, block.hash(), codec.encode(block), codec.encode(certificate), [], [],
            [], next_state_root(previous.state_root, height, []))
    block_bytes = len(codec.encode(block))
    store.close()
    return block_bytes


async def _ask(manager: PeerManager, signer: Signer, chain_id: str, height: int,
               count: int) -> SyncResponse:
    request = sign_message(SyncRequest(chain_id, 0, 0, height, 3, count, b""), signer)
    assert manager.send(0, encode_wire(WireKind.CONSENSUS, encode_message(request)))
    with trio.fail_after(60):
        async for peer, payload in manager.receive_channel:
            kind, body = _decode_wire(payload)
            if peer != 0 or kind is not WireKind.CONSENSUS:
                continue
            message = decode_message(body, 1 << 30)
            if isinstance(message, SyncResponse) and message.height == height:
                return message
    raise AssertionError("the link closed before the answer came")


def test_a_node_asked_for_a_huge_range_answers_a_bounded_prefix_and_keeps_running(
        tmp_path: Path) -> None:
    base = free_port_block(12)
    cluster = LocalCluster(tmp_path / "net", 4, 1, p2p_port=base, rpc_port=base + 4,
                           metrics_port=base + 8)
    block_bytes = _fill_store(cluster.homes[0])
    assert block_bytes * stored_blocks > 16 * 1024 * 1024  # the old answer: over a frame
    config = load_config(cluster.homes[0] / "config.toml")
    batch, budget = config.consensus.sync_batch_blocks, config.consensus.sync_response_bytes_max
    genesis = load_genesis(cluster.directory / "genesis.json")
    seed = load_seed(cluster.homes[3] / "node_key.hex")
    signer = Signer(seed)
    addresses = {}
    for index, validator in enumerate(genesis.validators):
        host, _, port = validator.p2p_address.rpartition(":")
        addresses[index] = (host, int(port))
    answers: list[SyncResponse] = []

    async def as_validator_3() -> None:
        manager = PeerManager(config.network.to_network_config(),
                              nacl.signing.SigningKey(seed), 3, genesis.chain_id,
                              dict(enumerate(genesis.validator_keys)), addresses,
                              genesis_hash=genesis.hash())
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run)
            with trio.fail_after(60):
                await manager.wait_connected([0])
            first = await _ask(manager, signer, genesis.chain_id, 1, 1024)
            answers.append(first)
            answers.append(await _ask(manager, signer, genesis.chain_id,
                                      1 + len(first.blocks), 1024))
            nursery.cancel_scope.cancel()

    try:
        cluster.start([0])
        cluster.wait_ready(timeout_seconds=60, indexes=[0])
        trio.run(as_validator_3)
        cluster.check_alive([0])
        status = AgoraClient(cluster.rpc_urls[0], timeout_seconds=5.0).status()
        assert status  # the node still serves its RPC
    finally:
        cluster.stop()
    first, second = answers
    assert 1 <= len(first.blocks) <= batch and 1 <= len(second.blocks) <= batch
    for answer, start in ((first, 1), (second, 1 + len(first.blocks))):
        heights = [item.block.header.height for item in answer.blocks]
        assert heights == list(range(start, start + len(heights)))
        stored = sum(len(codec.encode(item.block)) + len(codec.encode(item.certificate))
                     for item in answer.blocks)
        assert stored <= budget
    # The byte budget, not the count, cut the answer: a bounded prefix of what was asked.
    assert len(first.blocks) < stored_blocks
