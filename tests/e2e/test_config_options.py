"""The options that say where a node finds its files, where it listens and how it logs do
what they say, on a real `agora node start` process (#12 point 8; the other options are
in tests/node/test_config_options.py, which also checks every option has its test).

The node is validator 1 of a 4-validator genesis; it starts alone (it will not commit,
which is not the point). Its files are moved away from their default names, and its
addresses away from the defaults and from its genesis address: it must still start, as
validator 1, with its data where ``data_dir`` says, listening for peers on ``listen_host``
and ``listen_port`` (not on its genesis address), RPC and metrics on their hosts and
ports (127.0.0.2 here: loopback, but not 127.0.0.1), logging at ``log_level``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from node.client import AgoraClient
from node.config import MetricsSection, NetworkSection, NodeConfig, NodeSection, RpcSection
from node.genesis import load_genesis
from node.setup import free_port_block, init_cluster
from tests.e2e.cluster import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OTHER_LOOPBACK = "127.0.0.2"


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _start(conf_dir: Path) -> subprocess.Popen[bytes]:
    log = open(conf_dir / "node.log", "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "start", "--home", str(conf_dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _layout(tmp_path: Path, base: int) -> tuple[Path, Path]:
    """Validator 1's files under non-default names in 'elsewhere/'; its config in 'conf/'."""
    homes = init_cluster(tmp_path / "net", 4, 1, "options-e2e", p2p_port=base,
                         rpc_port=base + 4, metrics_port=base + 8)
    elsewhere, conf = tmp_path / "elsewhere", tmp_path / "conf"
    (elsewhere / "keys").mkdir(parents=True)
    (elsewhere / "chain").mkdir()
    conf.mkdir()
    shutil.copy2(homes[1] / "node_key.hex", elsewhere / "keys" / "validator.hex")
    shutil.copy2(homes[1] / "genesis.json", elsewhere / "chain" / "g.json")
    return elsewhere, conf


def test_file_listen_rpc_metrics_and_log_options_are_honoured(tmp_path: Path) -> None:
    base = free_port_block(16)
    elsewhere, conf = _layout(tmp_path, base)
    genesis = load_genesis(elsewhere / "chain" / "g.json")
    genesis_port = int(genesis.validators[1].p2p_address.rpartition(":")[2])
    listen_port, rpc_port, metrics_port = base + 12, base + 13, base + 14
    config = NodeConfig(
        node=NodeSection(home_dir="../elsewhere", data_dir="db", key_file="keys/validator.hex",
                         genesis_file="chain/g.json", node_index=1, log_level="DEBUG"),
        network=NetworkSection(listen_host=OTHER_LOOPBACK, listen_port=listen_port),
        rpc=RpcSection(host=OTHER_LOOPBACK, port=rpc_port),
        metrics=MetricsSection(host=OTHER_LOOPBACK, port=metrics_port))
    (conf / "config.toml").write_text(config.validate().to_toml())
    process = _start(conf)
    try:
        client = AgoraClient(f"http://{OTHER_LOOPBACK}:{rpc_port}", timeout_seconds=2.0)
        status = wait_until(client.status, 60, "the node's RPC on rpc.host:rpc.port")
        assert status["node_index"] == 1
        assert status["public_key"] == genesis.validator_keys[1].hex()
        assert (elsewhere / "db" / "CURRENT").exists()  # LevelDB where data_dir says
        assert not (conf / "db").exists() and not (conf / "data").exists()
        assert _accepts(OTHER_LOOPBACK, listen_port)
        assert not _accepts("127.0.0.1", listen_port)
        assert not _accepts("127.0.0.1", genesis_port)  # listen_port, not the genesis port
        assert not _accepts("127.0.0.1", rpc_port) and not _accepts("127.0.0.1", metrics_port)
        health = httpx.get(f"http://{OTHER_LOOPBACK}:{metrics_port}/health", timeout=5.0)
        assert health.status_code == 200
        wait_until(lambda: " DEBUG " in (conf / "node.log").read_text(), 30, "debug lines")
    finally:
        _stop(process)


def test_disabled_rpc_and_metrics_are_not_served_and_a_quiet_log_level_is_quiet(
        tmp_path: Path) -> None:
    base = free_port_block(16)
    elsewhere, conf = _layout(tmp_path, base)
    listen_port, rpc_port, metrics_port = base + 12, base + 13, base + 14
    config = NodeConfig(
        node=NodeSection(home_dir="../elsewhere", key_file="keys/validator.hex",
                         genesis_file="chain/g.json", node_index=1, log_level="WARNING"),
        network=NetworkSection(listen_host="127.0.0.1", listen_port=listen_port),
        rpc=RpcSection(enabled=False, port=rpc_port),
        metrics=MetricsSection(enabled=False, port=metrics_port))
    (conf / "config.toml").write_text(config.validate().to_toml())
    process = _start(conf)
    try:
        wait_until(lambda: _accepts("127.0.0.1", listen_port), 60, "the peer listener")
        assert process.poll() is None
        assert not _accepts("127.0.0.1", rpc_port)
        assert not _accepts("127.0.0.1", metrics_port)
        log = (conf / "node.log").read_text()
        assert " INFO " not in log and " DEBUG " not in log
    finally:
        _stop(process)
