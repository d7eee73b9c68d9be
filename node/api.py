"""``LocalNodeApi``: the RPC layer's view of a running :class:`node.node.Node`.

Reads go straight to the block store (LevelDB point lookups, microseconds); admission goes
through the mempool and the node's tx gossip; waits are trio events set by the executor.
Event pages (``read_events``: an index scan plus the receipts it points at) and
simulations (``simulate_tx``: the block executor over the latest state, thrown away) run
in worker threads under limiters; both functions are shared with the test double in
tests/node/fake_node.py, so the RPC tests exercise this code.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from consensus import codec
from consensus.types import Block, BlockHeader, CommitCertificate, Transaction, tx_root
from ledger.executor import build_executor
from ledger.native import balance_of
from ledger.sharding import home_shard, shard_of_account
from ledger.types import GenesisLike, Receipt, StateView, decode_receipt
from node.mempool import MempoolInfo
from node.rpc import (
    BlockInfo,
    EventInfo,
    EventQuery,
    EventsPage,
    ReceiptInfo,
    SimulationInfo,
    TxInfo,
    invalid_params,
)
from node.txjson import unsigned_signature
from storage.chain import ChainReader
from vm import gas as vm_gas

if TYPE_CHECKING:
    from node.node import FinalizedBlock, Node

Json = Any
block_wait_seconds_max = 60.0
# Event reads (index scan + receipt decoding, up to rpc.events_scan_max entries) run in
# worker threads, at most this many at once, so a big page never stalls the event loop.
event_read_threads_max = 2


def read_events(store: ChainReader, query: EventQuery, after: tuple[int, int, int] | None,
                limit: int, scan_max: int) -> EventsPage:
    """A page of finalized events with their data, from the store's event index (each
    block's receipts are read and decoded once per page)."""
    page = store.scan_events(query.shard, contract=query.contract, name=query.name,
                             from_height=query.from_height, to_height=query.to_height,
                             after=after, limit=limit, scan_max=scan_max)
    receipts: dict[int, dict[int, bytes]] = {}
    events = []
    for item in page.events:
        if item.height not in receipts:
            receipts[item.height] = store.get_block_receipts(query.shard, item.height)
        receipt = decode_receipt(receipts[item.height][item.tx_position])
        events.append(EventInfo(item.shard, item.height, item.tx_position,
                                item.event_position, receipt.tx_hash,
                                receipt.events[item.event_position]))
    to_height = min(query.to_height, store.last_height(query.shard))
    return EventsPage(tuple(events), page.resume_after, to_height)


def simulate_tx(genesis: GenesisLike, state: Callable[[int], StateView],
                latest: Callable[[int], Block | None], is_committed: Callable[[Transaction], bool],
                tx: Transaction, gas_max: int) -> SimulationInfo:
    """Execute ``tx`` as the only tx of a block on top of the latest state of its home
    shard, through the block executor, and throw the result away.

    An unsigned tx (64 zero bytes of signature) skips the signature check, and when its
    ``gas_limit`` is 0 (or above ``gas_max``) runs with ``gas_max``; when its
    ``expiry_height`` is 0 it gets the simulated height. A signed tx runs as it is (its
    signature is checked), with its gas limit capped at ``gas_max``."""
    shard = home_shard(tx, genesis.shard_count)
    previous = latest(shard)
    height = 1 if previous is None else previous.header.height + 1
    cap = min(gas_max, vm_gas.gas_limit_tx_max)
    signed = tx.signature != unsigned_signature
    verified = False
    if not signed:
        gas_limit = cap if tx.gas_limit == 0 or tx.gas_limit > cap else tx.gas_limit
        tx = dataclasses.replace(tx, gas_limit=gas_limit,
                                 expiry_height=tx.expiry_height or height)
        verified = True
    elif tx.gas_limit > cap:
        verified = tx.has_valid_signature()
        tx = dataclasses.replace(tx, gas_limit=cap)
    executor = build_executor(genesis, shard, is_committed=is_committed,
                              is_verified=lambda tx_hash: verified)
    header = BlockHeader(genesis.chain_id, shard, height,
                         b"\x00" * 32 if previous is None else previous.hash(), 0, 0,
                         0 if previous is None else previous.header.timestamp_ms,
                         tx_root((tx,)), 0, b"\x00" * 32, b"\x00" * 32)
    result = executor.execute_block(Block(header, (tx,)), state(shard))
    receipt: Receipt = result.receipts[0]
    return SimulationInfo(receipt, shard, height, tx.gas_limit, signed)


class LocalNodeApi:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._event_reads = trio.CapacityLimiter(event_read_threads_max)
        self._simulations: trio.CapacityLimiter | None = None  # made on first use

    async def shard_count(self) -> int:
        return self.node.genesis.shard_count

    async def get_events(self, query: EventQuery, after: tuple[int, int, int] | None,
                         limit: int, scan_max: int) -> EventsPage:
        self._check_shard(query.shard)
        return await trio.to_thread.run_sync(read_events, self.node.store, query, after,
                                             limit, scan_max, limiter=self._event_reads)

    async def simulate(self, tx: Transaction, gas_max: int) -> SimulationInfo:
        """Off the event loop, at most ``rpc.simulations_concurrent_max`` at once; the gas
        cap bounds how long one runs."""
        node = self.node
        if self._simulations is None:
            self._simulations = trio.CapacityLimiter(node.config.rpc.simulations_concurrent_max)

        def latest(shard: int) -> Block | None:
            info = self._block_info(shard, node.store.last_height(shard))
            return None if info is None else info.block

        return await trio.to_thread.run_sync(
            simulate_tx, node.genesis, lambda shard: _StateOf(node, shard), latest,
            node.is_committed, tx, gas_max, limiter=self._simulations)

    def _check_shard(self, shard: int) -> None:
        if not 0 <= shard < self.node.genesis.shard_count:
            raise invalid_params(f"shard {shard} does not exist (the chain has "
                                 f"{self.node.genesis.shard_count})", "shard")

    async def status(self) -> dict[str, Json]:
        node = self.node
        shards = []
        committed = 0
        for shard, runtime in sorted(node.shards.items()):
            replica = runtime.replica
            shards.append({
                "shard": shard, "height": node.store.last_height(shard),
                "view": replica.view, "in_view_change": replica.in_view_change,
                "primary": replica.primary(replica.view),
                "stable_checkpoint": replica.low,
                "halted": replica.halted is not None or runtime.halted is not None,
                "halted_reason": runtime.halted or replica.halted,
                "state_root": node.store.state_root(shard).hex(),
                "view_changes": replica.stats.view_changes,
            })
            committed += node.txs_committed[shard]
        from node.version import commit, version

        return {
            "version": version(), "commit": commit(),
            "chain_id": node.genesis.chain_id, "shard_count": node.genesis.shard_count,
            "node_index": node.index,
            "public_key": node.signer.public_key.hex(), "shards": shards,
            "peers": node.peer_manager.connected_peers() if node.peer_manager else [],
            "txs_committed": committed, "mempool_txs": node.mempool.info().size_txs,
            "tx_signature_checks": node.signature_checks,
            "peer_refusals": node.peer_refusals(),
            "peer_messages_dropped": dict(sorted(node.dropped.items())),
            "uptime_seconds": round(trio.current_time() - node.started_trio, 3),
        }

    async def submit_tx(self, tx: Transaction) -> bytes:
        return self.node.submit(tx)

    async def wait_receipt(self, tx_hash: bytes, timeout_seconds: float
                           ) -> ReceiptInfo | None:
        await self.node.wait_receipt(tx_hash, timeout_seconds)
        return await self.get_receipt(tx_hash)

    async def get_tx(self, tx_hash: bytes) -> TxInfo | None:
        location = self.node.store.get_tx_location(tx_hash)
        if location is None:
            return None
        info = self._block_info(location.shard, location.height)
        assert info is not None
        return TxInfo(info.block.txs[location.position], location.shard, location.height,
                      location.position)

    async def get_receipt(self, tx_hash: bytes) -> ReceiptInfo | None:
        raw = self.node.store.get_receipt(tx_hash)
        location = self.node.store.get_tx_location(tx_hash)
        if raw is None or location is None:
            return None
        receipt = decode_receipt(raw)
        return ReceiptInfo(receipt, location.shard, location.height, location.position,
                           fee=receipt.gas_used * self.node.fees.gas_price)

    def _recent(self, shard: int, height: int) -> FinalizedBlock | None:
        runtime = self.node.shards.get(shard)
        if runtime is None or runtime.recent is None:
            return None
        return runtime.recent.get(height)

    def _block_info(self, shard: int, height: int) -> BlockInfo | None:
        if height <= 0:
            return None  # height 0 is the genesis state, not a block
        recent = self._recent(shard, height)
        if recent is not None:
            return BlockInfo(recent.block, recent.certificate, recent.roots)
        stored = self.node.store.get_block(shard, height)
        if stored is None:
            return None
        return BlockInfo(codec.decode_struct(Block, stored.block_bytes),
                         codec.decode_struct(CommitCertificate, stored.certificate_bytes),
                         self.node.store.get_roots(shard, height))

    async def get_block(self, shard: int, height: int) -> BlockInfo | None:
        self._check_shard(shard)
        return self._block_info(shard, height)

    async def get_block_by_hash(self, block_hash: bytes) -> BlockInfo | None:
        location = self.node.store.get_block_location(block_hash)
        if location is None:
            return None
        return self._block_info(location.shard, location.height)

    async def latest_block(self, shard: int) -> BlockInfo | None:
        self._check_shard(shard)
        return self._block_info(shard, self.node.store.last_height(shard))

    async def wait_block(self, shard: int, height: int) -> BlockInfo:
        self._check_shard(shard)
        if height < 1:
            raise invalid_params("blocks start at height 1 (height 0 is the genesis state)",
                                 "height")
        with trio.fail_after(block_wait_seconds_max):
            while self.node.store.last_height(shard) < height:
                await self.node.block_finalized.wait()
        info = self._block_info(shard, height)
        assert info is not None
        return info

    async def get_account(self, address: bytes) -> dict[str, Json]:
        shard = shard_of_account(address, self.node.genesis.shard_count)
        state = _StateOf(self.node, shard)
        return {"address": address.hex(), "shard": shard, "balance": balance_of(state, address)}

    async def get_state(self, shard: int, key: bytes) -> bytes | None:
        self._check_shard(shard)
        return self.node.store.get_state(shard, key)

    async def validators(self) -> list[dict[str, Json]]:
        return [{"index": index, "name": validator.name,
                 "public_key": validator.public_key.hex(),
                 "p2p_address": validator.p2p_address, "rpc_address": validator.rpc_address}
                for index, validator in enumerate(self.node.genesis.validators)]

    async def peers(self) -> list[dict[str, Json]]:
        manager = self.node.peer_manager
        links = manager.links() if manager is not None else {}
        return [{"index": index, "name": self.node.genesis.validators[index].name,
                 "direction": direction.value} for index, direction in sorted(links.items())]

    async def mempool_info(self) -> MempoolInfo:
        return self.node.mempool.info()

    async def readiness(self) -> tuple[bool, dict[str, Json]]:
        return self.node.readiness()

    async def call(self, contract: bytes, method: str, args: bytes,
                   sender: bytes | None) -> bytes:
        """A read-only ``@view`` call against the contract's shard's committed state."""
        from ledger.contracts import _decode_named_args, query
        from node.rpc import Code, RpcError

        named = _decode_named_args(args)
        if named is None:
            raise invalid_params("args must be the hex of a VM-encoded map of named arguments",
                                 "args")
        shard = shard_of_account(contract, self.node.genesis.shard_count)
        height = self.node.store.last_height(shard)
        latest = self._block_info(shard, height)
        time_ms = latest.block.header.timestamp_ms if latest is not None else 0
        result = await self._run_query(functools.partial(
            query, _StateOf(self.node, shard), contract, method, named,
            sender or b"\x00" * 32, height, time_ms))
        if not result.ok:
            raise RpcError(Code.CALL_FAILED, f"{result.code.name}: {result.message}",
                           reason=result.code.name)
        return bytes(result.return_data)

    async def _run_query(self, run: Callable[[], Any]) -> Any:
        """Run a query in a worker thread within ``[rpc]`` call_timeout_seconds, at most
        call_concurrent_max at once (node/node.py, "Execution off the event loop")."""
        from node.rpc import Code, RpcError

        rpc = self.node.config.rpc
        limiter = self.node.call_limiter
        if limiter.available_tokens < 1:
            raise RpcError(Code.CALL_FAILED, f"node busy: {rpc.call_concurrent_max} "
                           "agora_call already running; retry later", reason="CALL_BUSY")
        with trio.move_on_after(rpc.call_timeout_seconds):
            return await trio.to_thread.run_sync(run, limiter=limiter, abandon_on_cancel=True)
        raise RpcError(Code.CALL_FAILED, f"agora_call did not finish within "
                       f"{rpc.call_timeout_seconds} s (the node's call deadline)",
                       reason="CALL_TIMEOUT")


class _StateOf:
    def __init__(self, node: Node, shard: int) -> None:
        self._node, self._shard = node, shard

    def get(self, key: bytes) -> bytes | None:
        return self._node.store.get_state(self._shard, key)
