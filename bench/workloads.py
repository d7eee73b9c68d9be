"""Benchmark workloads: which transactions the load generator sends, and their signing.

A workload turns a seeded random stream into :class:`TxSpec` values (sender, contract,
method, arguments). Specs are plain data, generated in the harness process; signing them
is the expensive part (one ed25519 signature and one canonical encoding per tx, about
8,000 per second per core), so :func:`sign_specs` runs in a ``multiprocessing`` pool
before the measured run starts and the load generator only sends bytes.

Accounts: every sender is derived from a fixed seed (``sender_seed(i)``), so a cluster
initialised by the harness (``agora bench --init-only``) has them funded in its genesis
and a later ``agora bench --rpc URL`` can use them. Senders are grouped by the shard that
owns them (``node/sharding.py``); ``senders_per_shard`` of them per shard, so the
mempool's per-sender round robin never throttles the load.

Cross-shard share: a native transfer runs in its *sender's* shard. With S > 1 shards a
fraction ``cross_shard_share`` of transfers pick a recipient owned by another shard. Until
cross-shard atomic commit exists (DESIGN.md, Sharding) such a transfer is ordered,
executed and finalized in the sender's shard and ends with a ``CROSS_SHARD`` failure
receipt: the share measures ordering and finalization load with cross-shard recipients,
not completed cross-shard payments. The harness samples receipts and reports their
statuses so this stays visible.

Fees: a cluster the harness creates charges them (``--gas-price``, ledger/fees.py), and a
tx's fee is paid in the shard where it executes, from the sender's balance there. Every
sender is funded in the genesis in its own shard; contract workloads whose contracts all
live in one shard (``contract_shard``: token transfer, marketplace purchase) are sent by
the senders of that shard only. Gas limits below are about twice each call's gas (the
block gas limit counts gas limits, so a loose limit would shrink blocks).

Contract workloads (token transfer, NFT mint, NFT transfer, marketplace purchase) need a
node that serves contract calls. The harness deploys their templates before the load
(``bench/harness.py``, ``setup_*``; not counted in the figures) and sets the contract
addresses on the workload objects here; ``spec`` then builds the calls.

Workloads that consume something prepared in setup (``nft_transfer`` moves a token minted
in setup, ``marketplace_purchase`` buys a listing made in setup) number what they use with
counters that :func:`generate_specs` resets, so a seed gives the same specs every time.
The harness generates the specs once before setup (a dry run, :func:`pool_needs`) and
prepares exactly what they use: the setup grows with the presigned count,
``--presign-tps`` x (warm-up + duration). Each such tx uses its own token or listing, so
the presigned txs are valid in any order of execution (no nonce sequences: a nonce only
makes two txs distinct).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from consensus import codec
from consensus.types import Signer, Transaction
from ledger.sharding import shard_of_account

transfer_amount = 1
sender_balance = 10**12
_placeholder_signature = b"\x00" * 64


class WorkloadUnavailable(Exception):
    """The chosen workload cannot run against this node (message says why)."""


# -- accounts ---------------------------------------------------------------------------


def sender_seed(index: int, namespace: bytes = b"agora-bench") -> bytes:
    return hashlib.sha256(namespace + b"/sender/%d" % index).digest()


@dataclass(frozen=True, slots=True)
class Sender:
    index: int  # position in AccountPlan.senders
    seed: bytes = dataclasses.field(repr=False)
    address: bytes
    shard: int


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """``senders_per_shard`` deterministic sender accounts for each of ``shard_count``."""

    shard_count: int
    senders: tuple[Sender, ...]

    def of_shard(self, shard: int) -> list[Sender]:
        return [sender for sender in self.senders if sender.shard == shard]


def make_account_plan(shard_count: int, senders_per_shard: int,
                      namespace: bytes = b"agora-bench") -> AccountPlan:
    """Derive seeds in order and keep the first ``senders_per_shard`` owned by each shard."""
    assert shard_count >= 1 and senders_per_shard >= 1
    wanted = {shard: senders_per_shard for shard in range(shard_count)}
    senders: list[Sender] = []
    index = 0
    while any(wanted.values()):
        seed = sender_seed(index, namespace)
        index += 1
        address = Signer(seed).public_key
        shard = shard_of_account(address, shard_count)
        if wanted[shard]:
            wanted[shard] -= 1
            senders.append(Sender(len(senders), seed, address, shard))
    return AccountPlan(shard_count, tuple(senders))


# -- specs and workloads ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxSpec:
    """An unsigned tx to build: everything but chain id, expiry and signature."""

    workload: str
    sender: int  # index into AccountPlan.senders
    contract: bytes
    method: str
    args: tuple[Any, ...]
    nonce: int
    cross_shard: bool = False
    gas_limit: int = 0  # contract calls need gas; native transfers ignore it


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the target node can do, probed over RPC by the harness. The defaults are
    this repository's node (a local cluster, ``--workload list`` without ``--rpc``)."""

    contract_calls: bool = True


class Workload(Protocol):
    name: str
    description: str

    def unavailable_reason(self, capabilities: Capabilities) -> str | None:
        """None if it can run against a node with ``capabilities``, else why not."""

    def spec(self, rng: random.Random, plan: AccountPlan, sender: Sender,
             cross_shard_share: float) -> TxSpec:
        """One tx from ``sender``; pure given ``rng``."""


class NativeTransfer:
    name = "native_transfer"
    description = "native ledger transfer of 1 unit to another bench account"

    def unavailable_reason(self, capabilities: Capabilities) -> str | None:
        return None

    def spec(self, rng: random.Random, plan: AccountPlan, sender: Sender,
             cross_shard_share: float) -> TxSpec:
        cross = plan.shard_count > 1 and rng.random() < cross_shard_share
        if cross:
            shard = rng.choice([s for s in range(plan.shard_count) if s != sender.shard])
        else:
            shard = sender.shard
        candidates = plan.of_shard(shard) if cross else _same_shard(plan, sender)
        recipient = rng.choice(candidates) if candidates else sender
        return TxSpec(self.name, sender.index, b"", "transfer",
                      (recipient.address, transfer_amount), rng.getrandbits(63), cross)


def _same_shard(plan: AccountPlan, sender: Sender) -> list[Sender]:
    return [other for other in plan.of_shard(sender.shard) if other.index != sender.index]


token_supply = 10**15
token_funds_per_sender = 10**9
# Gas limits near 1.3-1.5x what each call uses (bench/RESULTS.md, after the gas fidelity
# work): the block gas limit counts gas limits, and fees reserve gas limit x price.
token_call_gas = 12_000  # a transfer uses ~9,150; 1,666 fit a 20M-gas block


class TokenTransfer:
    """Transfers of the fungible token template (vm/templates/token.py), deployed by the
    harness in shard 0 (``setup``) with every sender funded; all its calls are ordered in
    the token's shard, whatever the sender's. Arguments are named (a VM map)."""

    name = "token_transfer"
    description = "token template transfer of 1 unit between bench accounts (VM call)"
    contract_shard = 0

    def __init__(self) -> None:
        self.contract: bytes | None = None

    def unavailable_reason(self, capabilities: Capabilities) -> str | None:
        if not capabilities.contract_calls:
            return "the node does not serve contract calls"
        return None

    def spec(self, rng: random.Random, plan: AccountPlan, sender: Sender,
             cross_shard_share: float) -> TxSpec:
        if self.contract is None:
            raise WorkloadUnavailable("token_transfer: setup() did not deploy the token")
        recipient = rng.choice(plan.senders)
        return TxSpec(self.name, sender.index, self.contract, "transfer",
                      (("amount", transfer_amount), ("to", recipient.address)),
                      rng.getrandbits(63), gas_limit=token_call_gas)


nft_call_gas = 20_000  # a transfer uses ~13,600, a mint a little more
nft_royalty_bp = 500
nft_mint_sequence_base = 1 << 31  # bench mints; the setup pools of nft_transfer lie below


def nft_token_id(sender_index: int, sequence: int) -> int:
    """Token id of the ``sequence``-th token of bench sender ``sender_index``: unique per
    (sender, sequence), so presigned mints never collide, whatever the order."""
    assert 0 <= sequence < 1 << 32
    return (sender_index << 32) | sequence


class _Collectibles:
    """Shared by the two collectible workloads: one collection (vm/templates/nft.py) per
    bench sender, deployed by that sender in its own shard, so the sender is the
    collection's minter (the template has a single minter) and every sender's calls run
    in its own shard (a collectible calls no other contract)."""

    def __init__(self) -> None:
        self.collections: tuple[bytes, ...] | None = None  # by sender index
        self.sequences: dict[int, int] = {}

    def unavailable_reason(self, capabilities: Capabilities) -> str | None:
        if not capabilities.contract_calls:
            return "the node does not serve contract calls"
        return None

    def reset(self) -> None:
        self.sequences.clear()

    def _next(self, sender: Sender) -> tuple[bytes, int]:
        """The sender's collection and its next sequence number."""
        if self.collections is None:
            raise WorkloadUnavailable(f"{getattr(self, 'name', '?')}: setup() did not "
                                      "deploy the collections")
        sequence = self.sequences.get(sender.index, 0)
        self.sequences[sender.index] = sequence + 1
        return self.collections[sender.index], sequence

    def _recipient(self, rng: random.Random, plan: AccountPlan, sender: Sender) -> Sender:
        """A random bench sender of the same shard (the sender itself if it is alone)."""
        candidates = _same_shard(plan, sender)
        return rng.choice(candidates) if candidates else sender


class NftMint(_Collectibles):
    """Each tx mints a new token in the sender's own collection (the sender is its
    minter) to a random bench sender of the same shard, with a royalty. Token ids
    ``nft_token_id(sender, 2**31 + k)`` for the sender's k-th mint."""

    name = "nft_mint"
    description = ("collectible template mint of a new token (VM call; one collection per "
                   "sender, in the sender's shard)")

    def spec(self, rng: random.Random, plan: AccountPlan, sender: Sender,
             cross_shard_share: float) -> TxSpec:
        collection, sequence = self._next(sender)
        recipient = self._recipient(rng, plan, sender)
        token = nft_token_id(sender.index, nft_mint_sequence_base + sequence)
        return TxSpec(self.name, sender.index, collection, "mint",
                      (("royalty_bp", nft_royalty_bp), ("to", recipient.address),
                       ("token", token)),
                      rng.getrandbits(63), gas_limit=nft_call_gas)


class NftTransfer(_Collectibles):
    """Each tx transfers one of the sender's own tokens (minted to it in setup, in its
    collection) to a random other bench sender of the same shard. The k-th transfer of
    a sender moves token ``nft_token_id(sender, k)`` and no tx ever moves it again, so
    every presigned transfer is valid in any order; setup mints exactly the tokens the
    presigned txs use (``pool_needs``)."""

    name = "nft_transfer"
    description = ("collectible template transfer of a token minted in setup to another "
                   "sender of the same shard (VM call; one collection per sender)")

    def spec(self, rng: random.Random, plan: AccountPlan, sender: Sender,
             cross_shard_share: float) -> TxSpec:
        collection, sequence = self._next(sender)
        recipient = self._recipient(rng, plan, sender)
        return TxSpec(self.name, sender.index, collection, "transfer",
                      (("to", recipient.address),
                       ("token", nft_token_id(sender.index, sequence))),
                      rng.getrandbits(63), gas_limit=nft_call_gas)


market_price = 100
market_fee_bp = 250
market_royalty_bp = 1_000
market_buy_gas = 80_000  # a purchase uses ~55,300
market_sellers = 100  # setup accounts (not bench senders): a seller may not buy its item


class MarketplacePurchase:
    """Each tx buys a distinct listing of the marketplace template (vm/templates/market.py)
    set up like ``agora demo``'s sale: KYC registry, platform token, 30/40/30 revenue split,
    royalty 10 % paid to the split (distributed in the same call), fee 2.5 %. All these
    contracts lie in shard 0 (they call each other), so every purchase is ordered there
    whatever the buyer's shard. Setup lists ``pool_needs`` items (ids 1..N, all at the same
    price so the circuit breaker never trips) by dedicated seller accounts; every bench
    sender is KYC-verified, funded and has approved the market, and the k-th purchase of
    the run buys listing k + 1, so purchases are valid in any order."""

    name = "marketplace_purchase"
    description = ("marketplace purchase of a distinct listed item: KYC checks, royalty to "
                   "a revenue split, fee, escrow release (VM calls in shard 0)")
    contract_shard = 0

    def __init__(self) -> None:
        self.market: bytes | None = None
        self.bought = 0

    def unavailable_reason(self, capabilities: Capabilities) -> str | None:
        if not capabilities.contract_calls:
            return "the node does not serve contract calls"
        return None

    def reset(self) -> None:
        self.bought = 0

    def spec(self, rng: random.Random, plan: AccountPlan, sender: Sender,
             cross_shard_share: float) -> TxSpec:
        if self.market is None:
            raise WorkloadUnavailable("marketplace_purchase: setup() did not deploy the market")
        self.bought += 1
        return TxSpec(self.name, sender.index, self.market, "buy", (("listing", self.bought),),
                      rng.getrandbits(63), gas_limit=market_buy_gas)


@dataclass(frozen=True, slots=True)
class PoolNeeds:
    """What the specs consume from setup: tokens per sender, listings."""

    nft_tokens: dict[int, int]  # sender index -> tokens its nft_transfer specs move
    listings: int


def pool_needs(specs: Sequence[TxSpec]) -> PoolNeeds:
    tokens: dict[int, int] = {}
    listings = 0
    for spec in specs:
        if spec.workload == "nft_transfer":
            tokens[spec.sender] = tokens.get(spec.sender, 0) + 1
        elif spec.workload == "marketplace_purchase":
            listings += 1
    return PoolNeeds(tokens, listings)


WORKLOADS: dict[str, Workload] = {
    workload.name: workload for workload in (
        NativeTransfer(),
        TokenTransfer(),
        NftMint(),
        NftTransfer(),
        MarketplacePurchase(),
    )
}


def parse_mix(text: str) -> dict[str, float]:
    """``"native_transfer=3,token_transfer=1"`` -> normalised weights. Unknown names fail."""
    weights: dict[str, float] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in WORKLOADS:
            raise ValueError(f"unknown workload {name!r} in mix (known: {', '.join(WORKLOADS)})")
        value = float(weight) if weight else 1.0
        if value < 0:
            raise ValueError(f"weight of {name} must be >= 0")
        weights[name] = weights.get(name, 0.0) + value
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("a mix needs at least one positive weight")
    return {name: weight / total for name, weight in weights.items() if weight > 0}


def resolve(workload: str, mix: str | None, capabilities: Capabilities) -> dict[str, float]:
    """The weights to run for ``--workload`` (a name, or ``mix``); raises
    WorkloadUnavailable naming every workload that cannot run and why."""
    if workload == "mix":
        weights = parse_mix(mix) if mix else {
            name: 1.0 for name, item in WORKLOADS.items()
            if item.unavailable_reason(capabilities) is None}
        weights = parse_mix(",".join(f"{name}={w}" for name, w in weights.items()))
    elif workload in WORKLOADS:
        weights = {workload: 1.0}
    else:
        raise WorkloadUnavailable(
            f"unknown workload {workload!r}; known: {', '.join(WORKLOADS)}, mix, list")
    problems = [f"{name}: {reason}" for name in weights
                if (reason := WORKLOADS[name].unavailable_reason(capabilities))]
    if problems:
        raise WorkloadUnavailable("cannot run: " + "; ".join(problems))
    return weights


def availability_table(capabilities: Capabilities) -> list[tuple[str, str, str]]:
    """(name, "yes" or "no: reason", description) for every workload."""
    rows = []
    for name, workload in WORKLOADS.items():
        reason = workload.unavailable_reason(capabilities)
        rows.append((name, "yes" if reason is None else f"no: {reason}", workload.description))
    return rows


def generate_specs(plan: AccountPlan, weights: dict[str, float], count: int,
                   cross_shard_share: float, seed: int = 0) -> list[TxSpec]:
    """``count`` specs; senders rotate round robin so every sender sends evenly."""
    assert 0.0 <= cross_shard_share <= 1.0, "cross_shard_share is a fraction"
    rng = random.Random(seed)
    names = list(weights)
    for name in names:  # counters of workloads that consume setup pools start afresh
        reset = getattr(WORKLOADS[name], "reset", None)
        if reset is not None:
            reset()
    name_weights = [weights[name] for name in names]
    senders = {name: senders_of(name, plan) for name in names}
    sent = dict.fromkeys(names, 0)
    specs = []
    for _ in range(count):
        name = names[0] if len(names) == 1 else rng.choices(names, weights=name_weights)[0]
        sender = senders[name][sent[name] % len(senders[name])]
        sent[name] += 1
        specs.append(WORKLOADS[name].spec(rng, plan, sender, cross_shard_share))
    return specs


def senders_of(name: str, plan: AccountPlan) -> list[Sender]:
    """The senders a workload rotates over: those of its contracts' shard, if it has one
    (they pay their fees there), else all."""
    shard = getattr(WORKLOADS[name], "contract_shard", None)
    return list(plan.senders) if shard is None else plan.of_shard(shard)


# -- signing (runs in worker processes) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignJob:
    chain_id: str
    seeds: tuple[bytes, ...]  # by sender index
    expiry_heights: tuple[int, ...]  # by shard
    shards: tuple[int, ...]  # by sender index
    specs: Sequence[TxSpec]


def sign_specs(job: SignJob) -> list[tuple[bytes, str]]:
    """(tx hash, hex of the canonical signed tx) for each spec, in order."""
    signers: dict[int, Signer] = {}
    out = []
    for spec in job.specs:
        signer = signers.get(spec.sender)
        if signer is None:
            signer = signers[spec.sender] = Signer(job.seeds[spec.sender])
        if spec.contract:
            from ledger.contracts import encode_args

            shard = shard_of_account(spec.contract, len(job.expiry_heights))
            args = encode_args(dict(spec.args))
        else:
            shard, args = job.shards[spec.sender], codec.pack(spec.args)
        unsigned = Transaction(
            chain_id=job.chain_id, sender=signer.public_key, nonce=spec.nonce,
            expiry_height=job.expiry_heights[shard], gas_limit=spec.gas_limit,
            contract=spec.contract, method=spec.method, args=args,
            signature=_placeholder_signature)
        tx = dataclasses.replace(unsigned, signature=signer.sign(unsigned.signing_bytes()))
        encoded = tx.encoded()
        out.append((codec.digest(encoded), encoded.hex()))
    return out
