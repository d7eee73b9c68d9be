"""Creating a local cluster's files (``agora init``) and running it (``agora cluster up``).

Layout of a cluster directory::

    DIR/genesis.json           the shared genesis (also copied into each node's home)
    DIR/faucet_key.hex         a development account of shard 0, funded and an issuer
    DIR/fee_key.hex            the genesis fee account (of shard 0): fees collected there
    DIR/nodeK/config.toml      node K's config: ports p2p_port+K, rpc_port+K, metrics_port+K
    DIR/nodeK/node_key.hex     node K's validator key (mode 0600)
    DIR/nodeK/validator.json   node K's public validator card (name, key, endpoints)
    DIR/nodeK/genesis.json
    DIR/nodeK/data/            LevelDB (created on first start)
    DIR/nodeK/node.log         stdout and stderr of the process (cluster up)

Fees are on in a local cluster (``local_gas_price`` per unit of gas, ledger/fees.py): the
faucet pays them and funds other accounts. Both the faucet and the fee account live in
shard 0, so fees paid in shard 0 are credited to the fee account and those of other
shards go to their shards' fee pools.

``LocalCluster`` starts every node as its own process (``python -m node.cli node start``),
waits until every RPC answers, and stops them all: SIGTERM, then SIGKILL after a grace
period, so no process outlives it.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from consensus.types import Signer
from node.config import load_config
from node.consortium import (
    add_balance,
    add_validator,
    card_file_name,
    create_validator_home,
    load_card,
    new_genesis,
)
from node.genesis import Balance
from node.keys import generate_seed, save_key

faucet_balance = 10**15
local_gas_price = 1
ready_timeout_seconds = 60.0
stop_grace_seconds = 10.0


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first port of ``count`` consecutive ports that are free on ``host`` now.

    Chosen below the kernel's ephemeral range (``ip_local_port_range``): a port in it
    can be handed to any outgoing connection while its node is down, and the node's
    restart then fails to bind (seen when the reliability nemesis restarts a node)."""
    rng = random.Random()
    ephemeral_low = _ephemeral_port_low()
    assert ephemeral_low - count > 10_000, "no room below the ephemeral port range"
    for _ in range(200):
        base = rng.randrange(10_000, ephemeral_low - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no block of {count} free ports on {host}")


def _ephemeral_port_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def init_cluster(out_dir: Path, validator_count: int, shard_count: int, chain_id: str,
                 host: str = "127.0.0.1", p2p_port: int = 26700, rpc_port: int = 8545,
                 metrics_port: int = 26660, *, force: bool = False,
                 extra_balances: tuple[Balance, ...] = (),
                 consensus_overrides: dict[str, Any] | None = None,
                 gas_price: int | None = None) -> list[Path]:
    """Write keys, genesis and configs; return the node home directories. ``gas_price``:
    the genesis's (None: ``local_gas_price``).

    The one-machine shortcut of the consortium flow (node/consortium.py), on the same
    code: one validator home per node (``agora keygen --validator``), then a genesis
    assembled from their public cards (``agora genesis new / add-validator /
    add-balance``), copied into every home."""
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty (use --force or another --out)")
    out_dir.mkdir(parents=True, exist_ok=True)
    faucet_seed, fee_seed = _seed_in_shard(0, shard_count), _seed_in_shard(0, shard_count)
    save_key(out_dir / "faucet_key.hex", faucet_seed, overwrite=True)
    save_key(out_dir / "fee_key.hex", fee_seed, overwrite=True)
    genesis = new_genesis(chain_id, shard_count)
    genesis = dataclasses.replace(
        genesis, fee_account=Signer(fee_seed).public_key,
        consensus=dataclasses.replace(genesis.consensus, gas_price=local_gas_price
                                      if gas_price is None else gas_price))
    homes = []
    for index in range(validator_count):
        home = out_dir / f"node{index}"
        if force and home.exists():
            shutil.rmtree(home)
        created = create_validator_home(
            home, f"node{index}", f"{host}:{p2p_port + index}",
            f"http://{host}:{rpc_port + index}", metrics_port + index)
        genesis = add_validator(genesis, load_card(home / card_file_name))
        if consensus_overrides:
            config = load_config(home / "config.toml")
            config = dataclasses.replace(config, consensus=dataclasses.replace(
                config.consensus, **consensus_overrides))
            (home / "config.toml").write_text(config.validate().to_toml())
        homes.append(created.home)
    genesis = add_balance(genesis, Signer(faucet_seed).public_key, faucet_balance,
                          issuer=True)
    for balance in extra_balances:
        genesis = add_balance(genesis, balance.address, balance.amount)
    genesis = genesis.validate()
    genesis.save(out_dir / "genesis.json")
    for home in homes:
        genesis.save(home / "genesis.json")
    return homes


def _seed_in_shard(shard: int, shard_count: int) -> bytes:
    """A fresh key seed whose account lives in ``shard`` (about ``shard_count`` tries)."""
    from ledger.sharding import shard_of_account

    while True:
        seed = generate_seed()
        if shard_of_account(Signer(seed).public_key, shard_count) == shard:
            return seed


class LocalCluster:
    """Every validator of a cluster directory as a child process."""

    def __init__(self, directory: Path, validator_count: int = 4, shard_count: int = 2,
                 *, fresh: bool = False, **init_options: Any) -> None:
        self.directory = directory
        if fresh and directory.exists():
            shutil.rmtree(directory)
        if not (directory / "genesis.json").exists():
            init_cluster(directory, validator_count, shard_count, "agora-local",
                         **init_options)
        self.homes = sorted((path for path in directory.glob("node*") if path.is_dir()),
                            key=lambda path: int(path.name[4:]))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        # Extra environment per node index (tests use it, e.g. to preload libfaketime).
        self.node_env: dict[int, dict[str, str]] = {}
        from node.config import load_config

        self.rpc_urls = []
        for home in self.homes:
            config = load_config(home / "config.toml")
            self.rpc_urls.append(f"http://{config.rpc.host}:{config.rpc.port}")

    def start(self, indexes: list[int] | None = None) -> None:
        for index in indexes if indexes is not None else range(len(self.homes)):
            home = self.homes[index]
            log = open(home / "node.log", "ab")
            self.processes[index] = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "node", "start", "--home", str(home)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.node_env.get(index, {})})
            log.close()

    def wait_ready(self, timeout_seconds: float = ready_timeout_seconds,
                   indexes: list[int] | None = None) -> None:
        from node.client import AgoraClient, RpcCallError as RpcError, TransportError

        deadline = time.monotonic() + timeout_seconds
        for index in indexes if indexes is not None else range(len(self.homes)):
            client = AgoraClient(self.rpc_urls[index], timeout_seconds=2.0)
            while True:
                self.check_alive([index])
                try:
                    client.status()
                    break
                except (RpcError, TransportError, OSError) as error:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"node{index} not ready: {error}") from error
                    time.sleep(0.1)

    def check_alive(self, indexes: list[int] | None = None) -> None:
        for index in indexes if indexes is not None else list(self.processes):
            process = self.processes.get(index)
            if process is not None and process.poll() is not None:
                log = (self.homes[index] / "node.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"node{index} exited with {process.returncode}:\n{log}")

    def kill(self, index: int, signum: int = signal.SIGKILL) -> None:
        process = self.processes.pop(index)
        process.send_signal(signum)
        process.wait(timeout=stop_grace_seconds)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + stop_grace_seconds
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def status_table(self, previous: dict[int, tuple[float, int]]) -> Any:
        """A rich Table: height per shard, view, peers, committed TPS per node."""
        from rich.table import Table

        from node.client import AgoraClient, RpcCallError as RpcError, TransportError

        table = Table(title=f"Agora local cluster: {self.directory}")
        for column in ("node", "pid", "heights", "views", "peers", "mempool", "txs", "TPS"):
            table.add_column(column)
        for index, url in enumerate(self.rpc_urls):
            process = self.processes.get(index)
            pid = str(process.pid) if process is not None else "-"
            try:
                status = AgoraClient(url, timeout_seconds=1.0).status()
            except (RpcError, TransportError, OSError) as error:
                table.add_row(f"node{index}", pid, f"unreachable: {error}", "", "", "", "", "")
                continue
            shards = status.get("shards", [])
            committed = int(status.get("txs_committed", 0))
            now = time.monotonic()
            before = previous.get(index)
            tps = ""
            if before is not None and now > before[0]:
                tps = f"{(committed - before[1]) / (now - before[0]):.0f}"
            previous[index] = (now, committed)
            table.add_row(
                f"node{index}", pid,
                " ".join(str(shard.get("height")) for shard in shards),
                " ".join(str(shard.get("view")) for shard in shards),
                str(len(status.get("peers", []))), str(status.get("mempool_txs", "")),
                str(committed), tps)
        return table
