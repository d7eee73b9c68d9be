"""Micro-benchmark: VM calls per second of each of the 28 contract templates (not a test).

    .venv/bin/python -m bench.template_bench [--calls 2000] [--rounds 3] [--json PATH]

For every template in vm/templates/ this deploys the template (and whatever it calls: a
token, a collectible...) into an in-memory `DictState`, does the setup its main operation
needs (mint, fund, approve, list, open an auction, propose...), then times one
representative state-changing call, through `vm.execute` with the write set applied after
each call (what the node's executor does, minus LevelDB and signatures), as
bench/vm_bench.py does for the token and NFT transfer:

| template | timed call | per call |
|---|---|---|
| token | `transfer` | 1 unit to a fixed receiver |
| nft | `transfer` | a new item each call (all minted in setup) |
| items | `transfer_from` | 1 unit of one kind, sender = source |
| split | `distribute` | fresh royalty income each call (see below) |
| market | `buy` | a new listing each call (all listed in setup), same price |
| auction | `bid` | one English auction, two bidders alternate, each bid one unit higher |
| rental | `rent` | one offer, 5 s rentals, block time 10 s later each call |
| licence | `grant` | a new licence of one work to one licensee |
| dao | `vote` | one staked voter, a new proposal each call (all proposed in setup) |
| kyc | `register` | a new identity each call |
| provenance | `anchor` | a new content hash each call |
| swap | `claim` | a new funded token-for-token swap each call (opened and deposited in setup) |
| tickets | `buy` | one event, one tier with room for every call, one buyer |
| membership | `subscribe` | one subscriber renews one plan each call, block time 60 s later |
| crowdfund | `pledge` | one campaign, one backer, 1 unit per call |
| fractional | `buyout` | a new vault each call (items minted and locked in setup) |
| mysterybox | `reveal` | the third reveal of a new draw, which draws and settles it |
| loyalty | `redeem` | 1 point per call from one holder's lot at a partner |
| giftcard | `redeem` | 1 unit per call from one card at an accepted merchant |
| staking | `stake` | 1 unit per call, one block later each call (rewards accrue) |
| vesting | `claim` | one linear grant, block time 10 s later each call |
| multisig | `execute` | a new 2-of-3 token transfer proposal each call (approved in setup) |
| oracle | `submit` | five reporters in turn |
| did | `create` | a new DID with one key and one service each call |
| dispute | `open_escrow` | a new escrow each call |
| drop | `mint` | allow-list phase, 1 item per call, a 10-hash proof (1,024-leaf tree) |
| bonding | `buy` | 1 unit per call (the price rises along the curve) |
| bridge | `mint` | the wrapped side, a proven lock message per call (one root over all) |

Every timed call must succeed (`result.ok`, and `buy` must return True): a failure raises
`CallFailed`, so the loop never measures failures. `split.distribute` only does work when
new tokens arrived, so each timed `distribute` is preceded by an untimed token transfer to
the split (that template is timed call by call; all others as one loop per round).

Figures: the best of `--rounds` rounds of `--calls` calls, in CPU seconds of this process
(`time.process_time`; the machine is shared), and the mean gas used per timed call. All
inputs are fixed, so runs are deterministic (gas figures are identical run to run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import vm
from vm import templates as helpers
from vm.state import DictState
from vm.templates import load

SETUP_GAS = 5_000_000
CALL_GAS = 5_000_000
TIME_START = 1_700_000_000
FAR_FUTURE = TIME_START + 10**8
FUNDS = 10**30
TEMPLATES = ("token", "nft", "items", "split", "market", "auction", "rental", "licence",
             "dao", "kyc", "provenance", "swap", "tickets", "membership", "crowdfund",
             "fractional", "mysterybox", "loyalty", "giftcard", "staking", "vesting",
             "multisig", "oracle", "did", "dispute", "drop", "bonding", "bridge")


def account(name: str) -> bytes:
    """A 32-byte address from a short readable name (as tests/templates/chain.py does)."""
    return name.encode("ascii").ljust(32, b".")


ISSUER = account("issuer")
ALICE = account("alice")
BOB = account("bob")
TOKEN = account("token-contract")
TOKEN2 = account("token2-contract")
NFT = account("nft-contract")
TARGET = {name: account(f"{name}-contract") for name in TEMPLATES}


class CallFailed(AssertionError):
    """A setup or timed call did not succeed."""


@dataclass
class Call:
    address: bytes
    method: str
    args: dict[str, Any]
    context: vm.BlockContext


@dataclass
class Workload:
    """A deployed template and the calls to time, consumed in order across rounds."""

    template: str
    method: str
    state: DictState
    calls: list[Call]
    # Untimed call made before each timed one (same index), or None.
    before: list[Call] | None = None
    next_call: int = 0
    must_return_true: bool = False


@dataclass
class Setup:
    """An in-memory chain for setup: deploy and call, asserting success."""

    state: DictState = field(default_factory=DictState)
    height: int = 1
    time: int = TIME_START
    tx_counter: int = 0

    def context(self, sender: bytes, time_: int | None = None) -> vm.BlockContext:
        self.tx_counter += 1
        return vm.BlockContext(sender=sender, height=self.height,
                               time=self.time if time_ is None else time_,
                               tx_hash=self.tx_counter.to_bytes(32, "big"))

    def deploy(self, template: str, address: bytes, sender: bytes, **args: Any) -> bytes:
        result = vm.deploy(self.state, load(template), address, self.context(sender),
                           SETUP_GAS, args)
        check(result, f"deploy {template}")
        self.state.apply(result.writes)
        return address

    def ok(self, address: bytes, method: str, sender: bytes, **args: Any) -> Any:
        result = vm.execute(self.state, address, method, args, self.context(sender),
                            SETUP_GAS)
        check(result, f"setup {method}")
        self.state.apply(result.writes)
        return result.value

    def call(self, address: bytes, method: str, sender: bytes, **args: Any) -> Call:
        """A call to make later (not executed now)."""
        return Call(address, method, args, self.context(sender))

    def advance(self, blocks: int = 1, seconds: int = 5) -> None:
        self.height += blocks
        self.time += seconds

    def token(self, address: bytes = TOKEN, holders: tuple[bytes, ...] = (),
              spenders: tuple[bytes, ...] = ()) -> bytes:
        """A token issued to ISSUER, `FUNDS` sent to each holder, who approves each spender."""
        self.deploy("token", address, ISSUER, token_name="Gold", amount=FUNDS * 10)
        for holder in holders:
            self.ok(address, "transfer", ISSUER, to=holder, amount=FUNDS)
            for spender in spenders:
                self.ok(address, "approve", holder, spender=spender, amount=FUNDS)
        return address


def check(result: vm.ExecutionResult, what: str) -> None:
    if not result.ok:
        raise CallFailed(f"{what}: {result.code.name} {result.message}")


# --- one workload per template ------------------------------------------------------------
# Each takes the total number of timed calls (calls * rounds) and returns a Workload.


def token_workload(total: int) -> Workload:
    chain = Setup()
    chain.token(holders=(ALICE,))
    call = chain.call(TOKEN, "transfer", ALICE, to=BOB, amount=1)
    return Workload("token", "transfer", chain.state, [call] * total)


def nft_workload(total: int) -> Workload:
    chain = Setup()
    chain.deploy("nft", NFT, ISSUER)
    for item in range(total):
        chain.ok(NFT, "mint", ISSUER, to=ALICE, token=item, royalty_bp=250)
    context = chain.context(ALICE)
    calls = [Call(NFT, "transfer", {"to": BOB, "token": item}, context) for item in range(total)]
    return Workload("nft", "transfer", chain.state, calls)


def items_workload(total: int) -> Workload:
    chain = Setup()
    items = chain.deploy("items", TARGET["items"], ISSUER)
    chain.ok(items, "mint", ISSUER, to=ALICE, kind=7, amount=FUNDS)
    call = chain.call(items, "transfer_from", ALICE, source=ALICE, to=BOB, kind=7, amount=1)
    return Workload("items", "transfer_from", chain.state, [call] * total)


def split_workload(total: int) -> Workload:
    chain = Setup()
    chain.token()
    split = chain.deploy("split", TARGET["split"], ISSUER, token_address=TOKEN,
                         payee_list=[account("rights"), ISSUER, account("channel")])
    income = chain.call(TOKEN, "transfer", ISSUER, to=split, amount=1_000)
    call = chain.call(split, "distribute", BOB)
    return Workload("split", "distribute", chain.state, [call] * total, before=[income] * total)


def market_workload(total: int) -> Workload:
    chain = Setup()
    market = TARGET["market"]
    chain.token(holders=(BOB,), spenders=(market,))
    chain.deploy("nft", NFT, ISSUER)
    chain.deploy("market", market, ISSUER, token_address=TOKEN, fee=250,
                 recipient=account("platform"))
    chain.ok(market, "govern", ISSUER, action=["allow_collection", NFT])
    chain.ok(NFT, "set_approval_for_all", ALICE, operator=market, approved=True)
    for item in range(total):
        chain.ok(NFT, "mint", ISSUER, to=ALICE, token=item, royalty_bp=1000)
        chain.ok(market, "list_item", ALICE, collection=NFT, item=item, price=1_000)
    context = chain.context(BOB)
    calls = [Call(market, "buy", {"listing": listing}, context)
             for listing in range(1, total + 1)]
    return Workload("market", "buy", chain.state, calls, must_return_true=True)


def auction_workload(total: int) -> Workload:
    chain = Setup()
    auction = TARGET["auction"]
    chain.token(holders=(ALICE, BOB), spenders=(auction,))
    chain.deploy("nft", NFT, ISSUER)
    chain.deploy("auction", auction, ISSUER, token_address=TOKEN, fee=250,
                 recipient=account("platform"))
    chain.ok(auction, "allow_collection", ISSUER, collection=NFT, allowed=True)
    chain.ok(NFT, "mint", ISSUER, to=ISSUER, token=1, royalty_bp=1000)
    chain.ok(NFT, "set_approval_for_all", ISSUER, operator=auction, approved=True)
    number = chain.ok(auction, "create_english", ISSUER, collection=NFT, item=1, reserve=1,
                      end_time=FAR_FUTURE)
    contexts = [chain.context(ALICE), chain.context(BOB)]
    calls = [Call(auction, "bid", {"auction": number, "amount": amount}, contexts[amount % 2])
             for amount in range(1, total + 1)]
    return Workload("auction", "bid", chain.state, calls)


def rental_workload(total: int) -> Workload:
    chain = Setup()
    rental = TARGET["rental"]
    chain.token(holders=(BOB,), spenders=(rental,))
    chain.deploy("nft", NFT, ISSUER)
    chain.deploy("rental", rental, ISSUER, token_address=TOKEN)
    chain.ok(NFT, "mint", ISSUER, to=ALICE, token=1, royalty_bp=0)
    chain.ok(NFT, "set_approval_for_all", ALICE, operator=rental, approved=True)
    offer = chain.ok(rental, "offer", ALICE, collection=NFT, item=1, price_per_second=3,
                     max_seconds=60)
    # Each rental lasts 5 s and the next one starts 10 s later, so they never overlap.
    calls = [Call(rental, "rent", {"offer_id": offer, "seconds": 5},
                  chain.context(BOB, chain.time + 10 * (index + 1)))
             for index in range(total)]
    return Workload("rental", "rent", chain.state, calls)


def licence_workload(total: int) -> Workload:
    chain = Setup()
    licence = chain.deploy("licence", TARGET["licence"], ISSUER)
    work = b"work-1"
    chain.ok(licence, "register_work", ISSUER, work=work)
    # Each grant appends to the licensee's list for the work, which is capped (HELD_MAX):
    # a new licensee every call keeps every grant valid.
    context = chain.context(ISSUER)
    calls = [Call(licence, "grant", {"licensee": account(f"licensee-{index}"), "work": work,
                                     "scope": ["stream", "print"], "territory": ["EU"],
                                     "expires": FAR_FUTURE, "sublicensable": True}, context)
             for index in range(total)]
    return Workload("licence", "grant", chain.state, calls)


def dao_workload(total: int) -> Workload:
    chain = Setup()
    dao = TARGET["dao"]
    chain.token(holders=(ALICE,), spenders=(dao,))
    chain.deploy("dao", dao, ISSUER, token_address=TOKEN, quorum_bp=2000,
                 voting_seconds=10**7)
    chain.ok(dao, "deposit", ALICE, amount=1_000)
    chain.advance()  # voting power is the stake at the end of the previous block
    for index in range(total):
        chain.ok(dao, "propose", ALICE, description=f"proposal {index}")
    chain.advance()
    context = chain.context(ALICE)
    calls = [Call(dao, "vote", {"proposal": proposal, "support": 1}, context)
             for proposal in range(1, total + 1)]
    return Workload("dao", "vote", chain.state, calls)


def kyc_workload(total: int) -> Workload:
    chain = Setup()
    kyc = chain.deploy("kyc", TARGET["kyc"], ISSUER)
    verifier = account("verifier")
    chain.ok(kyc, "add_verifier", ISSUER, verifier=verifier)
    context = chain.context(verifier)
    calls = [Call(kyc, "register", {"who": account(f"user-{index}"), "level": 1}, context)
             for index in range(total)]
    return Workload("kyc", "register", chain.state, calls)


def provenance_workload(total: int) -> Workload:
    chain = Setup()
    provenance = chain.deploy("provenance", TARGET["provenance"], ISSUER)
    context = chain.context(ISSUER)
    calls = [Call(provenance, "anchor",
                  {"content_hash": index.to_bytes(32, "big"), "note": "bench"}, context)
             for index in range(total)]
    return Workload("provenance", "anchor", chain.state, calls)


def swap_workload(total: int) -> Workload:
    chain = Setup()
    swap = chain.deploy("swap", TARGET["swap"], ISSUER)
    chain.token(TOKEN, holders=(ALICE,), spenders=(swap,))
    chain.token(TOKEN2, holders=(BOB,), spenders=(swap,))
    give, take = ["token", TOKEN, 10], ["token", TOKEN2, 20]
    for number in range(1, total + 1):
        opened = chain.ok(swap, "open_swap", ALICE, counterparty=BOB, give=give, take=take,
                          deadline=FAR_FUTURE)
        assert opened == number
        chain.ok(swap, "deposit", ALICE, swap_id=number)
        chain.ok(swap, "deposit", BOB, swap_id=number)
    context = chain.context(ALICE)
    calls = [Call(swap, "claim", {"swap_id": number}, context) for number in range(1, total + 1)]
    return Workload("swap", "claim", chain.state, calls)


def at(sender: bytes, height: int, time_: int, counter: int) -> vm.BlockContext:
    """A context at a given height and block time (for calls spread over blocks)."""
    return vm.BlockContext(sender=sender, height=height, time=time_,
                           tx_hash=(10**9 + counter).to_bytes(32, "big"))


def tickets_workload(total: int) -> Workload:
    chain = Setup()
    tickets = TARGET["tickets"]
    chain.token(holders=(ALICE,), spenders=(tickets,))
    chain.deploy("tickets", tickets, ISSUER, token_address=TOKEN)
    event = chain.ok(tickets, "create_event", ISSUER, starts_at=FAR_FUTURE,
                     tiers=[["floor", 100, total]], resale_cap_bp=11000, royalty_bp=500)
    call = chain.call(tickets, "buy", ALICE, event=event, tier=0)
    return Workload("tickets", "buy", chain.state, [call] * total)


def membership_workload(total: int) -> Workload:
    chain = Setup()
    passes = TARGET["membership"]
    chain.token(holders=(ALICE,), spenders=(passes,))
    chain.deploy("membership", passes, ISSUER, token_address=TOKEN)
    plan = chain.ok(passes, "create_plan", ISSUER, price=30, period_seconds=3600)
    calls = [Call(passes, "subscribe", {"plan": plan, "periods": 1},
                  at(ALICE, chain.height, chain.time + 60 * index, index))
             for index in range(total)]
    return Workload("membership", "subscribe", chain.state, calls)


def crowdfund_workload(total: int) -> Workload:
    chain = Setup()
    fund = TARGET["crowdfund"]
    chain.token(holders=(ALICE,), spenders=(fund,))
    chain.deploy("crowdfund", fund, ISSUER, token_address=TOKEN)
    campaign = chain.ok(fund, "create", ISSUER, goal=10**6, deadline=FAR_FUTURE)
    call = chain.call(fund, "pledge", ALICE, campaign=campaign, amount=1)
    return Workload("crowdfund", "pledge", chain.state, [call] * total)


def fractional_workload(total: int) -> Workload:
    chain = Setup()
    vaults = TARGET["fractional"]
    chain.token(holders=(BOB,), spenders=(vaults,))
    chain.deploy("nft", NFT, ISSUER)
    chain.deploy("fractional", vaults, ISSUER, token_address=TOKEN)
    chain.ok(NFT, "set_approval_for_all", ALICE, operator=vaults, approved=True)
    for item in range(1, total + 1):
        chain.ok(NFT, "mint", ISSUER, to=ALICE, token=item, royalty_bp=0)
        chain.ok(vaults, "lock", ALICE, collection=NFT, item=item, fractions=1000,
                 reserve_price=500)
    context = chain.context(BOB)
    calls = [Call(vaults, "buyout", {"vault": vault}, context) for vault in range(1, total + 1)]
    return Workload("fractional", "buyout", chain.state, calls)


def mysterybox_workload(total: int) -> Workload:
    chain = Setup()
    box = TARGET["mysterybox"]
    witness = account("witness")
    chain.token(holders=(ALICE, BOB, witness), spenders=(box,))
    chain.deploy("mysterybox", box, ISSUER, token_address=TOKEN)
    series = chain.ok(box, "create_series", BOB, price=100, bond=50, witness=witness,
                      outcomes=[["common", 70], ["rare", 25], ["legendary", 5]],
                      commit_blocks=10**5, reveal_blocks=10**5)
    secrets = {who: who[:16] for who in (ALICE, BOB, witness)}
    calls = []
    for draw in range(1, total + 1):
        chain.ok(box, "buy", ALICE, series=series,
                 commitment=helpers.box_commitment(draw, ALICE, secrets[ALICE]))
        for who in (BOB, witness):
            chain.ok(box, "commit", who, draw=draw,
                     commitment=helpers.box_commitment(draw, who, secrets[who]))
        for who in (ALICE, BOB):
            chain.ok(box, "reveal", who, draw=draw, secret=secrets[who])
        calls.append(chain.call(box, "reveal", witness, draw=draw, secret=secrets[witness]))
    return Workload("mysterybox", "reveal", chain.state, calls)


def loyalty_workload(total: int) -> Workload:
    chain = Setup()
    points = chain.deploy("loyalty", TARGET["loyalty"], ISSUER)
    shop = account("shop")
    chain.ok(points, "set_partner", ISSUER, merchant=shop, allowed=True)
    chain.ok(points, "mint", ISSUER, to=ALICE, amount=FUNDS, expires_height=10**9)
    call = chain.call(points, "redeem", ALICE, amount=1, merchant=shop)
    return Workload("loyalty", "redeem", chain.state, [call] * total)


def giftcard_workload(total: int) -> Workload:
    chain = Setup()
    cards = TARGET["giftcard"]
    shop = account("shop")
    chain.token(spenders=(cards,))
    chain.ok(TOKEN, "approve", ISSUER, spender=cards, amount=FUNDS)
    chain.deploy("giftcard", cards, ISSUER, token_address=TOKEN)
    chain.ok(cards, "accept_merchant", ISSUER, merchant=shop, accepted=True)
    card = chain.ok(cards, "issue", ISSUER, holder=ALICE, amount=FUNDS, expires_at=FAR_FUTURE,
                    transferable=False)
    call = chain.call(cards, "redeem", ALICE, card=card, amount=1, merchant=shop)
    return Workload("giftcard", "redeem", chain.state, [call] * total)


def staking_workload(total: int) -> Workload:
    chain = Setup()
    pool = TARGET["staking"]
    chain.token(holders=(ALICE, BOB), spenders=(pool,))
    chain.ok(TOKEN, "approve", ISSUER, spender=pool, amount=FUNDS)
    chain.deploy("staking", pool, ISSUER, token_address=TOKEN, reward_per_block=10,
                 unstake_delay_blocks=5)
    chain.ok(pool, "fund", ISSUER, amount=FUNDS)
    chain.ok(pool, "stake", BOB, amount=1000)
    calls = [Call(pool, "stake", {"amount": 1},
                  at(ALICE, chain.height + index + 1, chain.time + 5 * (index + 1), index))
             for index in range(total)]
    return Workload("staking", "stake", chain.state, calls)


def vesting_workload(total: int) -> Workload:
    chain = Setup()
    vest = TARGET["vesting"]
    chain.token(spenders=(vest,))
    chain.ok(TOKEN, "approve", ISSUER, spender=vest, amount=FUNDS)
    chain.deploy("vesting", vest, ISSUER, token_address=TOKEN)
    grant = chain.ok(vest, "grant", ISSUER, beneficiary=ALICE, amount=FUNDS, start=chain.time,
                     cliff_seconds=0, duration_seconds=10**8, revocable=True)
    calls = [Call(vest, "claim", {"grant_id": grant},
                  at(ALICE, chain.height + index + 1, chain.time + 10 * (index + 1), index))
             for index in range(total)]
    return Workload("vesting", "claim", chain.state, calls)


def multisig_workload(total: int) -> Workload:
    chain = Setup()
    wallet = TARGET["multisig"]
    carol = account("carol")
    chain.token()
    chain.deploy("multisig", wallet, ISSUER, owner_list=[ALICE, BOB, carol], threshold_count=2)
    chain.ok(TOKEN, "transfer", ISSUER, to=wallet, amount=FUNDS)
    for proposal in range(1, total + 1):
        chain.ok(wallet, "propose", ALICE, action=["transfer", TOKEN, carol, 1],
                 expires_height=10**9)
        chain.ok(wallet, "approve", BOB, proposal=proposal)
    context = chain.context(carol)
    calls = [Call(wallet, "execute", {"proposal": proposal}, context)
             for proposal in range(1, total + 1)]
    return Workload("multisig", "execute", chain.state, calls)


def oracle_workload(total: int) -> Workload:
    chain = Setup()
    feed = chain.deploy("oracle", TARGET["oracle"], ISSUER, max_age_seconds=60, min_reports=3)
    reporters = [account(f"reporter-{index}") for index in range(5)]
    for reporter in reporters:
        chain.ok(feed, "set_reporter", ISSUER, reporter=reporter, allowed=True)
    contexts = [chain.context(reporter) for reporter in reporters]
    calls = [Call(feed, "submit", {"value": 1000 + index % 7}, contexts[index % 5])
             for index in range(total)]
    return Workload("oracle", "submit", chain.state, calls)


def did_workload(total: int) -> Workload:
    chain = Setup()
    dids = chain.deploy("did", TARGET["did"], ISSUER)
    key = ["key-1", "Ed25519VerificationKey2020", "ab" * 32, ["authentication"]]
    call = chain.call(dids, "create", ALICE, keys=[key],
                      services=[["shop", "LinkedDomains", "https://alice.example"]])
    return Workload("did", "create", chain.state, [call] * total)


def dispute_workload(total: int) -> Workload:
    chain = Setup()
    court = TARGET["dispute"]
    chain.token(holders=(ALICE,), spenders=(court,))
    chain.deploy("dispute", court, ISSUER, token_address=TOKEN)
    call = chain.call(court, "open_escrow", ALICE, seller=BOB, arbiter=ISSUER, amount=10,
                      protection_seconds=3600, arbiter_seconds=3600, default_buyer_bp=10000)
    return Workload("dispute", "open_escrow", chain.state, [call] * total)


def drop_workload(total: int) -> Workload:
    chain = Setup()
    drop = TARGET["drop"]
    chain.token(holders=(ALICE,), spenders=(drop,))
    chain.deploy("nft", NFT, ISSUER)
    entries = [(ALICE, total)] + [(account(f"listed-{index}"), 1) for index in range(1023)]
    chain.deploy("drop", drop, ISSUER, token_address=TOKEN, collection=NFT,
                 treasury=account("treasury"), price=10, supply_max=total,
                 allowlist_root=helpers.allowlist_root(entries), allowlist_start=chain.time,
                 public_start=FAR_FUTURE, end_time=FAR_FUTURE + 1, public_cap=1)
    chain.ok(NFT, "set_minter", ISSUER, new_minter=drop)
    call = chain.call(drop, "mint", ALICE, quantity=1, proof=helpers.allowlist_proof(entries, 0),
                      allowance=total)
    return Workload("drop", "mint", chain.state, [call] * total)


def bonding_workload(total: int) -> Workload:
    chain = Setup()
    curve = TARGET["bonding"]
    chain.token(holders=(ALICE,), spenders=(curve,))
    chain.deploy("bonding", curve, ISSUER, token_address=TOKEN, base_price=10, slope=1,
                 supply_max=10**9, fee_bp=100, beneficiary=ISSUER)
    call = chain.call(curve, "buy", ALICE, amount=1, max_cost=FUNDS)
    return Workload("bonding", "buy", chain.state, [call] * total)


def bridge_workload(total: int) -> Workload:
    chain = Setup()
    origin, wrapped = account("bridge-origin"), TARGET["bridge"]
    roots = account("roots")
    members = [account(f"validator-{index}") for index in range(4)]
    chain.token(holders=(ALICE,), spenders=(origin,))
    chain.deploy("receipt_roots", roots, ISSUER, member_list=members, threshold_count=3)
    chain.deploy("bridge", origin, ISSUER, mode="origin", local_chain="a", remote_chain="b",
                 verifier=account("unused-verifier"), token_address=TOKEN)
    chain.deploy("bridge", wrapped, ISSUER, mode="wrapped", local_chain="b", remote_chain="a",
                 verifier=roots)
    chain.ok(origin, "set_peer", ISSUER, peer_address=wrapped)
    chain.ok(wrapped, "set_peer", ISSUER, peer_address=origin)
    messages = []
    for _ in range(total):
        nonce = chain.ok(origin, "lock", ALICE, amount=1, recipient=BOB)
        query = vm.query(chain.state, origin, "message_of",
                         {"kind": 1, "nonce": nonce, "recipient": BOB, "amount": 1,
                          "outbound": True}, chain.context(ALICE), SETUP_GAS)
        check(query, "bridge message_of")
        messages.append(query.value)
    root = helpers.bridge_message_root(messages)
    for member in members[:3]:
        chain.ok(roots, "attest", member, chain="a", height=1, root=root)
    context = chain.context(ALICE)
    calls = [Call(wrapped, "mint", {"nonce": index + 1, "recipient": BOB, "amount": 1,
                                    "height": 1,
                                    "path": helpers.bridge_message_proof(messages, index)},
                  context) for index in range(total)]
    return Workload("bridge", "mint", chain.state, calls)


WORKLOADS: dict[str, Callable[[int], Workload]] = {
    "token": token_workload, "nft": nft_workload, "items": items_workload,
    "split": split_workload, "market": market_workload, "auction": auction_workload,
    "rental": rental_workload, "licence": licence_workload, "dao": dao_workload,
    "kyc": kyc_workload, "provenance": provenance_workload, "swap": swap_workload,
    "tickets": tickets_workload, "membership": membership_workload,
    "crowdfund": crowdfund_workload, "fractional": fractional_workload,
    "mysterybox": mysterybox_workload, "loyalty": loyalty_workload,
    "giftcard": giftcard_workload, "staking": staking_workload, "vesting": vesting_workload,
    "multisig": multisig_workload, "oracle": oracle_workload, "did": did_workload,
    "dispute": dispute_workload, "drop": drop_workload, "bonding": bonding_workload,
    "bridge": bridge_workload,
}
assert tuple(WORKLOADS) == TEMPLATES


# --- timing --------------------------------------------------------------------------------


def run_round(workload: Workload, calls: int) -> tuple[float, int]:
    """Makes the next `calls` calls; returns (CPU seconds of the timed calls, gas used)."""
    start = workload.next_call
    batch = workload.calls[start:start + calls]
    if len(batch) != calls:
        raise ValueError(f"{workload.template}: only {len(workload.calls) - start} calls left")
    workload.next_call = start + calls
    state, execute, clock = workload.state, vm.execute, time.process_time
    gas = 0
    results = []
    if workload.before is None:
        started = clock()
        for call in batch:
            result = execute(state, call.address, call.method, call.args, call.context,
                             CALL_GAS)
            if not result.ok:
                break
            state.apply(result.writes)
            results.append(result)
        seconds = clock() - started
    else:
        seconds = 0.0
        for before, call in zip(workload.before[start:start + calls], batch):
            prepared = execute(state, before.address, before.method, before.args,
                               before.context, CALL_GAS)
            check(prepared, f"{workload.template}: untimed {before.method}")
            state.apply(prepared.writes)
            started = clock()
            result = execute(state, call.address, call.method, call.args, call.context,
                             CALL_GAS)
            if not result.ok:
                break
            state.apply(result.writes)
            seconds += clock() - started
            results.append(result)
    if len(results) != calls:
        check(result, f"{workload.template}.{workload.method} call {start + len(results)}")
    for result in results:
        gas += result.gas_used
        if workload.must_return_true and result.value is not True:
            raise CallFailed(f"{workload.template}.{workload.method} returned {result.value}")
    return seconds, gas


def measure(templates: tuple[str, ...] = TEMPLATES, calls: int = 2000,
            rounds: int = 3) -> dict[str, dict[str, Any]]:
    """Per template: method, calls/s (best round) and gas per call. Rounds are interleaved
    (every template runs once per round, in turn) so all see the same machine conditions."""
    workloads = {name: WORKLOADS[name](calls * rounds) for name in templates}
    best = {name: float("inf") for name in templates}
    gas: dict[str, int] = {}
    for _ in range(rounds):
        for name, workload in workloads.items():
            seconds, used = run_round(workload, calls)
            best[name] = min(best[name], seconds)
            gas[name] = used
    return {name: {"method": workloads[name].method,
                   "calls_per_second": calls / max(best[name], 1e-9),
                   "gas_per_call": gas[name] / calls,
                   "calls": calls, "rounds": rounds}
            for name in templates}


def render(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| template | method | calls/s | gas per call |", "|---|---|---:|---:|"]
    for name, figures in results.items():
        lines.append(f"| {name} | {figures['method']} | {figures['calls_per_second']:,.0f} | "
                     f"{figures['gas_per_call']:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--templates", default=",".join(TEMPLATES),
                        help="comma-separated subset of templates")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    options = parser.parse_args()
    templates = tuple(name for name in options.templates.split(",") if name)
    unknown = set(templates) - set(TEMPLATES)
    if unknown:
        parser.error(f"unknown templates: {', '.join(sorted(unknown))}")
    results = measure(templates, options.calls, options.rounds)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {options.calls} calls x {options.rounds} rounds, "
          "best round, CPU seconds of this process\n")
    print(render(results), end="")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump({"machine": platform.machine(), "cpu_count": os.cpu_count(),
                       "python": platform.python_version(), "templates": results},
                      out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
