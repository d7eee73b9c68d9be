"""Block execution in a real node, off the event loop, and halting on node faults.

Four real :class:`node.node.Node` objects run in one trio loop over real TCP links on
127.0.0.1 (their own LevelDB stores, RPC off). A test swaps one node's native-ledger
handler for one that, on a marked tx, blocks its worker thread on a ``threading.Event``
(a slow block, as long as the test wants, without timing anything) or raises (a node
fault). Everything else is the node's own code path.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from consensus.events import Tick
from consensus.types import Prepare, decode_message
from ledger.types import ContractKind
from node.client import Account
from node.config import load_config
from node.keys import load_seed
from node.node import Node, WireKind, _decode_wire
from node.rpc import RpcError
from node.setup import free_port_block, init_cluster

MARK_NONCE = 777_777
deadline_seconds = 60


def _open_nodes(directory: Path, shards: int) -> list[Node]:
    base = free_port_block(12)
    homes = init_cluster(directory, 4, shards, "exec-test", p2p_port=base,
                         rpc_port=base + 4, metrics_port=base + 8,
                         consensus_overrides={"tick_interval_ms": 20,
                                              "empty_block_interval_ms": 200,
                                              "block_interval_ms": 50})
    return [_open(home) for home in homes]


def _open(home: Path) -> Node:
    config = load_config(home / "config.toml")
    config = dataclasses.replace(
        config, node=dataclasses.replace(config.node, home_dir=str(home)),
        rpc=dataclasses.replace(config.rpc, enabled=False),
        metrics=dataclasses.replace(config.metrics, enabled=False))
    return Node.open(config)


@asynccontextmanager
async def _running(nodes: list[Node]) -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        for node in nodes:
            await nursery.start(node.run)
        yield nursery
        nursery.cancel_scope.cancel()


def _wrap_native(node: Node, shard: int, on_mark: Callable[[], None]) -> None:
    """Make ``node``'s shard run ``on_mark`` in its worker before executing a marked tx."""
    executor = node.executors[shard]
    native = executor.handlers[ContractKind.NATIVE]

    def handler(tx: Any, context: Any, state: Any) -> Any:
        if tx.nonce == MARK_NONCE:
            on_mark()
        return native(tx, context, state)

    handlers = dict(executor.handlers)
    handlers[ContractKind.NATIVE] = handler
    node.executors[shard] = dataclasses.replace(executor, handlers=handlers)


def _marked_tx(directory: Path, node: Node) -> Any:
    from node.client import AgoraClient

    faucet = Account.from_seed(load_seed(directory / "faucet_key.hex"))
    return AgoraClient("http://unused").build_transfer(
        faucet, Account.generate().address, 1, nonce=MARK_NONCE, expiry_height=50,
        chain_id=node.genesis.chain_id)


async def _until(condition: Callable[[], bool], what: str) -> None:
    with trio.fail_after(deadline_seconds):
        while not condition():
            await trio.sleep(0.01)


def _record_prepares(node: Node) -> list[Prepare]:
    sent: list[Prepare] = []
    broadcast = node.peer_manager.broadcast

    def recording(payload: bytes) -> list[int]:
        kind, body = _decode_wire(payload)
        if kind is WireKind.CONSENSUS:
            message = decode_message(body)
            if isinstance(message, Prepare):
                sent.append(message)
        return broadcast(payload)

    node.peer_manager.broadcast = recording
    return sent


@pytest.mark.timeout(120)
def test_a_prepare_for_the_next_height_is_answered_while_a_slow_block_executes(
        tmp_path: Path) -> None:
    nodes = _open_nodes(tmp_path / "net", 1)
    slow = nodes[1]
    entered, release = threading.Event(), threading.Event()

    def block_until_released() -> None:
        entered.set()
        release.wait(deadline_seconds)

    _wrap_native(slow, 0, block_until_released)
    runtime = slow.shards[0]

    async def main() -> None:
        async with _running(nodes):
            prepares = _record_prepares(slow)
            nodes[0].submit(_marked_tx(tmp_path / "net", nodes[0]))
            await _until(entered.is_set, "the slow block to start")
            executing = runtime.executing_height
            assert executing is not None
            # The worker thread is blocked; the replica loop must still answer the next
            # height's PRE-PREPARE with a PREPARE, and the node serves status meanwhile.
            await _until(lambda: any(p.height > executing for p in prepares),
                         "a PREPARE above the executing height")
            assert not release.is_set() and runtime.executing_height == executing
            status = await slow.api().status()
            assert status["shards"][0]["height"] == executing - 1
            release.set()
            await _until(lambda: slow.store.last_height(0) > executing,
                         "the slow node to finalize past the slow block")
            for height in range(1, executing + 2):
                hashes = {node.store.get_block(0, height).block_hash for node in nodes
                          if node.store.last_height(0) >= height}
                assert len(hashes) == 1

    try:
        trio.run(main)
    finally:
        release.set()
        for node in nodes:
            node.store.close()


@pytest.mark.timeout(120)
def test_a_node_fault_halts_only_its_shard_and_a_restart_reports_the_halt(
        tmp_path: Path) -> None:
    nodes = _open_nodes(tmp_path / "net", 2)
    faulty = nodes[1]

    def fault() -> None:
        raise RecursionError("maximum recursion depth exceeded (injected)")

    _wrap_native(faulty, 0, fault)
    tx = _marked_tx(tmp_path / "net", nodes[0])
    assert nodes[0].fees.charges_fees

    async def main() -> None:
        async with _running(nodes):
            nodes[0].submit(tx)
            runtime = faulty.shards[0]
            await _until(lambda: runtime.halted is not None, "shard 0 of node 1 to halt")
            assert tx.hash().hex() in runtime.halted
            assert "RecursionError" in runtime.halted
            halted_at = faulty.store.get_halt(0)
            assert halted_at is not None and halted_at[0] == faulty.store.last_height(0) + 1
            status = await faulty.api().status()
            assert [shard["halted"] for shard in status["shards"]] == [True, False]
            assert "RecursionError" in status["shards"][0]["halted_reason"]
            gauge = faulty.metrics.registry.get_sample_value(
                "agora_shard_halted", {"shard": "0"})
            assert gauge == 1
            # The other shard of the same node keeps finalizing, and so do the healthy
            # nodes' shard 0 (three of four validators are a quorum).
            shard_1 = faulty.store.last_height(1)
            shard_0 = nodes[0].store.last_height(0)
            await _until(lambda: faulty.store.last_height(1) > shard_1 + 2,
                         "shard 1 of the faulty node to move on")
            await _until(lambda: nodes[0].store.last_height(0) > shard_0 + 2,
                         "shard 0 of the healthy nodes to move on")

    try:
        trio.run(main)
    finally:
        for node in nodes:
            node.store.close()
    restarted = _open(tmp_path / "net" / "node1")
    try:
        assert restarted.shards[0].halted is not None
        assert restarted.shards[1].halted is None
        assert restarted.metrics.registry.get_sample_value(
            "agora_shard_halted", {"shard": "0"}) == 1

        async def run_restarted() -> None:
            runtime = restarted.shards[0]
            steps: list[object] = []
            step = runtime.replica.step
            runtime.replica.step = lambda event: steps.append(event) or step(event)
            async with _running([restarted]):
                height = restarted.store.last_height(0)
                for _ in range(5):
                    runtime.events_send.send_nowait(Tick())
                stats = runtime.events_receive.statistics
                await _until(lambda: stats().current_buffer_used == 0
                             and stats().tasks_waiting_receive == 1, "the events to drain")
                assert steps == []  # the halted shard's replica is never stepped
                assert restarted.store.last_height(0) == height
                status = await restarted.api().status()
                assert status["shards"][0]["halted"] is True

        trio.run(run_restarted)
    finally:
        restarted.store.close()


def test_agora_call_answers_busy_and_timeout_with_clear_errors(tmp_path: Path) -> None:
    node = _open_nodes(tmp_path / "net", 1)[0]
    node.config = dataclasses.replace(node.config, rpc=dataclasses.replace(
        node.config.rpc, call_timeout_seconds=0.2, call_concurrent_max=1))
    api = node.api()
    release = threading.Event()

    async def main() -> None:
        node.call_limiter = trio.CapacityLimiter(1)
        with pytest.raises(RpcError) as timeout:
            await api._run_query(lambda: release.wait(deadline_seconds))
        assert timeout.value.data["reason"] == "CALL_TIMEOUT"
        assert "0.2 s" in timeout.value.message
        # The abandoned call holds its slot until its thread ends: the next is "busy".
        with pytest.raises(RpcError) as busy:
            await api._run_query(lambda: 1)
        assert busy.value.data["reason"] == "CALL_BUSY"
        release.set()
        await _until(lambda: node.call_limiter.available_tokens == 1, "the slot to free")
        assert await api._run_query(lambda: 42) == 42

    try:
        trio.run(main)
    finally:
        release.set()
        node.store.close()


def test_a_proposal_over_the_block_gas_limit_is_refused(tmp_path: Path) -> None:
    node = _open_nodes(tmp_path / "net", 1)[0]
    try:
        validate = node._validator_for(0)
        tx = _marked_tx(tmp_path / "net", node)
        node.signatures.check_now(tx)
        limit, per_tx = node.fees.block_gas_limit, node.fees.native_tx_gas
        from consensus.types import Block, BlockHeader, tx_root

        def block(count: int) -> Block:
            txs = (tx,) * count
            header = BlockHeader(node.genesis.chain_id, 0, 1, b"\0" * 32, 0, 0, 0,
                                 tx_root(txs), 0, b"\0" * 32, b"\0" * 32)
            return Block(header, txs)

        assert validate(block(limit // per_tx)) is None
        assert validate(block(limit // per_tx + 1)) == \
            "block asks for more gas than the block gas limit"
    finally:
        node.store.close()
