"""Dispute resolution escrow (vm/templates/dispute.py): protection window, arbiter split,
default outcomes at timeout, each party paid at most once (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, TOKEN, Money, money_world

ESCROW = account("dispute-contract")
BUYER, SELLER, ARBITER = account("buyer"), account("seller"), account("arbiter")


def world() -> Money:
    return money_world(ESCROW, "dispute", [BUYER, SELLER, ARBITER], token_address=TOKEN)


def open_one(money: Money, default_bp: int = 10000) -> int:
    return money.chain.ok(ESCROW, "open_escrow", BUYER, seller=SELLER, arbiter=ARBITER,
                          amount=1000, protection_seconds=60, arbiter_seconds=30,
                          default_buyer_bp=default_bp, reference="order 17")


def test_an_arbiter_splits_a_disputed_escrow_once() -> None:
    money = world()
    chain = money.chain
    chain.fails(ESCROW, "open_escrow", BUYER, "bad parties", seller=BUYER, arbiter=ARBITER,
                amount=5, protection_seconds=1, arbiter_seconds=1, default_buyer_bp=0)
    chain.fails(ESCROW, "open_escrow", BUYER, "bad default", seller=SELLER, arbiter=ARBITER,
                amount=5, protection_seconds=1, arbiter_seconds=1, default_buyer_bp=10001)
    chain.fails(ESCROW, "open_escrow", BUYER, "bad window", seller=SELLER, arbiter=ARBITER,
                amount=5, protection_seconds=0, arbiter_seconds=1, default_buyer_bp=0)
    escrow = open_one(money)
    chain.fails(ESCROW, "decide", ARBITER, "not disputed", escrow=escrow, buyer_bp=5000)
    chain.fails(ESCROW, "dispute", SELLER, "only the buyer", escrow=escrow)
    chain.ok(ESCROW, "dispute", BUYER, escrow=escrow)
    chain.fails(ESCROW, "dispute", BUYER, "already disputed", escrow=escrow)
    chain.fails(ESCROW, "decide", BUYER, "only the arbiter", escrow=escrow, buyer_bp=5000)
    chain.fails(ESCROW, "decide", ARBITER, "bad split", escrow=escrow, buyer_bp=10001)
    chain.fails(ESCROW, "timeout", SELLER, "too early", escrow=escrow)
    chain.ok(ESCROW, "decide", ARBITER, escrow=escrow, buyer_bp=2500)
    assert (money.balance(BUYER), money.balance(SELLER)) == (FUNDS - 750, FUNDS + 750)
    chain.fails(ESCROW, "decide", ARBITER, "settled", escrow=escrow, buyer_bp=0)
    chain.fails(ESCROW, "release", BUYER, "settled", escrow=escrow)
    chain.fails(ESCROW, "refund", SELLER, "settled", escrow=escrow)
    assert chain.view(ESCROW, "status_of", escrow=escrow) == "settled"


def test_defaults_at_timeout_pay_the_seller_or_apply_the_agreed_split() -> None:
    money = world()
    chain = money.chain
    quiet = open_one(money)
    disputed = open_one(money, default_bp=5000)
    chain.ok(ESCROW, "dispute", BUYER, escrow=disputed)
    chain.advance(seconds=30)
    chain.fails(ESCROW, "decide", ARBITER, "deadline passed", escrow=disputed, buyer_bp=0)
    chain.ok(ESCROW, "timeout", ARBITER, escrow=disputed)  # 500 / 500
    chain.fails(ESCROW, "timeout", SELLER, "too early", escrow=quiet)
    chain.advance(seconds=30)
    chain.fails(ESCROW, "dispute", BUYER, "window closed", escrow=quiet)
    chain.ok(ESCROW, "timeout", SELLER, escrow=quiet)
    assert money.balance(SELLER) == FUNDS + 1500 and money.balance(BUYER) == FUNDS - 1500
    assert money.balance(ESCROW) == 0


STEP = st.tuples(st.sampled_from(["release", "refund", "dispute", "decide", "timeout", "wait"]),
                 st.integers(0, 2), st.integers(0, 10000))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10000), st.lists(STEP, min_size=1, max_size=12))
def test_settlement_happens_once_and_pays_exactly_the_amount(default_bp: int,
                                                             steps: list) -> None:
    money = world()
    chain = money.chain
    escrow = open_one(money, default_bp)
    total = money.total()
    for action, who, number in steps:
        sender = [BUYER, SELLER, ARBITER][who]
        if action == "wait":
            chain.advance(seconds=number % 40)
        elif action == "decide":
            chain.call(ESCROW, "decide", sender, escrow=escrow, buyer_bp=number)
        else:
            chain.call(ESCROW, action, sender, escrow=escrow)
        assert money.total() == total
    settled = chain.events_named("Settled", ESCROW)
    assert len(settled) <= 1
    if settled:
        assert settled[0]["buyer_amount"] + settled[0]["seller_amount"] == 1000
        assert money.balance(BUYER) == FUNDS - 1000 + settled[0]["buyer_amount"]
        assert money.balance(SELLER) == FUNDS + settled[0]["seller_amount"]
        assert money.balance(ESCROW) == 0
    else:
        assert money.balance(ESCROW) == 1000
    assert money.balance(ARBITER) == FUNDS
