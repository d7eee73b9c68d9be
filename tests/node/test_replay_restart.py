"""The replay rule does not depend on a node's history (issue #12 point 4).

Before: the replay check answered from a per-shard memory index when it covered the tx and
from the node-wide store otherwise, and the executor indexed WRONG_SHARD receipts as
committed. Two real nodes executing the same blocks, one of them restarted once, gave for
the same tx receipt OK and balance 5 on one, WRONG_SHARD and 0 on the other, and
different state roots (the shard halts). Here: two real Nodes (``Node.open`` on an
``agora init`` home, real LevelDB, the real ``_executor_loop``); node B is closed and
opened again between blocks; a faulty primary of the other shard includes the tx first,
then its home shard's primary does, then it is replayed there. Both nodes must give the
same receipts, balances and state roots at every height.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trio

from consensus import codec
from consensus.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommittedBlock,
    Transaction,
    tx_root,
)
from ledger.sharding import home_shard, shard_of_account
from ledger.types import Status, decode_receipt
from node.client import Account
from node.config import load_config
from node.node import Node
from node.setup import free_port_block, init_cluster

chain = "replay-chain"


def _open(home: Path) -> Node:
    config = load_config(home / "config.toml")
    config = dataclasses.replace(config, node=dataclasses.replace(config.node,
                                                                  home_dir=str(home)))
    return Node.open(config)


def _block(node: Node, shard: int, txs: tuple[Transaction, ...]) -> CommittedBlock:
    height = node.store.last_height(shard) + 1
    header = BlockHeader(chain, shard, height, bytes(32), 0, 0, 1000 + height, tx_root(txs),
                         0, bytes(32), bytes(32))
    block = Block(header, txs)
    return CommittedBlock(block, CommitCertificate(chain, shard, 0, height, block.hash(), ()))


def _execute(node: Node, shard: int, txs: tuple[Transaction, ...]) -> None:
    """Run one block through the node's real executor loop until it is finalized."""
    item = _block(node, shard, txs)
    runtime = node.shards[shard]

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(node._executor_loop, runtime)
            await runtime.execute_send.send(item)
            with trio.fail_after(30):
                while node.store.last_height(shard) < item.block.header.height:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_the_same_blocks_give_the_same_receipts_and_roots_on_a_restarted_node(
        tmp_path: Path) -> None:
    base = free_port_block(12)
    homes = init_cluster(tmp_path / "net", 4, 2, chain, p2p_port=base, rpc_port=base + 4,
                         metrics_port=base + 8)
    faucet = Account.load(tmp_path / "net" / "faucet_key.hex")
    home = shard_of_account(faucet.address, 2)
    other = 1 - home
    recipient = next(address for address in (bytes([i]) * 32 for i in range(256))
                     if shard_of_account(address, 2) == home)
    tx = faucet.sign(Transaction(chain, faucet.address, 7, 900, 0, b"", "transfer",
                                 codec.pack((recipient, 5)), b""))
    assert home_shard(tx, 2) == home
    nodes = {"A": _open(homes[0]), "B": _open(homes[1])}
    try:
        for node in nodes.values():
            for _ in range(5):
                _execute(node, home, ())
        nodes["B"].store.close()  # a routine restart: nothing else changes
        nodes["B"] = _open(homes[1])
        receipts: dict[str, list[int]] = {"A": [], "B": []}
        for name, node in nodes.items():
            # A faulty primary of the other shard includes the tx: WRONG_SHARD there,
            # which commits nothing anywhere.
            _execute(node, other, (tx,))
            # The home shard's primary proposes it (the client resubmitted it): it runs.
            _execute(node, home, (tx,))
            # A replay of it on the home shard, inside its window: refused.
            _execute(node, home, (tx,))
            receipts[name].append(decode_receipt(node.store.get_receipt(tx.hash())).status)
        for height in (6, 7):
            assert nodes["A"].store.get_roots(home, height) == \
                nodes["B"].store.get_roots(home, height), height
        assert nodes["A"].store.get_roots(other, 1) == nodes["B"].store.get_roots(other, 1)
        assert receipts == {"A": [Status.OK], "B": [Status.OK]}
        for node in nodes.values():
            balance = node.store.get_state(home, b"bal/" + recipient)
            assert int.from_bytes(balance or b"", "big") == 5
            location = node.store.get_tx_location(tx.hash())
            assert location is not None and (location.shard, location.height) == (home, 6)
    finally:
        for node in nodes.values():
            node.store.close()
