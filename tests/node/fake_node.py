"""A small in-memory node behind ``NodeApi`` for the RPC and client tests.

It uses the real mempool and executor; blocks are produced on demand (``produce_block``)
or by ``run_producer`` whenever a tx arrives, with no consensus and no disk. Every block is
also finalized into a real ``ChainStore`` over a memory KV store, so event reads and
simulation go through the same code as the node's (``node/api.py``).
"""

from __future__ import annotations

import trio

from consensus.types import Block, BlockHeader, Transaction, tx_root
from node.config import MempoolSection
from ledger.executor import Executor, build_executor, genesis_state_writes
from node.genesis import Genesis
from node.mempool import Mempool, MempoolInfo
from ledger.native import balance_of
from node.api import read_events, simulate_tx
from node.rpc import (
    BlockInfo,
    EventQuery,
    EventsPage,
    Json,
    ReceiptInfo,
    SimulationInfo,
    TxInfo,
    call_not_available,
    invalid_params,
)
from ledger.sharding import shard_of_account
from storage.chain import ChainStore
from storage.memory import MemoryStore
from storage.state_root import next_state_root


class DictView:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: tuple[tuple[bytes, bytes | None], ...]) -> None:
        for key, value in writes:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


class FakeNode:
    def __init__(self, genesis: Genesis, mempool_config: MempoolSection | None = None) -> None:
        self.genesis = genesis
        self.txs: dict[bytes, TxInfo] = {}
        self.receipts: dict[bytes, ReceiptInfo] = {}
        self.mempool = Mempool(genesis.chain_id, genesis.shard_count,
                               mempool_config or MempoolSection(),
                               is_committed=self._is_committed)
        self.executors: list[Executor] = [
            build_executor(genesis, shard, is_committed=self._is_committed,
                           is_verified=self.mempool.is_verified)
            for shard in range(genesis.shard_count)]
        self.states = [DictView() for _ in range(genesis.shard_count)]
        self.blocks: list[list[BlockInfo]] = []
        self.store = ChainStore(MemoryStore(), genesis.chain_id)
        for shard in range(genesis.shard_count):
            writes = genesis_state_writes(genesis, shard)
            self.states[shard].apply(writes)
            self.blocks.append([BlockInfo(self._block(shard, 0, ()), None)])
            self.store.finalize_block(shard, 0, self.blocks[shard][0].block.hash(), b"", b"",
                                      [], [], writes, next_state_root(
                                          self.store.state_root(shard), 0, writes))
        self._changed = trio.Event()
        self._submitted = trio.Event()

    def _is_committed(self, tx: Transaction) -> bool:
        return tx.hash() in self.receipts

    def _block(self, shard: int, height: int, txs: tuple[Transaction, ...]) -> Block:
        prev = self.blocks[shard][-1].block.hash() if height else b"\x00" * 32
        header = BlockHeader(self.genesis.chain_id, shard, height, prev, 0, 0, 1000 * height,
                             tx_root(txs), 0, b"\x00" * 32, b"\x00" * 32)
        return Block(header, txs)

    # -- block production -----------------------------------------------------------

    def produce_block(self, shard: int) -> BlockInfo:
        txs = tuple(self.mempool.take_batch(shard, 100, 1 << 20))
        height = len(self.blocks[shard])
        block = self._block(shard, height, txs)
        result = self.executors[shard].execute_block(block, self.states[shard])
        self.states[shard].apply(result.state_writes)
        self.store.finalize_block(
            shard, height, block.hash(), b"block", b"certificate", result.txs_to_index,
            result.receipts_to_store, result.state_writes,
            next_state_root(self.store.state_root(shard), height, result.state_writes),
            events=result.events_to_index)
        for position, (tx, receipt) in enumerate(zip(txs, result.receipts)):
            self.txs[receipt.tx_hash] = TxInfo(tx, shard, height, position)
            self.receipts[receipt.tx_hash] = ReceiptInfo(receipt, shard, height, position)
        info = BlockInfo(block, None)
        self.blocks[shard].append(info)
        self.mempool.remove_committed(tx.hash() for tx in txs)
        self.mempool.set_shard_height(shard, height)
        self._changed.set()
        self._changed = trio.Event()
        return info

    async def run_producer(self) -> None:
        """Commit every submitted tx promptly (one block per shard with pending txs)."""
        while True:
            await self._submitted.wait()
            self._submitted = trio.Event()
            for shard in range(self.genesis.shard_count):
                if self.mempool.pending_txs(shard):
                    self.produce_block(shard)
            await trio.lowlevel.checkpoint()

    def _check_shard(self, shard: int) -> None:
        if shard >= self.genesis.shard_count:
            raise invalid_params(f"shard {shard} does not exist "
                                 f"(shard count {self.genesis.shard_count})", "shard")

    # -- NodeApi ----------------------------------------------------------------------

    async def status(self) -> dict[str, Json]:
        return {"chain_id": self.genesis.chain_id, "shard_count": self.genesis.shard_count,
                "shards": [{"shard": shard, "height": len(blocks) - 1}
                           for shard, blocks in enumerate(self.blocks)]}

    async def submit_tx(self, tx: Transaction) -> bytes:
        tx_hash = self.mempool.add(tx)
        self._submitted.set()
        return tx_hash

    async def wait_receipt(self, tx_hash: bytes, timeout_seconds: float) -> ReceiptInfo | None:
        with trio.move_on_after(timeout_seconds):
            while tx_hash not in self.receipts:
                await self._changed.wait()
        return self.receipts.get(tx_hash)

    async def get_tx(self, tx_hash: bytes) -> TxInfo | None:
        return self.txs.get(tx_hash)

    async def get_receipt(self, tx_hash: bytes) -> ReceiptInfo | None:
        return self.receipts.get(tx_hash)

    async def get_block(self, shard: int, height: int) -> BlockInfo | None:
        self._check_shard(shard)
        blocks = self.blocks[shard]
        return blocks[height] if height < len(blocks) else None

    async def get_block_by_hash(self, block_hash: bytes) -> BlockInfo | None:
        for blocks in self.blocks:
            for info in blocks:
                if info.block.hash() == block_hash:
                    return info
        return None

    async def latest_block(self, shard: int) -> BlockInfo | None:
        self._check_shard(shard)
        return self.blocks[shard][-1]

    async def wait_block(self, shard: int, height: int) -> BlockInfo:
        self._check_shard(shard)
        while len(self.blocks[shard]) <= height:
            await self._changed.wait()
        return self.blocks[shard][height]

    async def get_account(self, address: bytes) -> dict[str, Json]:
        shard = shard_of_account(address, self.genesis.shard_count)
        return {"address": address.hex(), "shard": shard,
                "balance": balance_of(self.states[shard], address)}

    async def get_state(self, shard: int, key: bytes) -> bytes | None:
        self._check_shard(shard)
        return self.states[shard].get(key)

    async def validators(self) -> list[dict[str, Json]]:
        return [{"index": index, "name": item.name, "public_key": item.public_key.hex()}
                for index, item in enumerate(self.genesis.validators)]

    async def peers(self) -> list[dict[str, Json]]:
        return []

    async def mempool_info(self) -> MempoolInfo:
        return self.mempool.info()

    async def readiness(self) -> tuple[bool, dict[str, Json]]:
        return True, {"ready": True, "failing": [], "checks": []}

    async def call(self, contract: bytes, method: str, args: bytes,
                   sender: bytes | None) -> bytes:
        raise call_not_available()

    async def shard_count(self) -> int:
        return self.genesis.shard_count

    async def get_events(self, query: EventQuery, after: tuple[int, int, int] | None,
                         limit: int, scan_max: int) -> EventsPage:
        self._check_shard(query.shard)
        return read_events(self.store, query, after, limit, scan_max)

    async def simulate(self, tx: Transaction, gas_max: int) -> SimulationInfo:
        return simulate_tx(self.genesis, lambda shard: self.states[shard],
                           lambda shard: self.blocks[shard][-1].block,
                           self._is_committed, tx, gas_max)
