"""Every send path of the node survives a payload above the frame limit (issue #12 pt 2).

Before: ``Node._carry_out`` handed every message to ``PeerManager.send``/``broadcast``
and did not catch ``PayloadTooLarge``, so one oversize message killed the replica loop
and the node. Now the node counts it under ``oversize_<kind>``, logs it, and goes on.
A real Node on a real LevelDB store and a real (not started) PeerManager.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trio

from consensus.events import Output, Send
from consensus.types import Block, BlockHeader, PrePrepare, Signer, Transaction, tx_root
from network.peer_manager import PeerManager
from node.config import load_config
from node.node import Node
from node.setup import free_port_block, init_cluster


def _node(tmp_path: Path) -> Node:
    base = free_port_block(12)
    homes = init_cluster(tmp_path / "net", 4, 1, "send-chain", p2p_port=base,
                         rpc_port=base + 4, metrics_port=base + 8)
    config = load_config(homes[0] / "config.toml")
    config = dataclasses.replace(config, node=dataclasses.replace(config.node,
                                                                  home_dir=str(homes[0])))
    node = Node.open(config)
    node.peer_manager = PeerManager(
        node.config.network.to_network_config(), node.signer_key(), 0, "send-chain",
        dict(enumerate(node.genesis.validator_keys)), {i: ("127.0.0.1", base + i)
                                                       for i in range(4)})
    return node


def _oversize_pre_prepare(node: Node) -> PrePrepare:
    signer = Signer(bytes(32))
    tx = Transaction("send-chain", signer.public_key, 1, 900, 0, b"", "transfer",
                     bytes(node.config.network.max_frame_bytes + 1), bytes(64))
    header = BlockHeader("send-chain", 0, 1, bytes(32), 0, 0, 1, tx_root((tx,)), 0,
                         bytes(32), bytes(32))
    block = Block(header, (tx,))
    return PrePrepare("send-chain", 0, 0, 1, 0, block.hash(), block, bytes(64))


def test_an_oversize_message_is_counted_and_the_replica_loop_goes_on(tmp_path: Path) -> None:
    node = _node(tmp_path)
    message = _oversize_pre_prepare(node)
    runtime = node.shards[0]

    async def main() -> None:
        await node._carry_out(runtime, Output(send=[Send(None, message), Send(2, message)]))

    try:
        trio.run(main)
        assert node.dropped["oversize_PrePrepare"] == 2
    finally:
        node.store.close()
