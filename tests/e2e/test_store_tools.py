"""`agora store check / export / import` on a real node's store (#18 point 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from node.client import Account, AgoraClient
from node.keys import load_seed
from node.setup import free_port_block
from tests.e2e.cluster import wait_until
from tests.e2e.processes import node_processes
from tests.e2e.test_ready import damage_faucet_balance
from tests.node.agora_cli import agora, ok

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


def _run_chain(root: Path) -> Path:
    """A one-validator chain with a transfer in it, run and stopped; its home."""
    base = free_port_block(3)
    ok("init", "--validators", "1", "--out", root, "--p2p-port", str(base),
       "--rpc-port", str(base + 1), "--metrics-port", str(base + 2))
    home = root / "node0"
    recipient = Account.generate().address
    with node_processes() as nodes:
        nodes.start(home)
        client = AgoraClient(f"http://127.0.0.1:{base + 1}", timeout_seconds=5.0)
        faucet = Account.from_seed(load_seed(root / "faucet_key.hex"))
        wait_until(lambda: client.status(), 30, "the node's RPC")
        assert client.submit_and_wait(client.build_transfer(faucet, recipient, 77))["ok"]
        wait_until(lambda: client.status()["shards"][0]["height"] >= 3, 30, "blocks")
        assert nodes.stop(home) == 0  # stopped cleanly
    return home


def test_check_export_import_and_damage_detection(tmp_path: Path) -> None:
    home = _run_chain(tmp_path / "net")
    checked = ok("store", "check", "--home", home)
    assert checked.startswith("ok: shard 0 at ")
    export = tmp_path / "blocks.agora"
    exported = ok("store", "export", "--home", home, "--out", export)
    assert "exported" in exported

    # A new home with the same genesis and no store imports the certified blocks.
    member = tmp_path / "member"
    shutil.copytree(home, member)
    ok("node", "reset-state", "--home", member, "--yes")
    imported = ok("store", "import", "--home", member, "--in", export)
    assert "each certificate checked and each block re-executed" in imported
    assert ok("store", "check", "--home", member).split(";")[0] == checked.split(";")[0]
    from storage.chain import ChainStore

    ours, theirs = ChainStore.open(home / "data", "agora-local"), \
        ChainStore.open(member / "data", "agora-local")
    assert dict(ours.scan_state(0)) == dict(theirs.scan_state(0))
    assert ours.state_root(0) == theirs.state_root(0)
    ours.close()
    theirs.close()

    # A damaged export is refused and imports nothing.
    damaged = bytearray(export.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "damaged.agora").write_bytes(bytes(damaged))
    fresh = tmp_path / "fresh"
    shutil.copytree(home, fresh)
    ok("node", "reset-state", "--home", fresh, "--yes")
    result = agora("store", "import", "--home", fresh, "--in", tmp_path / "damaged.agora")
    assert result.returncode == 7 and "fails its checksum" in result.stderr

    # State damaged on disk: the replay finds it.
    faucet = load_seed(tmp_path / "net" / "faucet_key.hex")
    damage_faucet_balance(home, Account.from_seed(faucet).address)
    result = agora("store", "check", "--home", home)
    assert result.returncode == 7, result.stdout + result.stderr
    assert "state entries differ from a replay" in result.stderr
