"""`agora node reset-state` keeps what the validator signed: after a reset the real node
refuses to send a vote with another digest for a (view, height) it signed (#18 point 6)."""

from __future__ import annotations

from pathlib import Path

from consensus.events import Send
from consensus.types import Prepare, sign_message
from node.config import load_config
from node.node import Node
from tests.node.agora_cli import agora, ok

first, second = b"\x01" * 32, b"\x02" * 32


def _open(home: Path) -> Node:
    config = load_config(home / "config.toml")
    import dataclasses

    return Node.open(dataclasses.replace(config, node=dataclasses.replace(
        config.node, home_dir=str(home))))


def _prepare(node: Node, digest: bytes) -> Send:
    message = Prepare(node.genesis.chain_id, 0, 3, 50, node.index, digest, b"")
    return Send(None, sign_message(message, node.signer))


def test_after_reset_state_the_node_refuses_a_second_digest_at_a_signed_view_and_height(
        tmp_path: Path) -> None:
    ok("init", "--validators", "1", "--out", tmp_path / "net")
    home = tmp_path / "net" / "node0"
    node = _open(home)
    vote = _prepare(node, first)
    assert node.admit_votes(0, [vote]) == [vote]
    node.last_signed.persist(0)  # what _guard_votes does (in a thread) before sending
    node.store.close()
    assert (home / "data").is_dir()

    refused = agora("node", "reset-state", "--home", home)  # asks first; no answer: abort
    assert refused.returncode != 0 and (home / "data").is_dir()
    out = ok("node", "reset-state", "--home", home, "--yes")
    assert "kept the key, config, genesis" in out
    assert not (home / "data").exists() and (home / "last_signed" / "shard-0.bin").exists()

    node = _open(home)
    assert node.store.last_height(0) == 0  # the store is empty again
    assert node.admit_votes(0, [_prepare(node, second)]) == []
    assert node.dropped["double_sign_refused"] == 1
    again = _prepare(node, first)
    assert node.admit_votes(0, [again]) == [again]  # the same vote may be resent
    node.store.close()


def test_reset_state_refuses_while_the_store_is_open(tmp_path: Path) -> None:
    ok("init", "--validators", "1", "--out", tmp_path / "net")
    home = tmp_path / "net" / "node0"
    node = _open(home)
    try:
        result = agora("node", "reset-state", "--home", home, "--yes")
        assert result.returncode == 7 and "in use" in result.stderr
        assert (home / "data").is_dir()
    finally:
        node.store.close()
