"""``agora_recentActivity``: an account's or contract's recent transactions and events.

No RPC method gave "the recent transactions of an account": the store indexes txs by hash
only, and an index by account would add writes per tx on the hot path (bench/RESULTS.md).
This method scans instead, newest first, and is bounded three ways by ``[explorer]`` in the
config: at most ``history_blocks_max`` heights back from each shard's tip, at most
``history_txs_max`` txs examined in all, at most ``history_items_max`` txs and events
returned. The answer says which heights it scanned and whether it stopped early
(``complete``), so a client never mistakes "not in the window" for "never happened".

What matches ``address``:

* a tx whose sender is the address (role ``sender``), whose contract is the address
  (``contract``: a call or the deploy), or a native transfer or mint to it (``recipient``);
* an event emitted by the address, when it holds contract code (only its own shard is
  scanned for those: a contract's instance lives in the shard of its address).

Read-only and node-local (it reads this node's finalized blocks); nothing here is hashed,
signed or stored. It yields to the trio loop after every block so that a long scan never
holds up consensus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from consensus import codec
from consensus.errors import DecodeError
from consensus.types import Block
from ledger.sharding import shard_of_account
from ledger.types import Receipt, Status, decode_receipt
from node.config import ExplorerSection
from node.rpc import Method, Param, invalid_params, p_digest, p_optional_height
from vm.state import code_key

if TYPE_CHECKING:
    from node.node import Node

Json = Any
native_args_bytes_max = 1024  # a native call's args are [to, amount]


@dataclass(frozen=True, slots=True)
class _Match:
    shard: int
    height: int
    position: int
    timestamp_ms: int
    role: str


@dataclass(slots=True)
class _Scan:
    """One request's scan: the address looked for, what was found, the txs it may still
    examine (``history_txs_max`` over all shards)."""

    address: bytes
    txs_left: int
    txs: list[dict[str, Json]] = field(default_factory=list)
    events: list[dict[str, Json]] = field(default_factory=list)


def _native_recipient(args: bytes) -> bytes | None:
    try:
        value = codec.unpack(args, native_args_bytes_max)
    except DecodeError:
        return None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bytes):
        return value[0]
    return None


def _role(tx: Any, address: bytes) -> str | None:
    if tx.sender == address:
        return "sender"
    if tx.contract == address:
        return "contract"
    if tx.contract == b"" and _native_recipient(tx.args) == address:
        return "recipient"
    return None


def _status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        return f"STATUS_{status}"


class RecentActivity:
    """The scan behind ``agora_recentActivity``, over a running node's finalized blocks."""

    def __init__(self, node: Node, config: ExplorerSection) -> None:
        self.node = node
        self.config = config

    def method(self) -> Method:
        return Method(self.handle, (
            Param("address", p_digest, description="an account or contract address"),
            Param("blocks", p_optional_height, None, description="heights to scan back "
                  "from each shard's tip (at least 1; capped by explorer.history_blocks_max)")),
            summary="An address's recent txs and a contract's recent events (bounded scan)",
            result="Object")

    async def handle(self, address: bytes, blocks: int | None) -> Json:
        if blocks is not None and blocks < 1:
            raise invalid_params("blocks must be a positive integer (capped by the node's "
                                 "explorer.history_blocks_max)")
        blocks_max = self.config.history_blocks_max
        window = blocks_max if blocks is None else min(blocks, blocks_max)
        shard_count = self.node.genesis.shard_count
        home = shard_of_account(address, shard_count)
        is_contract = self.node.store.get_state(home, code_key(address)) is not None
        scan = _Scan(address, self.config.history_txs_max)
        scanned = []
        complete = True
        for shard in range(shard_count):
            top = self.node.store.last_height(shard)
            low, finished = await self._scan_shard(scan, shard, top, window,
                                                   is_contract and shard == home)
            scanned.append({"shard": shard, "from_height": low, "to_height": top})
            complete = complete and finished
        items_max = self.config.history_items_max
        return {"address": address.hex(), "shard": home, "is_contract": is_contract,
                "blocks_per_shard": window, "scanned": scanned,
                "complete": complete and len(scan.txs) <= items_max
                and len(scan.events) <= items_max,
                "txs": sorted(scan.txs, key=_newest_first)[:items_max],
                "events": sorted(scan.events, key=_newest_first)[:items_max]}

    async def _scan_shard(self, scan: _Scan, shard: int, top: int, window: int,
                          with_events: bool) -> tuple[int, bool]:
        """Scan heights top, top-1, ... within the window; returns (lowest height scanned,
        whether the window was scanned in full). A shard stops once it has found
        ``history_items_max`` items of each kind it looks for: the newest items of all
        shards are among the newest of each, so the merged answer is still newest first."""
        items_max = self.config.history_items_max
        txs_before, events_before = len(scan.txs), len(scan.events)
        low = top + 1
        for height in range(top, max(0, top - window), -1):
            enough = (len(scan.txs) - txs_before >= items_max and
                      (not with_events or len(scan.events) - events_before >= items_max))
            if scan.txs_left <= 0 or enough:
                return low, False
            block = self._block(shard, height)
            scan.txs_left -= len(block.txs)
            low = height
            self._match_block(scan, shard, height, block, with_events)
            await trio.lowlevel.checkpoint()
        return low, True

    def _match_block(self, scan: _Scan, shard: int, height: int, block: Block,
                     with_events: bool) -> None:
        time_ms = block.header.timestamp_ms
        matches = [_Match(shard, height, position, time_ms, role)
                   for position, tx in enumerate(block.txs)
                   if (role := _role(tx, scan.address)) is not None]
        if not matches and not (with_events and block.txs):
            return
        receipts = {position: decode_receipt(raw) for position, raw in
                    self.node.store.get_block_receipts(shard, height).items()}
        for match in matches:
            receipt = receipts.get(match.position)
            scan.txs.append(_tx_item(block.txs[match.position], match, receipt))
        if with_events:
            for position, receipt in sorted(receipts.items()):
                for index, event in enumerate(receipt.events):
                    if event.contract == scan.address:
                        scan.events.append({
                            "tx_hash": receipt.tx_hash.hex(), "shard": shard,
                            "height": height, "position": position, "index": index,
                            "timestamp_ms": time_ms, "contract": event.contract.hex(),
                            "name": event.name, "data": event.data.hex()})

    def _block(self, shard: int, height: int) -> Block:
        runtime = self.node.shards.get(shard)
        recent = runtime.recent.get(height) if runtime is not None and runtime.recent else None
        if recent is not None:
            return recent.block
        stored = self.node.store.get_block(shard, height)
        assert stored is not None, f"shard {shard} height {height} is below the tip"
        return codec.decode_struct(Block, stored.block_bytes)


def _tx_item(tx: Any, match: _Match, receipt: Receipt | None) -> dict[str, Json]:
    return {"hash": tx.hash().hex(), "shard": match.shard, "height": match.height,
            "position": match.position, "timestamp_ms": match.timestamp_ms,
            "role": match.role, "sender": tx.sender.hex(), "contract": tx.contract.hex(),
            "method": tx.method,
            "status": None if receipt is None else receipt.status,
            "status_name": None if receipt is None else _status_name(receipt.status)}


def _newest_first(item: dict[str, Json]) -> tuple[int, int, int, int]:
    return (-item["timestamp_ms"], item["shard"], -item["height"], -item["position"])
