"""A peer cannot stall the node's message intake (#12 point 5), through Node._take_in and
Node._network_loop on a real node (real LevelDB, real replicas), peers played by the test.

The attack of the issue: validator 3 (not the primary) replays one 12 MB PRE-PREPARE of
100,000 txs with bad signatures; before the fix every honest node decoded it and checked
all 100,000 signatures (~8 s) before its replica ignored it as "not primary", and did it
again on every replay.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import trio

import node.node as node_module
from consensus.events import MessageReceived
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
from network.inbound import InboundQueues
from node.config import load_config
from node.node import Node, WireKind, encode_wire
from node.setup import free_port_block, init_cluster
from tests.node.txs import make_tx, signer

CHAIN = "intake-test"
# The frame held 100,000 txs (12 MB); 20,000 (2.4 MB, 10 x block_txs_max) shows
# the same and builds faster (tests/e2e/test_intake_flood.py replays the full one).
ATTACK_TXS = 20_000


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = free_port_block(12)
    return init_cluster(tmp_path_factory.mktemp("net"), 4, 1, CHAIN, p2p_port=base,
                        rpc_port=base + 4, metrics_port=base + 8)


def _node(homes: list[Path], index: int, tmp_path: Path) -> Node:
    config = load_config(homes[index] / "config.toml")
    node_section = dataclasses.replace(config.node, home_dir=str(homes[index]),
                                       data_dir=str(tmp_path / f"data{index}"))
    return Node.open(dataclasses.replace(config, node=node_section))


def _validator(homes: list[Path], index: int) -> Signer:
    return Signer(bytes.fromhex((homes[index] / "node_key.hex").read_text().strip()))


def _pre_prepare_frame(homes: list[Path], sender: int, txs: tuple[Transaction, ...],
                       height: int = 1) -> bytes:
    header = BlockHeader(CHAIN, 0, height, b"\0" * 32, 0, sender, 0, tx_root(txs), 0,
                         b"\0" * 32, b"\0" * 32)
    block = Block(header, txs)
    message = sign_message(PrePrepare(CHAIN, 0, 0, height, sender, block.hash(), block, b""),
                           _validator(homes, sender))
    return encode_wire(WireKind.CONSENSUS, encode_message(message))


def _bad_txs(count: int, first_nonce: int = 0) -> tuple[Transaction, ...]:
    """Well-formed txs with a well-formed signature that is not the sender's."""
    wellformed = signer(99).sign(b"anything")
    sender = signer(98).public_key
    return tuple(Transaction(CHAIN, sender, first_nonce + nonce, 5, 0, b"", "t", b"",
                             wellformed) for nonce in range(count))


@pytest.fixture(scope="module")
def attack_frame(homes: list[Path]) -> bytes:
    """ATTACK_TXS bad txs in a PRE-PREPARE from validator 3, not the primary."""
    return _pre_prepare_frame(homes, 3, _bad_txs(ATTACK_TXS))


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = node_module.decode_message

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(node_module, "decode_message", counting)
    return calls


async def test_a_replayed_huge_pre_prepare_from_a_non_primary_costs_no_decode_and_no_check(
        homes: list[Path], attack_frame: bytes, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    node = _node(homes, 1, tmp_path)
    decodes = _count_decodes(monkeypatch)
    for _ in range(3):
        await node._take_in(3, attack_frame)
    assert node.dropped == {"not_primary": 3}
    assert decodes == [] and node.signatures.checks == 0
    assert node.shards[0].events_receive.statistics().current_buffer_used == 0


async def test_a_primary_proposal_with_bad_signatures_is_checked_once_then_remembered(
        homes: list[Path], tmp_path: Path) -> None:
    node = _node(homes, 1, tmp_path)
    all_bad = _pre_prepare_frame(homes, 0, _bad_txs(node.config.consensus.block_txs_max))
    await node._take_in(0, all_bad)
    assert node.signatures.checks == 1  # the first bad signature ends it
    await node._take_in(0, all_bad)
    assert node.signatures.checks == 1  # a replay: the bad tx is remembered
    # The bad one last, behind valid ones: each is checked once, however often it comes.
    txs = tuple(make_tx(signer(5), nonce=nonce, chain_id=CHAIN) for nonce in range(30))
    bad_last = _pre_prepare_frame(homes, 0, (*txs, *_bad_txs(1, first_nonce=500)), height=2)
    for _ in range(3):
        await node._take_in(0, bad_last)
    assert node.signatures.checks == 1 + 31
    assert node.dropped == {"bad_client_signature": 5}
    assert node.shards[0].events_receive.statistics().current_buffer_used == 0


async def test_a_large_valid_proposal_is_decoded_and_checked_off_the_event_loop(
        homes: list[Path], tmp_path: Path) -> None:
    """While a full block's decode and 2,000 signature checks run, other tasks (the tick
    loop, the other peers' intake) keep running; then the proposal reaches the replica."""
    node = _node(homes, 1, tmp_path)
    count = node.config.consensus.block_txs_max
    txs = tuple(make_tx(signer(7), nonce=nonce, chain_id=CHAIN) for nonce in range(count))
    frame = _pre_prepare_frame(homes, 0, txs)
    assert len(frame) > node_module.decode_in_thread_bytes_min
    turns = 0
    async with trio.open_nursery() as nursery:

        async def other_task() -> None:
            nonlocal turns
            while True:
                turns += 1
                await trio.sleep(0)

        nursery.start_soon(other_task)
        await trio.sleep(0)
        turns_before = turns
        await node._take_in(0, frame)
        turns_during = turns - turns_before
        nursery.cancel_scope.cancel()
    assert turns_during > 10  # not starved (a blocking decode and check would give ~1)
    assert node.signatures.checks == count and node.dropped == {}
    event = node.shards[0].events_receive.receive_nowait()
    assert isinstance(event, MessageReceived) and isinstance(event.message, PrePrepare)


class _Peers:
    """Stands in for the PeerManager: per-peer inbound queues the test fills."""

    def __init__(self, peers: list[int]) -> None:
        self.queues = InboundQueues(peers, frames_max=64, bytes_max=64 * 2**20)

    async def receive_from(self, peer: int) -> bytes:
        return await self.queues.receive_from(peer)


async def test_a_peer_flooding_proposals_does_not_hold_up_another_peers_messages(
        homes: list[Path], tmp_path: Path) -> None:
    node = _node(homes, 1, tmp_path)
    peers = _Peers([0, 2, 3])
    node.peer_manager = peers
    # Peer 0 (the primary) queues four proposals of fresh txs: 4,000 checks.
    count, batches = 1000, 4
    for batch in range(batches):
        txs = tuple(make_tx(signer(10 + batch), nonce=nonce, chain_id=CHAIN)
                    for nonce in range(count))
        await peers.queues.put(0, _pre_prepare_frame(homes, 0, txs, height=batch + 1))
    prepare = sign_message(PrePrepare(CHAIN, 0, 0, 1, 2, b"\1" * 32, Block(
        BlockHeader(CHAIN, 0, 1, b"\0" * 32, 0, 0, 0, tx_root(()), 0, b"\0" * 32, b"\0" * 32),
        ()), b""), _validator(homes, 2))  # not the primary: dropped at once
    await peers.queues.put(2, encode_wire(WireKind.CONSENSUS, encode_message(prepare)))
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(node._network_loop)
            while node.dropped.get("not_primary", 0) == 0:
                await trio.sleep(0.001)
            checks_when_peer_2_was_served = node.signatures.checks
            while node.signatures.checks < batches * count:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert checks_when_peer_2_was_served < batches * count
