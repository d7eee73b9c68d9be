"""agora_recentActivity (node/explorer/history.py) over a fake node's blocks and receipts:
roles, newest first over shards, each bound, and a contract's events."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from consensus import codec
from ledger.sharding import shard_of_account
from ledger.types import Receipt, ReceiptEvent, Status
from node.config import ExplorerSection
from node.explorer.history import RecentActivity
from tests.node.txs import make_tx, signer
from vm.state import code_key

shard_count = 2
me = signer(1)
other = signer(2)


class FakeNode:
    """Blocks as (timestamp_ms, txs) per shard and height; receipts derived from them."""

    def __init__(self, chains: dict[int, list[tuple[int, list[Any]]]],
                 code: dict[bytes, bytes] | None = None) -> None:
        self.genesis = SimpleNamespace(shard_count=shard_count)
        self.code = code or {}
        self.blocks = {(shard, height): SimpleNamespace(
            header=SimpleNamespace(timestamp_ms=time_ms), txs=tuple(txs))
            for shard, chain in chains.items() for height, (time_ms, txs) in
            enumerate(chain, 1)}
        self.tops = {shard: len(chain) for shard, chain in chains.items()}
        recent = {shard: {height: SimpleNamespace(block=block)
                          for (s, height), block in self.blocks.items() if s == shard}
                  for shard in chains}
        self.shards = {shard: SimpleNamespace(recent=recent[shard]) for shard in chains}
        self.store = self
        self.receipt_reads = 0

    def last_height(self, shard: int) -> int:
        return self.tops.get(shard, 0)

    def get_state(self, shard: int, key: bytes) -> bytes | None:
        return self.code.get(key)

    def get_block_receipts(self, shard: int, height: int) -> dict[int, bytes]:
        self.receipt_reads += 1
        return {position: Receipt(tx.hash(), Status.OK, 1, "", tuple(
            ReceiptEvent(tx.contract, "Touched", codec.pack((position,)))
            for _ in range(tx.contract != b"")), b"").encoded()
            for position, tx in enumerate(self.blocks[shard, height].txs)}


def _activity(node: FakeNode, **bounds: int) -> RecentActivity:
    return RecentActivity(node, ExplorerSection(**bounds))  # type: ignore[arg-type]


async def test_roles_and_newest_first_over_every_shard() -> None:
    to_me = make_tx(other, args=(me.public_key, 5))
    from_me = make_tx(me, nonce=1)
    unrelated = make_tx(other, nonce=2)
    node = FakeNode({0: [(1_000, [from_me, unrelated]), (3_000, [])],
                     1: [(2_000, [unrelated, to_me])]})
    answer = await _activity(node).handle(me.public_key, None)
    assert [(item["hash"], item["role"], item["shard"], item["height"], item["status_name"])
            for item in answer["txs"]] == [
        (to_me.hash().hex(), "recipient", 1, 1, "OK"),
        (from_me.hash().hex(), "sender", 0, 1, "OK")]
    assert answer["complete"] and answer["events"] == [] and not answer["is_contract"]
    assert answer["scanned"] == [{"shard": 0, "from_height": 1, "to_height": 2},
                                 {"shard": 1, "from_height": 1, "to_height": 1}]
    assert node.receipt_reads == 2  # only blocks with a match: an account has no events


async def test_items_blocks_and_txs_bounds_stop_the_scan_and_say_so() -> None:
    chain0 = [(10 * height, [make_tx(me, nonce=height)]) for height in range(1, 31)]
    chain1 = [(10 * height + 5, [make_tx(me, nonce=100 + height)]) for height in range(1, 31)]
    node = FakeNode({0: chain0, 1: chain1})
    few = await _activity(node, history_items_max=4).handle(me.public_key, None)
    # The four newest of both shards, interleaved by time, though each shard stopped early.
    assert [(item["shard"], item["height"]) for item in few["txs"]] == [
        (1, 30), (0, 30), (1, 29), (0, 29)]
    assert not few["complete"]
    window = await _activity(node, history_blocks_max=5).handle(me.public_key, 99)
    assert window["blocks_per_shard"] == 5 and window["complete"]
    assert [item["from_height"] for item in window["scanned"]] == [26, 26]
    budget = await _activity(node, history_txs_max=3).handle(me.public_key, None)
    assert [item["from_height"] for item in budget["scanned"]] == [28, 31]  # shard 1: none
    assert len(budget["txs"]) == 3 and not budget["complete"]


async def test_a_contract_gets_its_calls_and_its_events_from_its_own_shard() -> None:
    contract = next(bytes([n]) * 32 for n in range(1, 256)  # 0: make_tx's recipient
                    if shard_of_account(bytes([n]) * 32, shard_count) == 1)
    call = make_tx(me, contract=contract, method="poke")
    node = FakeNode({0: [(1, [make_tx(other)])], 1: [(2, [make_tx(other), call])]},
                    code={code_key(contract): b"source"})
    answer = await _activity(node).handle(contract, None)
    assert answer["is_contract"] and answer["shard"] == 1
    assert [item["role"] for item in answer["txs"]] == ["contract"]
    assert [(event["name"], event["position"], event["tx_hash"])
            for event in answer["events"]] == [("Touched", 1, call.hash().hex())]


async def test_blocks_must_be_at_least_one() -> None:
    from node.rpc import RpcError

    with pytest.raises(RpcError, match="positive integer"):
        await _activity(FakeNode({0: []})).handle(me.public_key, 0)


def test_the_method_is_described_for_rpc_discover() -> None:
    from node.openrpc import openrpc_document

    method = _activity(FakeNode({0: []})).method()
    (entry,) = openrpc_document({"agora_recentActivity": method})["methods"]
    assert [param["name"] for param in entry["params"]] == ["address", "blocks"]
    assert entry["summary"] and entry["params"][1]["required"] is False
