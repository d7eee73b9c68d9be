"""The ``agora`` command line: init, node start, cluster up, status, tx, bench.

CLI flags override the config file here and only here (shared/STYLE.md). Every command
that talks to a node does it over JSON-RPC, exactly as an app would.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

default_cluster_dir = "cluster"
p2p_base_port = 26700
rpc_base_port = 8545
metrics_base_port = 9100
faucet_balance = 10**15
status_refresh_seconds = 1.0
stop_grace_seconds = 10.0
# Cyclic GC thresholds of a node process (Python's default is 700, 10, 10).
gc_thresholds = (20_000, 20, 20)


@click.group()
def main() -> None:
    """Agora: a permissioned BFT ledger for virtual-goods marketplaces."""


# -- init --------------------------------------------------------------------------------


@main.command()
@click.option("--validators", "validator_count", default=4, show_default=True, type=int)
@click.option("--shards", "shard_count", default=1, show_default=True, type=int)
@click.option("--out", "out_dir", default=default_cluster_dir, show_default=True,
              type=click.Path(file_okay=False))
@click.option("--chain-id", default="agora-local", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--p2p-port", default=p2p_base_port, show_default=True, type=int)
@click.option("--rpc-port", default=rpc_base_port, show_default=True, type=int)
@click.option("--metrics-port", default=metrics_base_port, show_default=True, type=int)
@click.option("--force", is_flag=True, help="overwrite an existing directory's files")
def init(validator_count: int, shard_count: int, out_dir: str, chain_id: str, host: str,
         p2p_port: int, rpc_port: int, metrics_port: int, force: bool) -> None:
    """Create keys, a genesis and one config per node (DIR/node0, DIR/node1, ...)."""
    from node.setup import init_cluster

    homes = init_cluster(Path(out_dir), validator_count, shard_count, chain_id, host,
                         p2p_port, rpc_port, metrics_port, force=force)
    click.echo(f"initialised {validator_count} validators, {shard_count} shard(s) in "
               f"{out_dir}")
    for home in homes:
        click.echo(f"  {home}")
    click.echo(f"faucet key: {Path(out_dir) / 'faucet_key.hex'}")


# -- node ----------------------------------------------------------------------------------


@main.group()
def node() -> None:
    """Run a validator node."""


@node.command("start")
@click.option("--home", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--log-level", default=None)
def node_start(home: str, log_level: str | None) -> None:
    """Start the validator whose files are in HOME (config.toml, key, genesis)."""
    import trio

    from consensus.errors import AgoraError
    from node.config import load_config
    from node.node import Node

    config = load_config(Path(home) / "config.toml")
    config = dataclasses.replace(config, node=dataclasses.replace(
        config.node, home_dir=str((Path(home) / config.node.home_dir).resolve()),
        log_level=log_level or config.node.log_level)).validate()
    logging.basicConfig(
        level=config.node.log_level,
        format=f"%(asctime)s %(levelname)s node={config.node.node_index} %(name)s %(message)s")
    from storage.errors import StorageError

    try:
        validator = Node.open(config)
    except (AgoraError, StorageError) as error:
        click.echo(f"agora: cannot start node {config.node.node_index}: {error}", err=True)
        sys.exit(2)
    # The objects built at start-up (modules, genesis, recovered state) live as long as
    # the process: freeze them out of the cyclic collector, and collect the young
    # generation less often (most per-tx objects die young, before any collection).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*gc_thresholds)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(validator.run)
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    logging.getLogger(__name__).info("signal=%s stopping", signum)
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(run)
    finally:
        validator.store.close()


# -- cluster -------------------------------------------------------------------------------


@main.group()
def cluster() -> None:
    """A local multi-node cluster of real processes on 127.0.0.1."""


@cluster.command("up")
@click.option("--validators", "validator_count", default=4, show_default=True, type=int)
@click.option("--shards", "shard_count", default=2, show_default=True, type=int)
@click.option("--dir", "cluster_dir", default=default_cluster_dir, show_default=True)
@click.option("--fresh", is_flag=True, help="delete the cluster directory first")
@click.option("--duration", default=0.0, type=float,
              help="stop after this many seconds (0 = until Ctrl-C)")
def cluster_up(validator_count: int, shard_count: int, cluster_dir: str, fresh: bool,
               duration: float) -> None:
    """Start every validator as its own process and show a live status view."""
    from node.setup import LocalCluster

    local = LocalCluster(Path(cluster_dir), validator_count, shard_count, fresh=fresh)

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the same clean stop as Ctrl-C: no node outlives us

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    local.start()
    try:
        local.wait_ready()
        click.echo(f"block explorer: {local.rpc_urls[0]}/explorer (every node serves one)")
        _live_status(local, duration)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping every node ...")
        local.stop()
        click.echo("stopped")


def _live_status(local: Any, duration: float) -> None:
    from rich.live import Live

    started = time.monotonic()
    previous: dict[int, tuple[float, int]] = {}
    with Live(refresh_per_second=2) as live:
        while duration <= 0 or time.monotonic() - started < duration:
            live.update(local.status_table(previous))
            local.check_alive()
            time.sleep(status_refresh_seconds)


# -- status and txs ------------------------------------------------------------------------


@main.command()
@click.option("--rpc", "rpc_url", default=f"http://127.0.0.1:{rpc_base_port}",
              show_default=True)
def status(rpc_url: str) -> None:
    """Print a node's status."""
    from node.client import AgoraClient

    click.echo(json.dumps(AgoraClient(rpc_url).status(), indent=2, sort_keys=True))


@main.group()
def tx() -> None:
    """Build, sign and send transactions."""


@tx.command("send")
@click.option("--rpc", "rpc_url", default=f"http://127.0.0.1:{rpc_base_port}",
              show_default=True)
@click.option("--key", "key_file", required=True, type=click.Path(exists=True))
@click.option("--to", "to_hex", required=True, help="recipient address (hex public key)")
@click.option("--amount", required=True, type=int)
@click.option("--wait/--no-wait", default=True, show_default=True)
def tx_send(rpc_url: str, key_file: str, to_hex: str, amount: int, wait: bool) -> None:
    """Transfer native balance to another account."""
    from node.client import Account, AgoraClient
    from node.keys import load_seed

    client = AgoraClient(rpc_url)
    account = Account.from_seed(load_seed(key_file))
    tx_ = client.build_transfer(account, bytes.fromhex(to_hex), amount)
    if wait:
        click.echo(json.dumps(client.submit_and_wait(tx_), indent=2, sort_keys=True))
    else:
        click.echo(client.submit(tx_))


def _parse_args_json(text: str) -> dict[str, Any]:
    """Named contract arguments in the JSON form (docs/spec.md §2.3: "0x…" is bytes,
    {"$int": "…"} a big int, {"$str": "0x…"} text)."""
    from agora_sdk.values import JsonValueError, args_from_json

    try:
        return args_from_json(json.loads(text))
    except (ValueError, JsonValueError) as error:
        raise click.BadParameter(str(error), param_hint="--args") from None


def _printable(value: Any) -> Any:
    from agora_sdk.values import to_json

    return to_json(value)


@main.command("deploy")
@click.option("--rpc", "rpc_url", default=f"http://127.0.0.1:{rpc_base_port}",
              show_default=True)
@click.option("--key", "key_file", required=True, type=click.Path(exists=True))
@click.option("--source", "source_file", required=True, type=click.Path(exists=True),
              help="contract source (e.g. vm/templates/token.py)")
@click.option("--args", "args_json", default="{}", help="init arguments as a JSON object")
@click.option("--shard", type=int, default=None, help="place the contract in this shard")
@click.option("--gas", "gas_limit", default=None, type=int,
              help="gas limit (default: simulate the deploy and add a margin)")
def deploy(rpc_url: str, key_file: str, source_file: str, args_json: str,
           shard: int | None, gas_limit: int | None) -> None:
    """Deploy a contract and print its address and receipt."""
    from node.client import Account, AgoraClient
    from node.keys import load_seed

    client = AgoraClient(rpc_url)
    account = Account.from_seed(load_seed(key_file))
    tx_ = client.build_deploy(account, Path(source_file).read_text(),
                              _parse_args_json(args_json), shard=shard, gas_limit=gas_limit)
    receipt = client.submit_and_wait(tx_)
    click.echo(json.dumps({"address": tx_.contract.hex(), "receipt": receipt}, indent=2))
    if not receipt.get("ok"):
        sys.exit(1)


@main.command("call")
@click.option("--rpc", "rpc_url", default=f"http://127.0.0.1:{rpc_base_port}",
              show_default=True)
@click.option("--contract", "contract_hex", required=True)
@click.option("--method", required=True)
@click.option("--args", "args_json", default="{}", help="named arguments as a JSON object")
@click.option("--key", "key_file", default=None, type=click.Path(exists=True),
              help="sign and send as a transaction (without it: a read-only view call)")
@click.option("--gas", "gas_limit", default=None, type=int,
              help="gas limit (default: simulate the call and add a margin)")
def call(rpc_url: str, contract_hex: str, method: str, args_json: str,
         key_file: str | None, gas_limit: int | None) -> None:
    """Call a contract: a read-only @view without --key, a transaction with it."""
    from node.client import Account, AgoraClient
    from node.keys import load_seed

    client = AgoraClient(rpc_url)
    contract = bytes.fromhex(contract_hex.removeprefix("0x"))
    args = _parse_args_json(args_json)
    if key_file is None:
        click.echo(json.dumps(_printable(client.view(contract, method, args)), indent=2))
        return
    account = Account.from_seed(load_seed(key_file))
    receipt = client.submit_and_wait(client.build_contract_call(
        account, contract, method, args, gas_limit=gas_limit))
    click.echo(json.dumps(receipt, indent=2))
    if not receipt.get("ok"):
        sys.exit(1)


@main.command("demo")
@click.option("--rpc", "rpc_url", default=None,
              help="a running node (default: start a fresh local 4-validator cluster)")
@click.option("--scenario", type=click.Choice(["marketplace", "tickets", "mysterybox"]),
              default="marketplace", show_default=True,
              help="marketplace: a collectible sale with royalty and 30/40/30 split; "
                   "tickets: capped resale, royalty, check-in, cancellation refund; "
                   "mysterybox: a commit-reveal draw and a forfeited bond")
@click.option("--key", "key_file", default=None, type=click.Path(dir_okay=False),
              help="with --rpc: a funded account of shard 0 that pays the people's fees "
                   "(e.g. the cluster's faucet_key.hex)")
def demo(rpc_url: str | None, scenario: str, key_file: str | None) -> None:
    """Run a marketplace story on a cluster: where the value went, and the fees paid."""
    import tempfile

    from node.client import Account
    from node.demo import DemoFailed, run_demo
    from node.keys import load_seed
    from node.setup import LocalCluster, free_port_block

    try:
        if rpc_url is not None:
            run_demo(rpc_url, scenario=scenario, funder=Account.from_seed(
                load_seed(key_file)) if key_file else None)
            return
        with tempfile.TemporaryDirectory(prefix="agora-demo-") as directory:
            base = free_port_block(12)
            local = LocalCluster(Path(directory) / "cluster", 4, 2, p2p_port=base,
                                 rpc_port=base + 4, metrics_port=base + 8)
            local.start()
            try:
                local.wait_ready()
                faucet = Account.from_seed(load_seed(local.directory / "faucet_key.hex"))
                run_demo(local.rpc_urls[0], scenario=scenario, funder=faucet)
            finally:
                local.stop()
    except DemoFailed as error:
        click.echo(f"agora demo: {error}", err=True)
        sys.exit(1)


@main.command("bench", add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def bench(context: click.Context) -> None:
    """Benchmark a local cluster or running nodes (see `agora bench --help`)."""
    from bench.harness import main as bench_main

    bench_main(list(context.args))


@main.command("keygen")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
def keygen(out_file: str) -> None:
    """Create an ed25519 account key and print its address."""
    from consensus.types import Signer
    from node.keys import generate_seed, save_key

    seed = generate_seed()
    save_key(out_file, seed)
    click.echo(Signer(seed).public_key.hex())

main.add_command(__import__("node.contract_cli").contract_cli.contract)  # agora contract


def run_module() -> None:  # python -m node.cli
    main()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

__all__ = ["main"]

