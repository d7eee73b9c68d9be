"""The ``agora`` command line: init, node start, cluster up, status, tx, bench.

CLI flags override the config file here and only here (shared/STYLE.md). Every command
that talks to a node does it over JSON-RPC, exactly as an app would.
"""

from __future__ import annotations

import dataclasses
import enum
import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

default_cluster_dir = "cluster"
p2p_base_port = 26700
rpc_base_port = 8545
metrics_base_port = 26660  # CometBFT's; 9100 is node_exporter's
faucet_balance = 10**15
status_refresh_seconds = 1.0
stop_grace_seconds = 10.0
# Cyclic GC thresholds of a node process (Python's default is 700, 10, 10).
gc_thresholds = (20_000, 20, 20)


class ExitCode(enum.IntEnum):
    """Exit codes of every ``agora`` command (stable: scripts and systemd depend on them)."""

    OK = 0
    FAILED = 1  # the command ran and its outcome is a failure (a tx reverted, a check failed)
    USAGE = 2  # bad flags or arguments (click's own code)
    INVALID_CONFIG = 3  # config, genesis or environment override invalid: every problem listed
    KEY_MISMATCH = 4  # the node's key is not the validator the genesis or config says
    HOME = 5  # the home directory is missing or unreadable
    UNREACHABLE = 6  # the node's RPC could not be reached
    STORE = 7  # the store is corrupt, incompatible, or fails `agora store check`


def fail(code: ExitCode, message: str, details: list[str] | None = None) -> NoReturn:
    """Print ``agora: message`` (and one indented line per detail) to stderr and exit."""
    click.echo(f"agora: {message}", err=True)
    for detail in details or []:
        click.echo(f"  - {detail}", err=True)
    sys.exit(int(code))


class AgoraGroup(click.Group):
    """Turns the project's errors into one-line messages and distinct exit codes, never a
    traceback (a traceback is left only for bugs)."""

    def invoke(self, ctx: click.Context) -> Any:
        from consensus.errors import ConfigError, StorageCorruption
        from node.client import TransportError
        from node.consortium import KeyMismatch
        from node.home import HomeError
        from storage.errors import StorageError

        try:
            return super().invoke(ctx)
        except KeyMismatch as error:
            fail(ExitCode.KEY_MISMATCH, "the key does not match its validator",
                 error.problems)
        except ConfigError as error:
            count = len(error.problems)
            fail(ExitCode.INVALID_CONFIG, f"invalid configuration ({count} problem"
                 f"{'s' if count != 1 else ''}):", error.problems)
        except HomeError as error:
            fail(ExitCode.HOME, str(error))
        except TransportError as error:
            fail(ExitCode.UNREACHABLE, f"cannot reach the node: {error}")
        except (StorageError, StorageCorruption) as error:  # StoreToolError included
            fail(ExitCode.STORE, f"store: {error}")


def _version_message() -> str:
    from node.version import describe

    return describe()


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_message())
        ctx.exit()


@click.group(cls=AgoraGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version, commit and Python, and exit.")
def main() -> None:
    """Agora: a permissioned BFT ledger for virtual-goods marketplaces.

    Exit codes: 0 ok, 1 failed, 2 usage, 3 invalid config, 4 key does not match its
    validator, 5 home missing or unreadable, 6 node unreachable, 7 store problem.
    """


home_option = click.option(
    "--home", "home_dir", default=None, envvar="AGORA_HOME", show_envvar=True,
    help="the node's home directory (config.toml, node_key.hex, genesis.json, data/)")


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
    """Create every validator's key, a genesis and configs on this machine (a local
    cluster: DIR/node0, DIR/node1, ...). A real consortium uses `agora keygen
    --validator` on each member's machine and `agora genesis ...` instead."""
    from node.setup import init_cluster

    try:
        homes = init_cluster(Path(out_dir), validator_count, shard_count, chain_id, host,
                             p2p_port, rpc_port, metrics_port, force=force)
    except FileExistsError as error:
        fail(ExitCode.FAILED, str(error))
    click.echo(f"initialised {validator_count} validators, {shard_count} shard(s) in "
               f"{out_dir}")
    for home in homes:
        click.echo(f"  {home}")
    click.echo(f"faucet key: {Path(out_dir) / 'faucet_key.hex'}")


# -- node ----------------------------------------------------------------------------------


@main.group()
def node() -> None:
    """Run and maintain a validator node."""


def _open_config(home_dir: str | None, log_level: str | None = None,
                 log_format: str | None = None) -> Any:
    """The home's config with environment and flag overrides, validated."""
    from node.home import load_home_config, resolve_home

    config = load_home_config(resolve_home(home_dir))
    overrides = {name: value for name, value in
                 (("log_level", log_level), ("log_format", log_format)) if value is not None}
    if overrides:
        config = dataclasses.replace(config, node=dataclasses.replace(
            config.node, **overrides)).validate()
    return config


@node.command("start")
@home_option
@click.option("--log-level", default=None,
              help='one level (INFO) or per module: "consensus=debug,*=info"')
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
def node_start(home_dir: str | None, log_level: str | None, log_format: str | None) -> None:
    """Start the validator whose files are in HOME (config.toml, key, genesis)."""
    import trio

    from node.logs import setup_logging
    from node.node import Node

    from consensus.errors import StorageCorruption
    from storage.errors import StorageError

    config = _open_config(home_dir, log_level, log_format)
    try:
        validator = Node.open(config)
    except (StorageError, StorageCorruption) as error:
        fail(ExitCode.STORE, f"cannot start the node: its store is corrupt or not this "
             f"chain's: {error} (see `agora store check` and `agora node reset-state`)")
    setup_logging(config.node.log_level, config.node.log_format, str(validator.index))
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


@node.command("reset-state")
@home_option
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def node_reset_state(home_dir: str | None, yes: bool) -> None:
    """Delete the node's store (blocks, state, WAL) and keep its key, config, genesis and
    last-signed record: it catches up from its peers on the next start and can never sign
    a second block for a (view, height) it voted on. The node must be stopped."""
    from node.store_tools import reset_state

    config = _open_config(home_dir)
    data_dir = config.node.resolve("data_dir")
    if not yes:
        click.confirm(f"delete {data_dir} (keeping {config.node.resolve('last_signed_dir')})?",
                      abort=True)
    reset_state(data_dir, config.node.resolve("last_signed_dir"))
    click.echo(f"deleted {data_dir}; kept the key, config, genesis and "
               f"{config.node.resolve('last_signed_dir')}")


# -- store ---------------------------------------------------------------------------------


@main.group()
def store() -> None:
    """Check, export and import a stopped node's store."""


def _store_context(home_dir: str | None) -> tuple[Any, Any]:
    from node.genesis import load_genesis

    config = _open_config(home_dir)
    return config, load_genesis(config.node.resolve("genesis_file"))


@store.command("check")
@home_option
def store_check(home_dir: str | None) -> None:
    """Verify a stopped node's store offline: checksums, every certificate against the
    genesis, state roots and state by replaying every block. Exit code 7 on a problem."""
    from node.store_tools import check_store, open_store

    config, genesis_ = _store_context(home_dir)
    chain = open_store(config.node.resolve("data_dir"), genesis_.chain_id)
    try:
        report = check_store(chain, genesis_)
    finally:
        chain.close()
    heights = ", ".join(f"shard {shard} at {height}" for shard, height in
                        sorted(report.heights.items()))
    if report.problems:
        fail(ExitCode.STORE, f"store check failed ({heights}):", report.problems)
    click.echo(f"ok: {heights}; every block certified by the genesis validators, "
               "state replayed and equal")


@store.command("export")
@home_option
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
@click.option("--from-height", default=1, show_default=True, type=int)
def store_export(home_dir: str | None, out_file: str, from_height: int) -> None:
    """Write the certified blocks (block + commit certificate) to a checksummed file."""
    from node.store_tools import export_blocks, open_store

    config, genesis_ = _store_context(home_dir)
    chain = open_store(config.node.resolve("data_dir"), genesis_.chain_id)
    try:
        counts = export_blocks(chain, genesis_, Path(out_file), from_height)
    finally:
        chain.close()
    click.echo(f"exported {sum(counts.values())} blocks to {out_file} ("
               + ", ".join(f"shard {shard}: {count}" for shard, count in counts.items()) + ")")


@store.command("import")
@home_option
@click.option("--in", "in_file", required=True, type=click.Path(exists=True, dir_okay=False))
def store_import(home_dir: str | None, in_file: str) -> None:
    """Verify every certificate against this node's genesis, then execute and store the
    blocks as the node would: a new member starts without replaying from its peers."""
    from storage.chain import ChainStore

    from node.store_tools import import_blocks

    config, genesis_ = _store_context(home_dir)
    data_dir = config.node.resolve("data_dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    chain = ChainStore.open(data_dir, genesis_.chain_id)
    try:
        counts = import_blocks(chain, genesis_, Path(in_file))
    finally:
        chain.close()
    click.echo(f"imported {sum(counts.values())} blocks ("
               + ", ".join(f"shard {shard}: {count}" for shard, count in counts.items())
               + "), each certificate checked and each block re-executed")


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
@click.option("--json", "as_json", is_flag=True, help="the full status as JSON (for scripts)")
def status(rpc_url: str, as_json: bool) -> None:
    """Print a node's status: readable by default, `--json` for scripts."""
    from node.client import AgoraClient

    info = AgoraClient(rpc_url).status()
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        click.echo(format_status(info))


def format_status(info: dict[str, Any]) -> str:
    """A person's view of ``agora_status``: who, chain, one line per shard, peers."""
    peers = info.get("peers", [])
    lines = [
        f"node {info.get('node_index')} of chain {info.get('chain_id')} "
        f"(agora {info.get('version', '?')}), up {info.get('uptime_seconds', 0):.0f} s",
        f"peers {len(peers)}: {', '.join(str(peer) for peer in peers) or 'none'}; "
        f"mempool {info.get('mempool_txs', 0)} txs; "
        f"{info.get('txs_committed', 0)} txs committed since start",
        f"{'shard':>5} {'height':>8} {'view':>5} {'primary':>7}  state",
    ]
    for shard in info.get("shards", []):
        if shard.get("halted"):
            state = f"HALTED: {shard.get('halted_reason') or 'halted'}"
        elif shard.get("in_view_change"):
            state = "view change"
        else:
            state = "ok"
        lines.append(f"{shard.get('shard'):>5} {shard.get('height'):>8} "
                     f"{shard.get('view'):>5} {shard.get('primary'):>7}  {state}")
    refusals = info.get("peer_refusals") or {}
    if refusals:
        lines.append("peer refusals: " + ", ".join(f"{reason} {count}" for reason, count
                                                   in sorted(refusals.items())))
    return "\n".join(lines)


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
    from bench.harness import build_parser, main as bench_main

    if any(arg in ("-h", "--help") for arg in context.args):
        click.echo(argparse_help_in_click_style(build_parser(), context.command_path), nl=False)
        return
    bench_main(list(context.args))


def argparse_help_in_click_style(parser: Any, command_path: str) -> str:
    """An argparse parser's help laid out as click lays out every other command's help
    (one help style for the whole CLI). Reads argparse's action groups: attributes that are
    private by name but unchanged since Python 3.2."""
    import argparse

    formatter = click.HelpFormatter()
    formatter.write_usage(command_path, "[OPTIONS]")
    if parser.description:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(parser.description)
    with formatter.section("Options"):
        formatter.write_dl([("-h, --help", "Show this message and exit.")])
    for group in parser._action_groups:
        rows = []
        for action in group._group_actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = ", ".join(action.option_strings)
            if action.nargs != 0:
                names += " " + (action.metavar or action.dest.upper())
            text = action.help or ""
            if action.default not in (None, False, [], argparse.SUPPRESS):
                text += f"  [default: {action.default}]"
            rows.append((names, text.strip()))
        if rows:
            with formatter.section(f"{(group.title or 'options').capitalize()} options"):
                formatter.write_dl(rows)
    return formatter.getvalue()


@main.command("keygen")
@click.option("--out", "out_path", required=True, type=click.Path(),
              help="the key file (account) or, with --validator, the node's home directory")
@click.option("--validator", is_flag=True,
              help="a validator: key, config and public card in the home directory OUT")
@click.option("--name", default=None, help="validator name (default: the directory's name)")
@click.option("--p2p-address", default="127.0.0.1:26700", show_default=True,
              help="host:port other validators dial (goes in the public card)")
@click.option("--rpc-address", default="http://127.0.0.1:8545", show_default=True)
@click.option("--metrics-port", default=metrics_base_port, show_default=True, type=int)
@click.option("--listen-host", default=None,
              help="address to bind (default: the p2p address's host; 0.0.0.0 in a container)")
@click.option("--force", is_flag=True, help="overwrite an existing key (the old one is lost)")
def keygen(out_path: str, validator: bool, name: str | None, p2p_address: str,
           rpc_address: str, metrics_port: int, listen_host: str | None, force: bool) -> None:
    """Create an ed25519 key (mode 0600) and print its public key / address.

    With --validator: OUT is a new node home holding node_key.hex (never share it),
    config.toml and validator.json, the public card to send to whoever assembles the
    genesis (`agora genesis add-validator --card`)."""
    from consensus.types import Signer
    from node.consortium import card_file_name, create_validator_home
    from node.keys import generate_seed, save_key

    if not validator:
        seed = generate_seed()
        save_key(out_path, seed, overwrite=force)
        click.echo(Signer(seed).public_key.hex())
        return
    home = Path(out_path)
    created = create_validator_home(home, name or home.resolve().name, p2p_address,
                                    rpc_address, metrics_port, listen_host=listen_host,
                                    force=force)
    click.echo(f"validator {created.validator.name}")
    click.echo(f"  public key / address: {created.validator.public_key.hex()}")
    click.echo(f"  p2p endpoint:         {created.validator.p2p_address}")
    click.echo(f"  private key:          {home / 'node_key.hex'} (mode 0600; never share it)")
    click.echo(f"  share this card:      {home / card_file_name}")


# -- genesis -------------------------------------------------------------------------------


@main.group()
def genesis() -> None:
    """Assemble and check a genesis from the members' public validator cards."""


genesis_file_argument = click.argument("genesis_file", type=click.Path(dir_okay=False))


@genesis.command("new")
@genesis_file_argument
@click.option("--chain-id", required=True)
@click.option("--shards", "shard_count", default=1, show_default=True, type=int)
@click.option("--genesis-time-ms", default=0, show_default=True, type=int)
@click.option("--force", is_flag=True, help="overwrite an existing file")
def genesis_new(genesis_file: str, chain_id: str, shard_count: int, genesis_time_ms: int,
                force: bool) -> None:
    """Start a genesis with no validators yet."""
    from node.consortium import new_genesis, write_genesis

    if Path(genesis_file).exists() and not force:
        fail(ExitCode.FAILED, f"{genesis_file} exists (use --force to replace it)")
    write_genesis(genesis_file, new_genesis(chain_id, shard_count, genesis_time_ms))
    click.echo(f"wrote {genesis_file}: chain {chain_id}, {shard_count} shard(s)")


@genesis.command("add-validator")
@genesis_file_argument
@click.option("--card", "card_file", default=None, type=click.Path(dir_okay=False),
              help="a member's validator.json (from agora keygen --validator)")
@click.option("--name", default=None)
@click.option("--public-key", default=None, help="64 hex digits")
@click.option("--p2p-address", default=None, help="host:port")
@click.option("--rpc-address", default=None, help="http://host:port")
def genesis_add_validator(genesis_file: str, card_file: str | None, name: str | None,
                          public_key: str | None, p2p_address: str | None,
                          rpc_address: str | None) -> None:
    """Append a validator (its index is its place in the list)."""
    from consensus.errors import ConfigError
    from node.consortium import add_validator, load_card, read_draft, write_genesis
    from node.genesis import Validator

    draft = read_draft(genesis_file)
    if card_file is not None:
        validator = load_card(card_file)
    else:
        missing = [flag for flag, value in (("--name", name), ("--public-key", public_key),
                                            ("--p2p-address", p2p_address)) if not value]
        if missing:
            raise click.UsageError("give --card FILE, or " + ", ".join(missing))
        assert name is not None and public_key is not None and p2p_address is not None
        try:
            key = bytes.fromhex(public_key.removeprefix("0x"))
        except ValueError:
            raise ConfigError([f"--public-key must be hex, got {public_key!r}"]) from None
        validator = Validator(name, key, p2p_address, rpc_address or "http://127.0.0.1:8545")
    updated = add_validator(draft, validator)
    write_genesis(genesis_file, updated)
    click.echo(f"validator {len(updated.validators) - 1}: {validator.name} "
               f"{validator.public_key.hex()} at {validator.p2p_address}")


@genesis.command("add-balance")
@genesis_file_argument
@click.option("--address", required=True, help="account address (64 hex digits)")
@click.option("--amount", required=True, type=int)
@click.option("--issuer", is_flag=True, help="also allow this account to mint")
def genesis_add_balance(genesis_file: str, address: str, amount: int, issuer: bool) -> None:
    """Credit an account at genesis."""
    from consensus.errors import ConfigError
    from node.consortium import add_balance, read_draft, write_genesis

    try:
        raw = bytes.fromhex(address.removeprefix("0x"))
    except ValueError:
        raise ConfigError([f"--address must be hex, got {address!r}"]) from None
    write_genesis(genesis_file, add_balance(read_draft(genesis_file), raw, amount,
                                            issuer=issuer))
    click.echo(f"balance {raw.hex()}: {amount}{' (issuer)' if issuer else ''}")


@genesis.command("set")
@genesis_file_argument
@click.argument("assignments", nargs=-1, required=True)
def genesis_set(genesis_file: str, assignments: tuple[str, ...]) -> None:
    """Set fields: KEY=VALUE ... (chain_id, shard_count, genesis_time_ms, consensus.NAME)."""
    from node.consortium import read_draft, set_field, write_genesis

    draft = read_draft(genesis_file)
    for assignment in assignments:
        draft = set_field(draft, assignment)
    write_genesis(genesis_file, draft)
    click.echo(f"set {', '.join(assignments)}")


@genesis.command("validate")
@genesis_file_argument
def genesis_validate(genesis_file: str) -> None:
    """Check the whole genesis (every problem listed); print its summary and hash."""
    from node.genesis import load_genesis

    checked = load_genesis(genesis_file)
    checked.check_python_version()
    click.echo(f"ok: chain {checked.chain_id}, {checked.shard_count} shard(s), "
               f"{len(checked.validators)} validators (f = {checked.fault_tolerance}), "
               f"{len(checked.balances)} balances")
    click.echo(f"hash {checked.hash().hex()}")


@genesis.command("hash")
@genesis_file_argument
def genesis_hash(genesis_file: str) -> None:
    """Print the genesis hash every member compares (and every peer handshake checks)."""
    from node.genesis import load_genesis

    click.echo(load_genesis(genesis_file).hash().hex())


# -- config --------------------------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Check a node's configuration."""


@config_group.command("check")
@home_option
def config_check(home_dir: str | None) -> None:
    """Check config.toml (with AGORA_* overrides), the genesis and the key, as `node start`
    would, without starting: every problem listed, exit code 0 when all is well."""
    from consensus.errors import ConfigError
    from node.consortium import resolve_node_index
    from node.genesis import check_config_against_genesis, load_genesis
    from node.keys import load_signer

    config = _open_config(home_dir)
    genesis_ = load_genesis(config.node.resolve("genesis_file"))
    genesis_.check_python_version()
    problems = check_config_against_genesis(config, genesis_)
    if problems:
        raise ConfigError(problems)
    signer = load_signer(config.node.resolve("key_file"))
    index = resolve_node_index(config.node.node_index, genesis_, signer.public_key)
    click.echo(f"ok: {config.node.home_dir} is validator {index} "
               f"({genesis_.validators[index].name}) of chain {genesis_.chain_id}, "
               f"genesis {genesis_.hash().hex()}")

main.add_command(__import__("node.contract_cli").contract_cli.contract)  # agora contract


def run_module() -> None:  # python -m node.cli
    main()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

__all__ = ["main"]

