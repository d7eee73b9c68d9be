"""`agora node start` refuses a corrupted data directory with a clear message."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import plyvel
import pytest

from node.config import load_config
from node.node import Node
from node.setup import init_cluster
from storage.chain import ChainStore
from storage.errors import StorageCorrupt

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _start(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli", "node", "start", "--home",
                           str(home)], capture_output=True, text=True, timeout=60)


def test_a_node_with_a_corrupted_store_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    homes = init_cluster(tmp_path / "net", 1, 1, "corrupt-chain", p2p_port=41000,
                         rpc_port=41001, metrics_port=41002)
    home = homes[0]
    # Finalize the genesis the way the node does, then damage the shard's marker value.
    config = load_config(home / "config.toml")
    config = dataclasses.replace(config, node=dataclasses.replace(
        config.node, home_dir=str(home)))
    node = Node.open(config)
    node.store.close()
    db = plyvel.DB(str(home / "data"))
    marker_keys = [key for key, _ in db.iterator(prefix=b"f")]
    assert marker_keys
    value = bytearray(db.get(marker_keys[0]))
    value[-1] ^= 0xFF
    db.put(marker_keys[0], bytes(value))
    db.close()

    result = _start(home)
    assert result.returncode == 7, result.stderr[-2000:]  # ExitCode.STORE
    assert "cannot start" in result.stderr and "corrupt" in result.stderr.lower()
    assert "Traceback" not in result.stderr

    with pytest.raises(StorageCorrupt):
        ChainStore.open(home / "data", "corrupt-chain")
