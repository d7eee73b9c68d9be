"""``agora bench``: load a real cluster with pre-signed transactions and report what it
finalized.

    agora bench --validators 4 --shards 1 --duration 60 --warmup 10          # closed loop
    agora bench --shards 2 --cross-shard-share 0.2 --mode open --rate 1500
    agora bench --rpc http://127.0.0.1:8545 --rpc http://127.0.0.1:8546     # running nodes
    agora bench --workload list

How it works:

1. *Cluster.* Without ``--rpc`` it writes a fresh cluster directory (a temporary one
   unless ``--dir``) whose genesis funds every bench sender, picks a free block of ports
   on 127.0.0.1 and starts every validator as its own process (``node/setup.py``). With
   ``--rpc`` it targets running nodes; their genesis must fund the bench senders
   (``agora bench --init-only --dir D`` writes such a cluster, ``agora cluster up --dir
   D`` runs it), which the harness checks and warns about.
2. *Transactions* are generated from a seed (``bench/workloads.py``) and signed by a
   ``multiprocessing`` pool before the load starts, so the generator only sends bytes:
   JSON-RPC batches of ``--batch`` calls, ``--connections`` sender threads spread round
   robin over the nodes' RPC URLs (the nodes gossip txs to each other).
3. *Load.* Closed loop (default): keep ``--outstanding`` txs submitted but not yet seen
   finalized. Open loop (``--mode open``): submit at ``--rate`` txs/s whatever happens.
   A tx not seen finalized within ``--tx-timeout`` seconds is counted lost and stops
   counting as outstanding.
4. *Observation.* One thread polls the last node for new blocks of every shard
   (``agora_getBlock`` for the next heights, all shards in one batch request, every
   ``--poll-interval`` seconds). A tx is finalized when the harness first sees its block;
   that time against the submit time is its latency (``bench/report.py`` defines every
   figure). The WebSocket ``newBlocks`` subscription would push blocks instead, but it
   is one session per shard and still height by height; one batched poll covers all
   shards in one round trip and its quantization (<= the poll interval) is stated.
5. *Report.* Status (views, view changes) and mempool rejection counters of every node
   before and after, a sample of receipts (statuses), then ``report.json``,
   ``report.md`` and ``report.png`` in ``--out``; the Markdown table is also printed.
   ``--profile`` adds py-spy profiles of some nodes during the window
   (``profile-nodeK.txt``: shares of samples per function, see ``bench/profile.py``).

The machine running the harness also runs the nodes: the harness's own CPU use (sending,
polling) competes with them. Compare figures by ratio within one run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import multiprocessing
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import profile as bench_profile
from bench import report as reporting
from bench import workloads
from node.setup import free_port_block
from bench.report import SeenBlock

code_not_available = -32012
ports_per_validator = 3
ready_timeout_seconds = 90.0
first_block_timeout_seconds = 60.0
receipt_sample_max = 300
rpc_batch_calls_max = 100  # the node's default rpc.batch_length_max
http_timeout_seconds = 30.0


# -- arguments ---------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    return _checked(parser, parser.parse_args(argv))


def build_parser() -> argparse.ArgumentParser:
    """The options of ``agora bench`` (node/cli.py renders its help in the CLI's style)."""
    parser = argparse.ArgumentParser(
        prog="agora bench",
        description="Benchmark a local cluster or running nodes. See bench/harness.py for "
        "how it works.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    target = parser.add_argument_group("target")
    target.add_argument("--validators", type=int, default=4)
    target.add_argument("--shards", type=int, default=1)
    target.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default: a fresh temporary one)")
    target.add_argument("--rpc", action="append", default=[], metavar="URL",
                        help="target running nodes instead (repeat for each node)")
    target.add_argument("--init-only", action="store_true",
                        help="write a cluster directory funding the bench senders and exit")
    target.add_argument("--keep-cluster", action="store_true",
                        help="leave the cluster directory (node logs) in place")
    target.add_argument("--consensus", action="append", default=[], metavar="KEY=VALUE",
                        help="[consensus] override for a cluster the harness creates")
    target.add_argument("--gas-price", type=int, default=None,
                        help="genesis gas price of a cluster the harness creates (0: no "
                        "fees; default: agora init's, node/setup.py local_gas_price)")
    load = parser.add_argument_group("load")
    load.add_argument("--workload", default="native_transfer",
                      help="a workload name, 'mix', or 'list' to show what is available")
    load.add_argument("--mix", default=None,
                      help="weights for --workload mix, e.g. native_transfer=3,nft_mint=1")
    load.add_argument("--cross-shard-share", type=float, default=0.0,
                      help="fraction of transfers to an account of another shard (S > 1)")
    load.add_argument("--mode", choices=("closed", "open"), default="closed")
    load.add_argument("--outstanding", type=int, default=4000,
                      help="closed loop: txs kept submitted but not yet finalized")
    load.add_argument("--rate", type=float, default=1000.0, help="open loop: txs per second")
    load.add_argument("--tick-ms", type=int, default=20,
                      help="open loop: txs fall due in steps of this many ms (rate x tick "
                      "per step, sent in batches), not one by one")
    load.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    load.add_argument("--warmup", type=float, default=10.0,
                      help="seconds of load before the measurement window")
    load.add_argument("--drain", type=float, default=10.0,
                      help="seconds to keep watching blocks after the load stops")
    load.add_argument("--senders-per-shard", type=int, default=1000)
    load.add_argument("--connections", type=int, default=8, help="sender threads")
    load.add_argument("--batch", type=int, default=rpc_batch_calls_max,
                      help="calls per JSON-RPC batch request")
    load.add_argument("--presign-tps", type=float, default=2500.0,
                      help="closed loop: sign this many txs per second of run ahead")
    load.add_argument("--sign-processes", type=int, default=os.cpu_count() or 1)
    load.add_argument("--tx-timeout", type=float, default=30.0)
    load.add_argument("--expiry-blocks", type=int, default=900,
                      help="txs expire this many blocks above the height at signing time "
                      "(the node accepts at most mempool.validity_window_blocks, 1000)")
    load.add_argument("--poll-interval", type=float, default=0.05)
    load.add_argument("--seed", type=int, default=None,
                      help="seed of the tx stream (default: random, so a rerun against the "
                      "same nodes sends new txs; recorded in the report)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=None,
                        help="output directory (default: a new one under the temp dir)")
    output.add_argument("--no-progress", action="store_true")
    output.add_argument("--profile", action="store_true",
                        help="py-spy the nodes of --profile-nodes during the measurement "
                        "window (local cluster; needs py-spy in the venv or on PATH)")
    output.add_argument("--profile-nodes", default="0,1",
                        help="node indexes to profile (node0 is the first primary)")
    output.add_argument("--profile-seconds", type=float, default=20.0)
    return parser


def _checked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.seed is None:
        args.seed = random.SystemRandom().getrandbits(32)
    problems = []
    if args.rpc and (args.init_only or args.dir):
        problems.append("--rpc targets running nodes: --dir/--init-only do not apply")
    if not 0.0 <= args.cross_shard_share <= 1.0:
        problems.append("--cross-shard-share is a fraction in [0, 1]")
    if args.duration <= 0 or args.warmup < 0:
        problems.append("--duration must be > 0 and --warmup >= 0")
    if not 1 <= args.batch <= rpc_batch_calls_max:
        problems.append(f"--batch must be in 1..{rpc_batch_calls_max}")
    if args.validators < 1 or args.shards < 1 or args.senders_per_shard < 2:
        problems.append("need >= 1 validator, >= 1 shard and >= 2 senders per shard")
    if args.profile and (args.rpc or bench_profile.py_spy_path() is None):
        problems.append("--profile needs a local cluster and py-spy (.venv/bin/pip install "
                        "py-spy)")
    if problems:
        parser.error("; ".join(problems))
    return args


def parse_overrides(items: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        overrides[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value
    return overrides


# -- JSON-RPC ---------------------------------------------------------------------------


class Rpc:
    """Batched JSON-RPC over one keep-alive HTTP connection (one per thread)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=http_timeout_seconds)
        self.ids = itertools.count(1)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Replies in call order; each has ``result`` or ``error``."""
        first = next(self.ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": method, "params": params}
                for i, (method, params) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self.ids)
        response = self.http.post(self.url, content=json.dumps(body).encode(),
                                  headers={"content-type": "application/json"})
        reply = response.json()
        if not isinstance(reply, list):
            raise RuntimeError(f"{self.url}: batch answered with {reply!r:.300}")
        by_id = {item.get("id"): item for item in reply}
        return [by_id.get(first + i, {"error": {"code": 0, "message": "no reply"}})
                for i in range(len(calls))]

    def call(self, method: str, *params: Any) -> Any:
        reply = self.batch([(method, list(params))])[0]
        if "error" in reply:
            raise RuntimeError(f"{self.url} {method}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self.http.close()


def error_reason(error: dict[str, Any]) -> str:
    data = error.get("data")
    if isinstance(data, dict) and data.get("reason"):
        return str(data["reason"])
    return f"code {error.get('code')}"


def probe_capabilities(rpc: Rpc) -> workloads.Capabilities:
    """Contract calls are available unless ``agora_call`` answers NOT_AVAILABLE."""
    reply = rpc.batch([("agora_call", ["00" * 32, "probe"])])[0]
    error = reply.get("error")
    available = not (error and error.get("code") == code_not_available)
    return workloads.Capabilities(contract_calls=available)


# -- the local cluster ------------------------------------------------------------------


def init_bench_cluster(directory: Path, args: argparse.Namespace,
                       plan: workloads.AccountPlan) -> None:
    from node.genesis import Balance
    from node.setup import init_cluster

    base = free_port_block(ports_per_validator * args.validators)
    init_cluster(directory, args.validators, args.shards, "agora-bench",
                 p2p_port=base, rpc_port=base + args.validators,
                 metrics_port=base + 2 * args.validators,
                 extra_balances=tuple(Balance(sender.address, workloads.sender_balance)
                                      for sender in plan.senders),
                 consensus_overrides=parse_overrides(args.consensus) or None,
                 gas_price=args.gas_price)


@dataclass(frozen=True, slots=True)
class Target:
    urls: list[str]
    pids: list[int]  # of node processes the harness started (empty for --rpc)


@contextmanager
def local_cluster(args: argparse.Namespace, plan: workloads.AccountPlan,
                  console: Any) -> Iterator[Target]:
    from node.setup import LocalCluster

    temporary = args.dir is None
    directory = Path(tempfile.mkdtemp(prefix="agora-bench-")) if temporary else args.dir
    if not (directory / "genesis.json").exists():
        init_bench_cluster(directory, args, plan)
    cluster = LocalCluster(directory, args.validators, args.shards)
    console.print(f"cluster: {len(cluster.homes)} validators in {directory}")
    try:
        cluster.start()
        cluster.wait_ready(timeout_seconds=ready_timeout_seconds)
        yield Target(list(cluster.rpc_urls),
                     [cluster.processes[index].pid for index in sorted(cluster.processes)])
        cluster.check_alive()
    finally:
        cluster.stop()
        if temporary and not args.keep_cluster:
            shutil.rmtree(directory, ignore_errors=True)


def wait_first_blocks(rpc: Rpc, shard_count: int) -> list[int]:
    """Wait until every shard has finalized a block (consensus is live); latest heights."""
    deadline = time.monotonic() + first_block_timeout_seconds
    while True:
        status = rpc.call("agora_status")
        heights = [shard["height"] for shard in status["shards"]]
        if all(h >= 1 for h in heights):
            return heights
        if time.monotonic() > deadline:
            raise TimeoutError(f"no block on every shard after {first_block_timeout_seconds}s "
                               f"(heights {heights})")
        time.sleep(0.2)


# -- signing ahead of time --------------------------------------------------------------


def setup_token(url: str, plan: workloads.AccountPlan, console: Any) -> None:
    """Deploy the token template in shard 0 from sender 0 and fund every sender, so the
    measured run is transfers between funded accounts (not counted in the figures)."""
    from node.client import Account, AgoraClient

    token = workloads.WORKLOADS["token_transfer"]
    assert isinstance(token, workloads.TokenTransfer)
    client = AgoraClient(url, timeout_seconds=60.0)
    senders = plan.of_shard(token.contract_shard)  # they pay their fees in the token's shard
    issuer = Account.from_seed(senders[0].seed)
    source = (Path(__file__).resolve().parents[1] / "vm" / "templates" / "token.py").read_text()
    deploy = client.build_deploy(issuer, source, {"token_name": "Bench",
                                                  "amount": workloads.token_supply}, shard=0)
    receipt = client.submit_and_wait(deploy, timeout_seconds=60)
    if not receipt.get("ok"):
        raise SystemExit(f"token deploy failed: {receipt}")
    token.contract = deploy.contract
    height = client.latest_block(0)["height"]
    funding = [client.build_contract_call(
        issuer, deploy.contract, "transfer",
        {"to": sender.address, "amount": workloads.token_funds_per_sender},
        gas_limit=workloads.token_call_gas, nonce=index, expiry_height=height + 500)
        for index, sender in enumerate(senders[1:], 1)]
    chunk = 500  # under the mempool's per-sender bound (1,000)
    for start in range(0, len(funding), chunk):
        part = funding[start:start + chunk]
        rpc = Rpc(url)
        for offset in range(0, len(part), 100):
            rpc.batch([("agora_sendTransaction", [tx.encoded().hex()])
                       for tx in part[offset:offset + 100]])
        rpc.close()
        last = client.submit_and_wait(part[-1], timeout_seconds=60)
        if not last.get("ok"):
            raise SystemExit(f"token funding failed: {last}")
    console.print(f"token deployed at {deploy.contract.hex()[:16]}…, "
                  f"{len(funding)} senders funded")


setup_wave_txs_max = 8000  # setup txs in flight at once (the mempool holds 50,000/shard)
setup_wave_sender_max = 400  # per sender and wave (the mempool holds 1,000 per sender)
setup_expiry_blocks = 500
setup_receipt_poll_seconds = 0.2
setup_batch_bytes_max = 768 * 1024
setup_txs_max = 400_000  # refuse a setup larger than this (lower --presign-tps)
setup_account_funds = 10**9  # native units for the fees of a setup account (a seller)


def setup_workloads(url: str, plan: workloads.AccountPlan, weights: dict[str, float],
                    count: int, args: argparse.Namespace, console: Any) -> None:
    """Deploy and prepare what the contract workloads of ``weights`` need (not measured).
    Pool-backed workloads (nft_transfer, marketplace_purchase) get exactly what the
    ``count`` specs the harness will presign use: a dry run of the same generation."""
    if "token_transfer" in weights:
        setup_token(url, plan, console)
    collectibles = [name for name in ("nft_mint", "nft_transfer") if name in weights]
    market = "marketplace_purchase" in weights
    if not collectibles and not market:
        return
    runner = SetupRunner(url, plan, args.sign_processes, console)
    try:
        deploys = runner.plan_collections(collectibles) if collectibles else []
        world = runner.plan_market() if market else None
        needs = workloads.pool_needs(workloads.generate_specs(
            plan, weights, count, args.cross_shard_share, args.seed))
        total = sum(needs.nft_tokens.values()) + 2 * needs.listings
        if total > setup_txs_max:
            raise SystemExit(f"setup would need {total:,} txs (> {setup_txs_max:,}): lower "
                             "--presign-tps or --duration")
        if deploys:
            runner.run(deploys, "deploy one collection per sender")
        if needs.nft_tokens:
            runner.run([runner.pool_mint(index, sequence)
                        for sequence in range(max(needs.nft_tokens.values()))
                        for index, wanted in needs.nft_tokens.items() if sequence < wanted],
                       "mint the nft_transfer tokens")
        if world is not None:
            runner.setup_market(world, needs.listings)
    finally:
        runner.close()


@dataclass
class MarketWorld:
    """Addresses of a marketplace set up for the bench (all contracts in shard 0)."""

    issuer: int  # account index of the deployer: token issuer, KYC admin, governor
    sellers: list[int]
    others: dict[str, int]  # rights holder, channel, platform
    funding: list[workloads.TxSpec]  # native funds for the sellers' fees, sent first
    deploys: list[workloads.TxSpec]
    contracts: dict[str, bytes]
    collections: list[bytes]  # by seller


class SetupRunner:
    """Setup txs as :class:`workloads.TxSpec`, signed by a process pool, sent in waves of
    JSON-RPC batches; each wave waits for every receipt (deadline) and fails loudly on a
    refused tx or a failed receipt. Extra accounts (market sellers, payees) are appended
    to the plan's senders by index."""

    def __init__(self, url: str, plan: workloads.AccountPlan, processes: int,
                 console: Any) -> None:
        self.url = url
        self.plan = plan
        self.console = console
        self.rpc = Rpc(url)
        status = self.rpc.call("agora_status")
        self.chain_id, self.shard_count = status["chain_id"], status["shard_count"]
        self.seeds = [sender.seed for sender in plan.senders]
        self.shards = [sender.shard for sender in plan.senders]
        self.processes = max(1, processes)
        self._pool_context = signing_pool(self.processes)
        self.pool = self._pool_context.__enter__()
        self.nonces = random.SystemRandom()
        self.collections: tuple[bytes, ...] = ()

    def close(self) -> None:
        self._pool_context.__exit__(None, None, None)
        self.rpc.close()

    def add_account(self, name: str, shard: int) -> int:
        """A setup account of ``shard`` (not in the genesis: fund it with ``fund``)."""
        from consensus.types import Signer
        from ledger.sharding import shard_of_account

        attempt = 0
        while True:
            seed = workloads.sender_seed(len(self.seeds), b"agora-bench-setup/%s/%d" % (
                name.encode(), attempt))
            if shard_of_account(Signer(seed).public_key, self.shard_count) == shard:
                break
            attempt += 1
        self.seeds.append(seed)
        self.shards.append(shard)
        return len(self.seeds) - 1

    def fund(self, funder: int, indexes: list[int]) -> list[workloads.TxSpec]:
        """Native transfers giving each account ``setup_account_funds`` for its fees."""
        return [workloads.TxSpec("setup", funder, b"", "transfer",
                                 (self.address(index), setup_account_funds),
                                 self.nonces.getrandbits(63)) for index in indexes]

    def address(self, index: int) -> bytes:
        from consensus.types import Signer

        return Signer(self.seeds[index]).public_key

    def deploy(self, index: int, template: str, shard: int, **init: Any
               ) -> workloads.TxSpec:
        """A deploy spec by account ``index`` at an address in ``shard`` (fresh per run)."""
        from ledger.contracts import contract_address, find_deploy_nonce

        address = self.address(index)
        nonce = find_deploy_nonce(address, shard, self.shard_count,
                                  self.nonces.getrandbits(40))
        source = (Path(__file__).resolve().parents[1] / "vm" / "templates"
                  / f"{template}.py").read_text()
        return workloads.TxSpec("setup", index, contract_address(address, nonce), "_deploy",
                                (("args", init), ("source", source)), nonce,
                                gas_limit=2_000_000)

    def call(self, index: int, contract: bytes, method: str, gas: int = 200_000,
             **args: Any) -> workloads.TxSpec:
        return workloads.TxSpec("setup", index, contract, method, tuple(sorted(args.items())),
                                self.nonces.getrandbits(63), gas_limit=gas)

    # -- collectibles -------------------------------------------------------------------

    def plan_collections(self, names: list[str]) -> list[workloads.TxSpec]:
        deploys = [self.deploy(sender.index, "nft", sender.shard)
                   for sender in self.plan.senders]
        collections = tuple(spec.contract for spec in deploys)
        for name in names:
            workload = workloads.WORKLOADS[name]
            assert isinstance(workload, workloads.NftMint | workloads.NftTransfer)
            workload.collections = collections
        self.collections = collections
        return deploys

    def pool_mint(self, index: int, sequence: int) -> workloads.TxSpec:
        return self.call(index, self.collections[index], "mint", workloads.nft_call_gas,
                         to=self.plan.senders[index].address,
                         token=workloads.nft_token_id(index, sequence),
                         royalty_bp=workloads.nft_royalty_bp)

    # -- marketplace ----------------------------------------------------------------------

    def plan_market(self) -> MarketWorld:
        market = workloads.WORKLOADS["marketplace_purchase"]
        assert isinstance(market, workloads.MarketplacePurchase)
        shard = market.contract_shard
        issuer = self.plan.of_shard(shard)[0].index
        others = {name: self.add_account(name, shard)
                  for name in ("rights", "channel", "platform")}
        sellers = [self.add_account(f"seller{i}", shard)
                   for i in range(workloads.market_sellers)]
        deploys = [self.deploy(issuer, "kyc", shard)]
        kyc = deploys[-1].contract
        deploys.append(self.deploy(issuer, "token", shard, token_name="Bench",
                                   amount=workloads.token_supply, kyc_registry=kyc))
        token = deploys[-1].contract
        deploys.append(self.deploy(issuer, "split", shard, token_address=token, payee_list=[
            self.address(others["rights"]), self.address(issuer),
            self.address(others["channel"])]))
        split = deploys[-1].contract
        deploys.append(self.deploy(issuer, "market", shard, token_address=token,
                                   fee=workloads.market_fee_bp,
                                   recipient=self.address(others["platform"]),
                                   kyc_registry=kyc, deviation_bp=5000, cooldown=3600))
        contracts = {"kyc": kyc, "token": token, "split": split,
                     "market": deploys[-1].contract}
        collection_deploys = [self.deploy(seller, "nft", shard) for seller in sellers]
        market.market = contracts["market"]
        return MarketWorld(issuer, sellers, others, self.fund(issuer, sellers),
                           deploys + collection_deploys, contracts,
                           [spec.contract for spec in collection_deploys])

    def setup_market(self, world: MarketWorld, listings: int) -> None:
        c = world.contracts
        issuer, market = world.issuer, c["market"]
        self.run(world.funding, "fund the sellers' fees")
        self.run(world.deploys, "deploy KYC, token, split, market and seller collections")
        self.run([self.call(issuer, c["kyc"], "add_verifier", verifier=self.address(issuer)),
                  self.call(issuer, market, "govern", action=["register_split", c["split"]])]
                 + [self.call(issuer, market, "govern", action=["allow_collection", address])
                    for address in world.collections], "configure KYC and market")
        buyers = [sender.index for sender in workloads.senders_of("marketplace_purchase",
                                                                  self.plan)]
        per_seller = [listings // len(world.sellers)
                      + (1 if position < listings % len(world.sellers) else 0)
                      for position in range(len(world.sellers))]
        items = [(position, seller, item)
                 for position, seller in enumerate(world.sellers)
                 for item in range(1, per_seller[position] + 1)]
        prepare = [self.call(issuer, c["kyc"], "register", who=self.address(index), level=1)
                   for index in buyers + world.sellers]
        prepare += [self.call(issuer, c["token"], "transfer", to=self.address(index),
                              amount=workloads.token_funds_per_sender)
                    for index in buyers if index != issuer]
        prepare += [self.call(index, c["token"], "approve", spender=market,
                              amount=workloads.token_supply) for index in buyers]
        prepare += [self.call(seller, world.collections[position], "set_approval_for_all",
                              operator=market, approved=True)
                    for position, seller in enumerate(world.sellers) if per_seller[position]]
        prepare += [self.call(seller, world.collections[position], "mint",
                              workloads.nft_call_gas, to=self.address(seller), token=item,
                              royalty_bp=workloads.market_royalty_bp,
                              royalty_receiver=c["split"])
                    for position, seller, item in items]
        self.run(prepare, "KYC, fund and approve buyers; mint the items")
        self.run([self.call(seller, market, "list_item", collection=world.collections[position],
                            item=item, price=workloads.market_price)
                  for position, seller, item in items], f"list {listings:,} items")

    # -- sending ------------------------------------------------------------------------

    def run(self, specs: list[workloads.TxSpec], what: str) -> None:
        """Send ``specs`` and wait until all are committed OK; raise SystemExit if not."""
        started = time.monotonic()
        remaining = specs
        while remaining:
            wave: list[workloads.TxSpec] = []
            rest: list[workloads.TxSpec] = []
            per_sender: Counter[int] = Counter()
            for spec in remaining:
                if len(wave) < setup_wave_txs_max and \
                        per_sender[spec.sender] < setup_wave_sender_max:
                    wave.append(spec)
                    per_sender[spec.sender] += 1
                else:
                    rest.append(spec)
            self._wave(wave, what)
            remaining = rest
        self.console.print(f"setup: {what}: {len(specs):,} txs in "
                           f"{time.monotonic() - started:.1f} s")

    def _wave(self, specs: list[workloads.TxSpec], what: str) -> None:
        heights = [shard["height"] for shard in self.rpc.call("agora_status")["shards"]]
        expiry = tuple(height + setup_expiry_blocks for height in heights)
        chunk = max(1, min(1000, math.ceil(len(specs) / self.processes)))
        jobs = [workloads.SignJob(self.chain_id, tuple(self.seeds), expiry,
                                  tuple(self.shards), specs[i:i + chunk])
                for i in range(0, len(specs), chunk)]
        signed = [item for part in self.pool.imap(workloads.sign_specs, jobs) for item in part]
        start = 0
        while start < len(signed):
            end, size = start, 0  # the node caps a request body at 1 MiB (deploys are big)
            while end < len(signed) and end - start < rpc_batch_calls_max and \
                    (end == start or size + len(signed[end][1]) < setup_batch_bytes_max):
                size += len(signed[end][1]) + 100
                end += 1
            part, start = signed[start:end], end
            replies = self.rpc.batch([("agora_sendTransaction", [tx_hex]) for _, tx_hex in part])
            for reply, spec in zip(replies, specs[end - len(part):end], strict=True):
                if "error" in reply:
                    raise SystemExit(f"setup ({what}): {spec.method} refused: "
                                     f"{error_reason(reply['error'])}: {reply['error']}")
        pending = {tx_hash: spec for (tx_hash, _), spec in zip(signed, specs, strict=True)}
        order = [tx_hash for tx_hash, _ in signed]
        deadline = time.monotonic() + 60.0 + len(specs) / 100
        while pending:
            order = [tx_hash for tx_hash in order if tx_hash in pending]
            for start in range(0, len(order), rpc_batch_calls_max):
                part = order[start:start + rpc_batch_calls_max]
                replies = self.rpc.batch([("agora_getReceipt", [h.hex()]) for h in part])
                found = 0
                for tx_hash, reply in zip(part, replies, strict=True):
                    receipt = reply.get("result")
                    if not receipt:
                        continue
                    found += 1
                    spec = pending.pop(tx_hash)
                    if not receipt.get("ok"):
                        raise SystemExit(f"setup ({what}): {spec.method} failed: "
                                         f"{receipt.get('status_name')}: {receipt.get('error')}")
                if not found:
                    break  # txs commit about in submission order: the rest can wait
            if not pending:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"setup ({what}): {len(pending):,} of {len(specs):,} txs "
                                 "not committed before the deadline")
            time.sleep(setup_receipt_poll_seconds)


@contextmanager
def signing_pool(processes: int) -> Iterator[Any]:
    """A process pool that ends gracefully: its workers finish and exit on their own.

    ``with Pool()`` ends with ``terminate()``, which kills workers at any point, also while
    one holds the task queue's lock; a sibling blocked on that lock then never exits and
    the join hangs (the harness hung there after signing, once in a few runs)."""
    context = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    pool = context.Pool(processes)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def presign(args: argparse.Namespace, plan: workloads.AccountPlan, weights: dict[str, float],
            chain_id: str, heights: list[int], count: int, progress: Any
            ) -> list[tuple[bytes, str]]:
    specs = workloads.generate_specs(plan, weights, count, args.cross_shard_share, args.seed)
    expiry = tuple(h + args.expiry_blocks for h in heights)
    chunk = 2000
    jobs = [workloads.SignJob(chain_id, tuple(s.seed for s in plan.senders), expiry,
                              tuple(s.shard for s in plan.senders), specs[i:i + chunk])
            for i in range(0, len(specs), chunk)]
    task = progress.add_task("signing txs", total=len(specs), info=f"{len(specs):,} txs")
    signed: list[tuple[bytes, str]] = []
    with signing_pool(max(1, args.sign_processes)) as pool:
        for part in pool.imap(workloads.sign_specs, jobs):
            signed.extend(part)
            progress.advance(task, len(part))
    progress.remove_task(task)
    return signed


# -- load and observation ---------------------------------------------------------------


@dataclass
class LoadState:
    """Shared by the sender threads and the block tracker (one lock, one condition)."""

    txs: list[tuple[bytes, str]]
    start: float = field(default_factory=time.monotonic)
    next_index: int = 0
    submit_seconds: dict[bytes, float] = field(default_factory=dict)
    pending: dict[bytes, float] = field(default_factory=dict)
    rejections: Counter[str] = field(default_factory=Counter)
    accepted_per_bucket: list[int] = field(default_factory=list)
    blocks: list[SeenBlock] = field(default_factory=list)
    finalized_ours: int = 0
    lost: int = 0
    exhausted_at: float | None = None
    scheduled: int = 0
    stop_sending: threading.Event = field(default_factory=threading.Event)
    stop_tracking: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def now(self) -> float:
        return time.monotonic() - self.start

    def take(self, count: int) -> list[tuple[bytes, str]]:
        """Next ``count`` pre-signed txs (fewer when the pool runs out); caller holds the
        condition."""
        part = self.txs[self.next_index:self.next_index + count]
        self.next_index += len(part)
        if not part and self.exhausted_at is None:
            self.exhausted_at = self.now()
        return part


def _closed_batch(state: LoadState, outstanding: int, batch: int) -> list[tuple[bytes, str]]:
    with state.condition:
        while len(state.pending) >= outstanding and not state.stop_sending.is_set():
            state.condition.wait(0.05)
        if state.stop_sending.is_set():
            return []
        return state.take(min(batch, outstanding - len(state.pending)))


def open_loop_due(rate: float, tick_seconds: float, now: float) -> int:
    """Txs due by ``now`` at ``rate``, released at whole ticks (all of a tick's txs at
    its start): with one-by-one release the sender threads each grabbed the one or two
    txs just due and sent tiny batches, and the nodes spent more per tx on requests."""
    return int(rate * tick_seconds * (1 + math.floor(now / tick_seconds)))


def _open_batch(state: LoadState, rate: float, batch: int,
                tick_seconds: float) -> tuple[list[tuple[bytes, str]], float]:
    """The next txs due and when the first of them fell due (their latency clock starts
    then, not when a sender thread got to them: no coordinated omission)."""
    while not state.stop_sending.is_set():
        with state.condition:
            now = state.now()
            due = open_loop_due(rate, tick_seconds, now) - state.scheduled
            if due > 0:
                due_at = tick_seconds * math.floor(state.scheduled / (rate * tick_seconds))
                part = state.take(min(batch, due))
                state.scheduled += len(part)
                return part, min(due_at, now)
            wait = tick_seconds * (1 + math.floor(now / tick_seconds)) - now
        time.sleep(max(0.001, min(wait, 0.05)))
    return [], 0.0


def sender_loop(state: LoadState, url: str, args: argparse.Namespace) -> None:
    rpc = Rpc(url)
    try:
        while not state.stop_sending.is_set():
            due_at = None
            if args.mode == "closed":
                part = _closed_batch(state, args.outstanding, args.batch)
            else:
                part, due_at = _open_batch(state, args.rate, args.batch, args.tick_ms / 1000)
            if not part:
                if state.exhausted_at is not None:
                    return
                continue
            _send(state, rpc, part, due_at)
    except Exception as error:  # a dead sender must be visible in the report, not silent
        state.errors.append(f"sender {url}: {error!r}")
        raise
    finally:
        rpc.close()


def _send(state: LoadState, rpc: Rpc, part: list[tuple[bytes, str]],
          due_at: float | None = None) -> None:
    submitted_at = state.now() if due_at is None else due_at
    with state.condition:
        for tx_hash, _ in part:
            state.submit_seconds[tx_hash] = submitted_at
            state.pending[tx_hash] = submitted_at
    try:
        replies = rpc.batch([("agora_sendTransaction", [tx_hex]) for _, tx_hex in part])
    except (httpx.HTTPError, ValueError, RuntimeError) as error:
        replies = [{"error": {"code": 0, "data": {"reason": f"TRANSPORT {type(error).__name__}"}}}
                   ] * len(part)
    accepted = 0
    with state.condition:
        for (tx_hash, _), reply in zip(part, replies, strict=True):
            if "error" in reply:
                state.rejections[error_reason(reply["error"])] += 1
                state.submit_seconds.pop(tx_hash, None)
                state.pending.pop(tx_hash, None)
            else:
                accepted += 1
        bucket = int(submitted_at)
        while len(state.accepted_per_bucket) <= bucket:
            state.accepted_per_bucket.append(0)
        state.accepted_per_bucket[bucket] += accepted
        state.condition.notify_all()


class BlockTracker:
    """Polls one node for the next blocks of every shard; marks our txs finalized.

    Each poll asks for the next ``lookahead`` heights of every shard in one batch. Most
    polls find none or one new block (5 blocks/s against 20 polls/s), so it asks for
    ``lookahead_min`` heights and doubles that (up to ``lookahead_max``) only while the
    node had every height it asked for: a fixed 16 made the polled node answer ~300
    empty agora_getBlock calls a second, 2-3% of the cluster's CPU."""

    def __init__(self, state: LoadState, url: str, next_heights: list[int],
                 poll_interval_seconds: float, tx_timeout_seconds: float) -> None:
        self.state = state
        self.rpc = Rpc(url)
        self.next_heights = list(next_heights)
        self.poll_interval_seconds = poll_interval_seconds
        self.tx_timeout_seconds = tx_timeout_seconds
        self.lookahead_max = max(1, min(16, rpc_batch_calls_max // len(next_heights)))
        self.lookahead = self.lookahead_min = min(2, self.lookahead_max)
        self.poll_failures = 0

    def run(self) -> None:
        last_sweep = 0.0
        try:
            while not self.state.stop_tracking.is_set():
                started = time.monotonic()
                try:
                    full = self.poll_once()
                except (httpx.HTTPError, ValueError) as error:
                    # A node restarting or going away: count it, keep polling.
                    self.poll_failures += 1
                    if self.poll_failures <= 3:
                        self.state.errors.append(f"block poll failed: {error!r}")
                    full = False
                if self.state.now() - last_sweep >= 1.0:
                    last_sweep = self.state.now()
                    self._sweep_lost()
                if not full:
                    time.sleep(max(0.0, self.poll_interval_seconds
                                   - (time.monotonic() - started)))
        except Exception as error:
            self.state.errors.append(f"block tracker: {error!r}")
            raise
        finally:
            self.rpc.close()

    def poll_once(self) -> bool:
        """Fetch new blocks; True if some shard may have more right away."""
        lookahead = self.lookahead
        calls = [("agora_getBlock", [shard, height, False])
                 for shard, next_height in enumerate(self.next_heights)
                 for height in range(next_height, next_height + lookahead)]
        replies = self.rpc.batch(calls)
        seen_at = self.state.now()
        more = False
        for shard in range(len(self.next_heights)):
            chunk = replies[shard * lookahead:(shard + 1) * lookahead]
            for reply in chunk:
                block = reply.get("result")
                if not block:
                    break
                self._record(shard, block, seen_at)
            else:
                more = True
        self.lookahead = (min(2 * lookahead, self.lookahead_max) if more
                          else self.lookahead_min)
        return more

    def _record(self, shard: int, block: dict[str, Any], seen_at: float) -> None:
        assert block["height"] == self.next_heights[shard], "blocks must come in order"
        self.next_heights[shard] += 1
        hashes = tuple(bytes.fromhex(text) for text in block["txs"])
        seen = SeenBlock(shard, block["height"], seen_at, block["timestamp_ms"],
                         block["view"], hashes)
        with self.state.condition:
            self.state.blocks.append(seen)
            for tx_hash in hashes:
                if self.state.pending.pop(tx_hash, None) is not None:
                    self.state.finalized_ours += 1
            self.state.condition.notify_all()

    def _sweep_lost(self) -> None:
        cutoff = self.state.now() - self.tx_timeout_seconds
        with self.state.condition:
            lost = [h for h, at in self.state.pending.items() if at < cutoff]
            for tx_hash in lost:
                del self.state.pending[tx_hash]
            self.state.lost += len(lost)
            self.state.condition.notify_all()


# -- status around the run --------------------------------------------------------------


def snapshot(urls: list[str]) -> list[dict[str, Any]]:
    """Status and mempool counters of every node (None for one that does not answer)."""
    out = []
    for url in urls:
        rpc = Rpc(url)
        try:
            replies = rpc.batch([("agora_status", []), ("agora_mempool", [])])
            out.append({"url": url, "status": replies[0].get("result"),
                        "mempool": replies[1].get("result")})
        except (httpx.HTTPError, ValueError, RuntimeError) as error:
            out.append({"url": url, "status": None, "mempool": None, "error": repr(error)})
        finally:
            rpc.close()
    return out


def compare_snapshots(before: list[dict[str, Any]], after: list[dict[str, Any]]
                      ) -> dict[str, Any]:
    per_node = []
    rejections: Counter[str] = Counter()
    for old, new in zip(before, after, strict=True):
        if not old.get("status") or not new.get("status"):
            per_node.append({"url": new["url"], "unreachable": True})
            continue
        changes = sum(s["view_changes"] for s in new["status"]["shards"]) - sum(
            s["view_changes"] for s in old["status"]["shards"])
        per_node.append({
            "url": new["url"], "view_changes": changes,
            "views": [s["view"] for s in new["status"]["shards"]],
            "heights": [s["height"] for s in new["status"]["shards"]],
            "txs_committed_delta": new["status"]["txs_committed"]
            - old["status"]["txs_committed"]})
        old_rejections = (old.get("mempool") or {}).get("rejections", {})
        for reason, count in ((new.get("mempool") or {}).get("rejections", {})).items():
            if count - old_rejections.get(reason, 0):
                rejections[reason] += count - old_rejections.get(reason, 0)
    return {
        "view_changes": max((node.get("view_changes", 0) for node in per_node), default=0),
        "nodes": per_node,
        "mempool_rejections_all_nodes": dict(sorted(rejections.items())),
    }


def sample_receipts(url: str, state: LoadState, seed: int) -> dict[str, int]:
    finalized = [h for block in state.blocks for h in block.tx_hashes
                 if h in state.submit_seconds]
    chosen = random.Random(seed).sample(finalized, min(receipt_sample_max, len(finalized)))
    statuses: Counter[str] = Counter()
    rpc = Rpc(url)
    try:
        for start in range(0, len(chosen), rpc_batch_calls_max):
            part = chosen[start:start + rpc_batch_calls_max]
            for reply in rpc.batch([("agora_getReceipt", [h.hex()]) for h in part]):
                receipt = reply.get("result")
                statuses["missing" if not receipt else receipt["status_name"]] += 1
    finally:
        rpc.close()
    return dict(sorted(statuses.items()))


# -- the run ----------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu_model": model, "memory_gib": memory_gib,
            "python": platform.python_version(), "platform": platform.platform()}


class Profiler:
    """py-spy on chosen nodes, started when the measurement window opens."""

    def __init__(self, args: argparse.Namespace, pids: list[int], out: Path) -> None:
        self.enabled = bool(args.profile and pids)
        indexes = [int(item) for item in args.profile_nodes.split(",") if item.strip()]
        self.targets = {index: pids[index] for index in indexes if 0 <= index < len(pids)}
        self.seconds = min(args.profile_seconds, args.duration)
        self.out = out
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        if self.enabled and not self.processes:
            for index, pid in self.targets.items():
                self.processes[index] = bench_profile.start(
                    pid, self.seconds, self.out / f"profile-node{index}.raw.txt")

    def finish(self, console: Any) -> dict[str, Any]:
        summaries: dict[str, Any] = {}
        for index, process in self.processes.items():
            try:
                _, errors = process.communicate(timeout=self.seconds + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, errors = process.communicate()
            raw = self.out / f"profile-node{index}.raw.txt"
            if not raw.exists():
                summaries[f"node{index}"] = {"error": errors.decode(errors="replace")[-500:]}
                continue
            summary = bench_profile.summarize(raw.read_text())
            summaries[f"node{index}"] = summary
            text = bench_profile.render(f"node{index}", summary)
            (self.out / f"profile-node{index}.txt").write_text(text)
            console.print(f"profile of node{index}: {self.out / f'profile-node{index}.txt'}")
        return summaries


class CpuMeter:
    """CPU seconds the node processes (``/proc/PID/stat``, local cluster only) and the
    harness itself used during the measurement window. CPU time per committed tx is much
    less sensitive to other tenants of a shared machine than TPS is."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start: tuple[float, list[float | None]] | None = None
        self.end: tuple[float, list[float | None]] | None = None

    def _node_seconds(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.ticks_per_second  # utime + stime

    def _read(self) -> tuple[float, list[float | None]]:
        return time.process_time(), [self._node_seconds(pid) for pid in self.pids]

    def mark_start(self) -> None:
        if self.start is None:
            self.start = self._read()

    def mark_end(self) -> None:
        if self.start is not None and self.end is None:
            self.end = self._read()

    def result(self, committed_txs: int, window_seconds: float) -> dict[str, Any]:
        if self.start is None or self.end is None:
            return {}
        harness = self.end[0] - self.start[0]
        nodes = [None if a is None or b is None else round(b - a, 2)
                 for a, b in zip(self.start[1], self.end[1], strict=True)]
        out: dict[str, Any] = {"harness_cpu_seconds": round(harness, 2),
                               "harness_cpu_share_of_one_core": round(harness / window_seconds, 3)}
        if nodes and all(value is not None for value in nodes):
            total = sum(value for value in nodes if value is not None)
            out["node_cpu_seconds"] = nodes
            out["node_cpu_cores_busy"] = round(total / window_seconds, 2)
            if committed_txs:
                milliseconds = 1000 * total / committed_txs
                out["node_cpu_ms_per_committed_tx"] = round(milliseconds, 3)
                out["tps_if_nodes_had_every_core"] = round(
                    (os.cpu_count() or 1) * 1000 / milliseconds)
        return out


def run_load(args: argparse.Namespace, urls: list[str], plan: workloads.AccountPlan,
             weights: dict[str, float], console: Any, profiler: Profiler,
             meter: CpuMeter) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    control = Rpc(urls[0])
    status = control.call("agora_status")
    chain_id, shard_count = status["chain_id"], status["shard_count"]
    if shard_count != plan.shard_count:
        raise SystemExit(f"the chain has {shard_count} shards, not {plan.shard_count} "
                         "(use --shards to match)")
    heights = wait_first_blocks(control, shard_count)
    _warn_unfunded(control, plan, console)
    total_seconds = args.warmup + args.duration
    count = math.ceil((args.rate if args.mode == "open" else args.presign_tps)
                      * total_seconds * 1.02) + args.batch
    if any(name != "native_transfer" for name in weights):
        setup_workloads(urls[0], plan, weights, count, args, console)
        heights = [shard["height"] for shard in control.call("agora_status")["shards"]]
    bound = verification_bound(len(control.call("agora_validators")))
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=console,
                  disable=args.no_progress) as progress:
        txs = presign(args, plan, weights, chain_id, heights, count, progress)
        # Hundreds of thousands of presigned txs would make every full collection of the
        # cyclic GC walk them all, pausing every sender thread at once (seen as latency
        # spikes in open loop): keep them out of it, and collect young objects less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        before = snapshot(urls)
        next_heights = [shard["height"] + 1 for shard in control.call("agora_status")["shards"]]
        state = LoadState(txs)
        # Poll the last node: node0 is the first primary, and answering getBlock (which
        # hashes every tx of the block for its JSON) would add to the busiest node's load.
        tracker = BlockTracker(state, urls[-1], next_heights, args.poll_interval,
                               args.tx_timeout)
        threads = [threading.Thread(target=tracker.run, name="tracker", daemon=True)]
        threads += [threading.Thread(target=sender_loop, args=(state, urls[i % len(urls)], args),
                                     name=f"sender{i}", daemon=True)
                    for i in range(args.connections)]
        state.start = time.monotonic()
        for thread in threads:
            thread.start()
        _watch(state, args, progress, total_seconds, profiler, meter)
        state.stop_sending.set()
        with state.condition:
            state.condition.notify_all()
        drain_until = time.monotonic() + args.drain
        while time.monotonic() < drain_until and state.pending:
            time.sleep(0.1)
        state.stop_tracking.set()
        for thread in threads:
            thread.join(timeout=http_timeout_seconds)
    after = snapshot(urls)
    extra = {
        "config": run_config(args, urls, weights),
        "machine": machine_facts(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **compare_snapshots(before, after),
        "receipt_statuses_sample": sample_receipts(urls[-1], state, args.seed),
        "presigned_txs": len(txs), "sent_txs": state.next_index,
        "pool_exhausted_at_seconds": state.exhausted_at,
        "lost_txs_timeout": state.lost, "unfinalized_txs": len(state.pending),
        "harness_errors": state.errors,
        "bound": bound,
    }
    control.close()
    with state.condition:
        result = reporting.compute_report(
            blocks=list(state.blocks), submit_seconds=dict(state.submit_seconds),
            warmup_seconds=args.warmup, duration_seconds=args.duration,
            rejections=state.rejections, submitted_per_bucket=state.accepted_per_bucket,
            extra=extra)
    bound["fraction_reached"] = round(result["committed_tps"] / bound["bound_tps"], 3)
    result["cpu"] = meter.result(result["committed_txs"], args.duration)
    if "tps_if_nodes_had_every_core" in result["cpu"]:
        bound["fraction_if_nodes_had_every_core"] = round(
            result["cpu"]["tps_if_nodes_had_every_core"] / bound["bound_tps"], 3)
    return result


def verification_bound(validator_count: int, seconds: float = 1.0) -> dict[str, Any]:
    """ed25519 verifications per CPU second on one core (V), measured here just before
    the load, and the bound C * V / n (bench/micro.py explains it). C is this machine's
    core count: meaningful when the nodes run here."""
    from bench.micro import verify_rate

    cores = os.cpu_count() or 1
    v = verify_rate(seconds)
    return {"cpu_count": cores, "validators": validator_count,
            "ed25519_verify_per_second_one_core": round(v),
            "bound_tps": round(cores * v / validator_count)}  # V per CPU second


def _watch(state: LoadState, args: argparse.Namespace, progress: Any,
           total_seconds: float, profiler: Profiler, meter: CpuMeter) -> None:
    task = progress.add_task("warm-up", total=total_seconds, info="")
    recent: list[tuple[float, int]] = []
    printed_errors = 0
    while (elapsed := state.now()) < total_seconds:
        with state.condition:
            committed = sum(len(block.tx_hashes) for block in state.blocks)
            pending = len(state.pending)
            rejected = sum(state.rejections.values())
        recent = [item for item in recent if elapsed - item[0] <= 5.0] + [(elapsed, committed)]
        span = recent[-1][0] - recent[0][0]
        tps = (recent[-1][1] - recent[0][1]) / span if span > 0 else 0.0
        phase = "warm-up" if elapsed < args.warmup else "measuring"
        if phase == "measuring":
            meter.mark_start()
            profiler.start()
        progress.update(task, completed=elapsed, description=phase, info=(
            f"sent {state.next_index:,}  finalized {committed:,}  ~{tps:,.0f} TPS  "
            f"outstanding {pending:,}  rejected {rejected:,}  lost {state.lost:,}"))
        for error in state.errors[printed_errors:]:
            progress.console.print(f"[red]{error}")
        printed_errors = len(state.errors)
        if state.exhausted_at is not None and not pending:
            progress.console.print("[yellow]pre-signed pool exhausted; raise --presign-tps")
            break
        time.sleep(0.25)
    meter.mark_end()
    progress.update(task, completed=total_seconds)


def run_config(args: argparse.Namespace, urls: list[str], weights: dict[str, float]
               ) -> dict[str, Any]:
    setup = (f"running nodes {', '.join(urls)}" if args.rpc else
             f"local cluster: {args.validators} validators, {args.shards} shard(s), "
             "real processes on 127.0.0.1")
    mode = (f"closed loop, {args.outstanding} outstanding" if args.mode == "closed"
            else f"open loop, {args.rate:g} tx/s offered")
    return {
        "setup": setup, "urls": urls,
        "workload": ", ".join(f"{name} {weight:.0%}" for name, weight in weights.items())
        + (f"; cross-shard share {args.cross_shard_share:g}" if args.shards > 1 else ""),
        "mode": mode, "warmup_seconds": args.warmup, "duration_seconds": args.duration,
        "senders": args.senders_per_shard * args.shards, "connections": args.connections,
        "batch_calls": args.batch, "poll_interval_seconds": args.poll_interval,
        "seed": args.seed,
        "consensus_overrides": parse_overrides(args.consensus),
        "command": "agora bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"]
                                             else sys.argv[1:]),
    }


def _warn_unfunded(rpc: Rpc, plan: workloads.AccountPlan, console: Any) -> None:
    sample = [plan.senders[0], plan.senders[-1]]
    for sender in sample:
        account = rpc.call("agora_getAccount", sender.address.hex())
        if int(account.get("balance", 0)) < 1000:
            console.print(f"[yellow]warning: bench sender {sender.address.hex()[:16]}… is "
                          "not funded: its transfers will fail at execution (use "
                          "`agora bench --init-only --dir D` to create a funded cluster)")


def write_outputs(result: dict[str, Any], out: Path, console: Any) -> None:
    (out / "report.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    table = reporting.markdown(result)
    (out / "report.md").write_text(table)
    reporting.plot(result, str(out / "report.png"), title=result["config"]["setup"] + "; "
                   + result["config"]["workload"] + "; " + result["config"]["mode"])
    print(table, flush=True)  # plain stdout: rich would wrap the table at the terminal width
    console.print(f"written: {out}/report.json, report.md, report.png")


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    console = Console(stderr=True)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (e.g. from `timeout`) must still stop the nodes we started: they run in
        # their own sessions and would outlive us.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    if args.workload == "list":
        capabilities = workloads.Capabilities()
        if args.rpc:
            capabilities = probe_capabilities(Rpc(args.rpc[0]))
        for name, available, description in workloads.availability_table(capabilities):
            print(f"{name:22} {available}\n{'':22} {description}")
        print(f"{'mix':22} weights from --mix (default: every available workload)")
        return 0
    plan = workloads.make_account_plan(args.shards, args.senders_per_shard)
    if args.init_only:
        directory = args.dir or Path("bench-cluster")
        init_bench_cluster(directory, args, plan)
        console.print(f"wrote {directory}; run it with: agora cluster up --dir {directory}")
        return 0
    out = args.out or Path(tempfile.gettempdir()) / time.strftime(
        "agora-bench-%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    cluster = (_targets(args.rpc) if args.rpc else local_cluster(args, plan, console))
    with cluster as target:
        try:
            weights = workloads.resolve(args.workload, args.mix,
                                        probe_capabilities(Rpc(target.urls[0])))
        except workloads.WorkloadUnavailable as error:
            console.print(f"[red]{error}")
            raise SystemExit(2) from error
        profiler = Profiler(args, target.pids, out)
        result = run_load(args, target.urls, plan, weights, console, profiler,
                          CpuMeter(target.pids))
    result["profile"] = profiler.finish(console)
    write_outputs(result, out, console)
    return 0


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _targets(urls: list[str]) -> Iterator[Target]:
    yield Target(urls, [])


if __name__ == "__main__":
    sys.exit(main())
