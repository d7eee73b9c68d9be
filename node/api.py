"""``LocalNodeApi``: the RPC layer's view of a running :class:`node.node.Node`.

Reads go straight to the block store (LevelDB point lookups, microseconds); admission goes
through the mempool and the node's tx gossip; waits are trio events set by the executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from consensus import codec
from consensus.types import Block, CommitCertificate, Transaction
from ledger.types import decode_receipt
from node.mempool import MempoolInfo
from ledger.native import balance_of
from node.rpc import BlockInfo, ReceiptInfo, TxInfo, invalid_params
from ledger.sharding import shard_of_account

if TYPE_CHECKING:
    from node.node import FinalizedBlock, Node

Json = Any
block_wait_seconds_max = 60.0


class LocalNodeApi:
    def __init__(self, node: Node) -> None:
        self.node = node

    def _check_shard(self, shard: int) -> None:
        if not 0 <= shard < self.node.genesis.shard_count:
            raise invalid_params(f"shard {shard} does not exist (the chain has "
                                 f"{self.node.genesis.shard_count})")

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
                "stable_checkpoint": replica.low, "halted": replica.halted,
                "state_root": node.store.state_root(shard).hex(),
                "view_changes": replica.stats.view_changes,
            })
            committed += node.txs_committed[shard]
        return {
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
        return ReceiptInfo(decode_receipt(raw), location.shard, location.height,
                           location.position)

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
            raise invalid_params("blocks start at height 1 (height 0 is the genesis state)")
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

    async def call(self, contract: bytes, method: str, args: bytes,
                   sender: bytes | None) -> bytes:
        """A read-only ``@view`` call against the contract's shard's committed state."""
        from ledger.contracts import _decode_named_args, query
        from node.rpc import Code, RpcError

        named = _decode_named_args(args)
        if named is None:
            raise invalid_params("args must be the hex of a VM-encoded map of named arguments")
        shard = shard_of_account(contract, self.node.genesis.shard_count)
        height = self.node.store.last_height(shard)
        latest = self._block_info(shard, height)
        time_ms = latest.block.header.timestamp_ms if latest is not None else 0
        result = query(_StateOf(self.node, shard), contract, method, named,
                       sender or b"\x00" * 32, height, time_ms)
        if not result.ok:
            raise RpcError(Code.CALL_FAILED, f"{result.code.name}: {result.message}",
                           reason=result.code.name)
        return bytes(result.return_data)


class _StateOf:
    def __init__(self, node: Node, shard: int) -> None:
        self._node, self._shard = node, shard

    def get(self, key: bytes) -> bytes | None:
        return self._node.store.get_state(self._shard, key)
