"""Escrow and atomic swap (vm/templates/swap.py): token for collectible, token for token."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.market_setup import ALICE, BOB, CAROL, NFT, TOKEN, World, make_world

SWAP = account("swap-contract")
GEMS = account("gems-contract")
ISSUER = account("issuer")


def swap_world() -> World:
    world = make_world(items=1)
    chain = world.chain
    chain.deploy("swap", SWAP, ISSUER)
    chain.deploy("token", GEMS, ISSUER, token_name="Gems", amount=10_000)
    for who in (ALICE, BOB):
        chain.ok(GEMS, "transfer", ISSUER, to=who, amount=1000)
        chain.ok(GEMS, "approve", who, spender=SWAP, amount=10**6)
        chain.ok(TOKEN, "approve", who, spender=SWAP, amount=10**6)
        chain.ok(NFT, "set_approval_for_all", who, operator=SWAP, approved=True)
    return world


def test_collectible_for_tokens_both_claims_once() -> None:
    world = swap_world()
    chain = world.chain
    deadline = chain.time + 50
    chain.fails(SWAP, "open_swap", ALICE, "bad leg", counterparty=BOB, give=["nft", NFT],
                take=["token", TOKEN, 10], deadline=deadline)
    chain.fails(SWAP, "open_swap", ALICE, "deadline in the past", counterparty=BOB,
                give=["nft", NFT, 1], take=["token", TOKEN, 10], deadline=chain.time)
    swap = chain.ok(SWAP, "open_swap", ALICE, counterparty=BOB, give=["nft", NFT, 1],
                    take=["token", TOKEN, 700], deadline=deadline)
    chain.fails(SWAP, "deposit", CAROL, "not a party", swap_id=swap)
    chain.ok(SWAP, "deposit", ALICE, swap_id=swap)
    chain.fails(SWAP, "deposit", ALICE, "already deposited", swap_id=swap)
    chain.fails(SWAP, "claim", ALICE, "not funded", swap_id=swap)
    chain.fails(SWAP, "refund", ALICE, "too early", swap_id=swap)
    alice_before = world.balance(ALICE)
    chain.ok(SWAP, "deposit", BOB, swap_id=swap)
    assert chain.view(SWAP, "status_of", swap_id=swap) == "funded"
    chain.ok(SWAP, "claim", ALICE, swap_id=swap)
    chain.fails(SWAP, "claim", ALICE, "already released", swap_id=swap)
    chain.advance(seconds=100)
    chain.fails(SWAP, "refund", BOB, "nothing to refund", swap_id=swap)  # claimed
    chain.fails(SWAP, "refund", ALICE, "other leg deposited", swap_id=swap)
    chain.ok(SWAP, "claim", BOB, swap_id=swap)  # claiming is not bound by the deadline
    assert world.balance(ALICE) == alice_before + 700
    assert chain.view(NFT, "owner_of", token=1) == BOB
    assert chain.view(SWAP, "status_of", swap_id=swap) == "closed"
    assert world.balance(SWAP) == 0


def test_refund_after_the_deadline_when_the_other_leg_never_came() -> None:
    world = swap_world()
    chain = world.chain
    swap = chain.ok(SWAP, "open_swap", ALICE, counterparty=BOB, give=["token", GEMS, 300],
                    take=["token", TOKEN, 700], deadline=chain.time + 50)
    chain.ok(SWAP, "deposit", ALICE, swap_id=swap)
    chain.advance(seconds=50)
    chain.fails(SWAP, "deposit", BOB, "deadline passed", swap_id=swap)
    chain.fails(SWAP, "refund", BOB, "nothing to refund", swap_id=swap)
    chain.ok(SWAP, "refund", ALICE, swap_id=swap)
    chain.fails(SWAP, "refund", ALICE, "nothing to refund", swap_id=swap)
    chain.fails(SWAP, "claim", BOB, "not funded", swap_id=swap)
    assert chain.view(GEMS, "balance_of", who=ALICE) == 1000
    cancelled = chain.ok(SWAP, "open_swap", ALICE, counterparty=BOB,
                         give=["token", GEMS, 1], take=["token", TOKEN, 1],
                         deadline=chain.time + 5)
    chain.fails(SWAP, "cancel", BOB, "only party A", swap_id=cancelled)
    chain.ok(SWAP, "cancel", ALICE, swap_id=cancelled)
    chain.fails(SWAP, "deposit", BOB, "cancelled", swap_id=cancelled)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["deposit", "deposit", "claim", "refund", "wait"]),
                          st.sampled_from([ALICE, BOB])), min_size=4, max_size=14))
def test_each_leg_leaves_escrow_once_by_claim_or_refund_never_both(steps: list) -> None:
    world = swap_world()
    chain = world.chain
    swap = chain.ok(SWAP, "open_swap", ALICE, counterparty=BOB, give=["token", GEMS, 300],
                    take=["token", TOKEN, 700], deadline=chain.time + 20)
    totals = (world.balance(ALICE) + world.balance(BOB),
              sum(chain.view(GEMS, "balance_of", who=who) for who in (ALICE, BOB)))
    for method, who in steps:
        if method == "wait":
            chain.advance(seconds=10)
        else:
            chain.call(SWAP, method, who, swap_id=swap)
        entry = chain.view(SWAP, "swap_of", swap_id=swap)
        held_gems = 300 if entry["deposited"][0] and not entry["released"][0] else 0
        held_gold = 700 if entry["deposited"][1] and not entry["released"][1] else 0
        assert chain.view(GEMS, "balance_of", who=SWAP) == held_gems
        assert world.balance(SWAP) == held_gold
        assert world.balance(ALICE) + world.balance(BOB) + held_gold == totals[0]
        gems = sum(chain.view(GEMS, "balance_of", who=who) for who in (ALICE, BOB))
        assert gems + held_gems == totals[1]
    claims = chain.events_named("Claimed", SWAP)
    refunds = chain.events_named("Refunded", SWAP)
    legs = [event["leg"] for event in claims + refunds]
    assert len(legs) == len(set(legs))  # each leg released at most once
    assert not (claims and refunds)  # a swap is settled by claims or by refunds
    for event in claims:  # a claim goes to the party that did not deposit that leg
        assert event["party"] == [BOB, ALICE][event["leg"]]
    for event in refunds:
        assert event["party"] == [ALICE, BOB][event["leg"]]
