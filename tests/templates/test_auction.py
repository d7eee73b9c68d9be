"""English and Dutch auctions (vm/templates/auction.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.market_setup import (
    ALICE, AUCTION, BOB, CAROL, FEE_BP, ISSUER, NFT, PLATFORM, ROYALTY_BP, SPLIT, TOKEN,
    TRADERS, World, make_world,
)


def auction_world() -> World:
    world = make_world(items=2)
    chain = world.chain
    chain.deploy("auction", AUCTION, ISSUER, token_address=TOKEN, fee=FEE_BP,
                 recipient=PLATFORM)
    chain.ok(AUCTION, "allow_collection", ISSUER, collection=NFT, allowed=True)
    for who in TRADERS:
        chain.ok(NFT, "set_approval_for_all", who, operator=AUCTION, approved=True)
        chain.ok(TOKEN, "approve", who, spender=AUCTION, amount=10**7)
    return world


def test_english_bids_rise_outbid_bidders_withdraw_and_settlement_is_once() -> None:
    world = auction_world()
    chain = world.chain
    total = world.total_balances()
    end = chain.time + 100
    chain.fails(AUCTION, "create_english", ALICE, "end must be in the future", collection=NFT,
                item=1, reserve=10, end_time=chain.time)
    auction = chain.ok(AUCTION, "create_english", ALICE, collection=NFT, item=1, reserve=100,
                       end_time=end, min_step=10)
    assert chain.view(NFT, "owner_of", token=1) == AUCTION
    chain.fails(AUCTION, "bid", ALICE, "seller may not bid", auction=auction, amount=500)
    chain.fails(AUCTION, "bid", BOB, "bid below reserve", auction=auction, amount=99)
    chain.ok(AUCTION, "bid", BOB, auction=auction, amount=100)
    chain.fails(AUCTION, "bid", CAROL, "bid too low", auction=auction, amount=109)
    chain.ok(AUCTION, "bid", CAROL, auction=auction, amount=110)
    chain.ok(AUCTION, "bid", BOB, auction=auction, amount=2000)
    assert chain.view(AUCTION, "refund_of", who=BOB) == 100
    assert chain.view(AUCTION, "refund_of", who=CAROL) == 110
    chain.fails(AUCTION, "cancel", ALICE, "has bids", auction=auction)
    chain.fails(AUCTION, "settle", CAROL, "auction not ended", auction=auction)
    chain.advance(seconds=100)
    chain.fails(AUCTION, "bid", CAROL, "auction ended", auction=auction, amount=5000)
    alice_before = world.balance(ALICE)
    chain.ok(AUCTION, "settle", CAROL, auction=auction)
    chain.fails(AUCTION, "settle", CAROL, "already settled", auction=auction)
    assert chain.view(NFT, "owner_of", token=1) == BOB
    royalty, fee = 2000 * ROYALTY_BP // 10_000, 2000 * FEE_BP // 10_000
    assert world.balance(ALICE) == alice_before + 2000 - royalty - fee
    assert world.balance(SPLIT) == royalty and world.balance(PLATFORM) == fee
    assert world.balance(AUCTION) == 210
    assert chain.ok(AUCTION, "withdraw", CAROL) == 110
    chain.fails(AUCTION, "withdraw", CAROL, "nothing to withdraw")
    assert chain.ok(AUCTION, "withdraw", BOB) == 100
    assert world.balance(AUCTION) == 0
    assert world.total_balances() == total


def test_english_without_bids_returns_the_item_and_cancel_is_for_the_seller() -> None:
    world = auction_world()
    chain = world.chain
    auction = chain.ok(AUCTION, "create_english", ALICE, collection=NFT, item=1, reserve=5,
                       end_time=chain.time + 10)
    chain.advance(seconds=10)
    chain.ok(AUCTION, "settle", BOB, auction=auction)
    assert chain.view(NFT, "owner_of", token=1) == ALICE
    other = chain.ok(AUCTION, "create_english", ALICE, collection=NFT, item=2, reserve=5,
                     end_time=chain.time + 10)
    chain.fails(AUCTION, "cancel", BOB, "only the seller", auction=other)
    chain.ok(AUCTION, "cancel", ALICE, auction=other)
    chain.fails(AUCTION, "bid", BOB, "already settled", auction=other, amount=10)
    assert chain.view(NFT, "owner_of", token=2) == ALICE


def test_dutch_price_falls_to_the_floor_is_bought_once_and_excess_is_refunded() -> None:
    world = auction_world()
    chain = world.chain
    total = world.total_balances()
    chain.fails(AUCTION, "create_dutch", ALICE, "bad prices", collection=NFT, item=1,
                start_price=10, floor_price=11, rate=1)
    auction = chain.ok(AUCTION, "create_dutch", ALICE, collection=NFT, item=1,
                       start_price=10_000, floor_price=4_000, rate=50)
    assert chain.view(AUCTION, "dutch_price", auction=auction) == 10_000
    chain.advance(seconds=100)
    assert chain.view(AUCTION, "dutch_price", auction=auction) == 5_000
    chain.advance(seconds=1000)
    assert chain.view(AUCTION, "dutch_price", auction=auction) == 4_000
    chain.fails(AUCTION, "buy_dutch", BOB, "payment below price", auction=auction,
                payment=3_999)
    bob_before, alice_before = world.balance(BOB), world.balance(ALICE)
    chain.ok(AUCTION, "buy_dutch", BOB, auction=auction, payment=6_000)
    chain.fails(AUCTION, "buy_dutch", CAROL, "already settled", auction=auction, payment=9_000)
    assert world.balance(BOB) == bob_before - 4_000
    bought = chain.events_named("Bought", AUCTION)[0]
    assert bought["refund"] == 2_000
    assert bought["refund"] + bought["royalty"] + bought["fee"] + bought["proceeds"] == 6_000
    assert world.balance(ALICE) == alice_before + bought["proceeds"]
    assert chain.view(NFT, "owner_of", token=1) == BOB
    assert world.balance(AUCTION) == 0 and world.total_balances() == total


@settings(max_examples=25, deadline=None)
@given(st.lists(
    st.tuples(st.sampled_from(["bid", "bid", "wait", "settle", "withdraw"]),
              st.sampled_from(TRADERS),
              st.integers(min_value=0, max_value=3000)),
    min_size=8, max_size=25,
))
def test_bids_rise_settle_once_and_money_in_equals_money_out(steps: list) -> None:
    world = auction_world()
    chain = world.chain
    total = world.total_balances()
    end = chain.time + 60
    auction = chain.ok(AUCTION, "create_english", ALICE, collection=NFT, item=1, reserve=50,
                       end_time=end)
    paid_in = 0
    highest = 0
    settled = 0
    for method, who, amount in steps:
        if method == "bid":
            result = chain.call(AUCTION, "bid", who, auction=auction, amount=amount)
            if result.ok:
                assert amount > highest and chain.time < end
                highest = amount
                paid_in += amount
        elif method == "wait":
            chain.advance(seconds=amount // 40)
        elif method == "settle":
            if chain.call(AUCTION, "settle", who, auction=auction).ok:
                assert chain.time >= end
                settled += 1
        else:
            chain.call(AUCTION, "withdraw", who)
        state = chain.view(AUCTION, "auction_of", auction=auction)
        unsettled_bid = 0 if state["settled"] else state["bid"]
        refunds = sum(chain.view(AUCTION, "refund_of", who=who) for who in TRADERS)
        assert world.balance(AUCTION) == unsettled_bid + refunds
        assert world.total_balances() == total
    assert settled <= 1
    for who in TRADERS:
        chain.call(AUCTION, "withdraw", who)
    withdrawn = sum(event["amount"] for event in chain.events_named("Withdrawn", AUCTION))
    payouts = chain.events_named("Settled", AUCTION)
    paid_out = sum(event["royalty"] + event["fee"] + event["proceeds"] for event in payouts)
    held = 0 if settled else highest
    assert paid_in == withdrawn + paid_out + held


# A collection that lies about royalties: a negative royalty would pay the seller more than
# the winning bid, out of other bidders' refunds.
LYING_COLLECTION = """
owners = Map()

@export
def transfer_from(source: bytes, to: bytes, token: int):
    owners[token] = to

@export
def transfer(to: bytes, token: int):
    owners[token] = to

@view
def royalty_info(token: int, price: int) -> list:
    return [ctx.sender, -price]
"""


def test_a_collection_reporting_a_negative_royalty_cannot_drain_refunds() -> None:
    world = auction_world()
    chain = world.chain
    liar = chain.deploy_source(LYING_COLLECTION, account("liar-contract"), ALICE)
    chain.fails(AUCTION, "create_english", ALICE, "collection not allowed", collection=liar,
                item=1, reserve=1, end_time=chain.time + 10)
    chain.fails(AUCTION, "allow_collection", ALICE, "only the admin", collection=liar,
                allowed=True)
    chain.ok(AUCTION, "allow_collection", ISSUER, collection=liar, allowed=True)
    auction = chain.ok(AUCTION, "create_english", ALICE, collection=liar, item=1, reserve=1,
                       end_time=chain.time + 10)
    chain.ok(AUCTION, "bid", BOB, auction=auction, amount=100)
    chain.ok(AUCTION, "bid", CAROL, auction=auction, amount=200)
    chain.advance(seconds=10)
    chain.fails(AUCTION, "settle", BOB, "royalty and fee exceed the price", auction=auction)
    assert world.balance(AUCTION) == 300


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=10_000),
       st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=500),
       st.integers(min_value=0, max_value=5_000))
def test_dutch_price_formula_and_payment_split(start: int, floor: int, rate: int,
                                               elapsed: int, extra: int) -> None:
    floor = min(floor, start)
    world = auction_world()
    chain = world.chain
    total = world.total_balances()
    auction = chain.ok(AUCTION, "create_dutch", ALICE, collection=NFT, item=1,
                       start_price=start, floor_price=floor, rate=rate)
    chain.advance(seconds=elapsed)
    price = max(floor, start - rate * elapsed)
    assert chain.view(AUCTION, "dutch_price", auction=auction) == price
    if price > 0:
        chain.fails(AUCTION, "buy_dutch", BOB, "payment below price", auction=auction,
                    payment=price - 1)
    result = chain.call(AUCTION, "buy_dutch", BOB, auction=auction, payment=price + extra)
    assert result.ok == (price + extra > 0)
    if result.ok:
        bought = chain.events_named("Bought", AUCTION)[0]
        assert bought["price"] == price and bought["paid"] == price + extra
        parts = bought["refund"] + bought["royalty"] + bought["fee"] + bought["proceeds"]
        assert parts == price + extra and bought["refund"] == extra
        assert chain.view(NFT, "owner_of", token=1) == BOB
        chain.fails(AUCTION, "buy_dutch", CAROL, "already settled", auction=auction,
                    payment=price + extra)
    assert world.balance(AUCTION) == 0 and world.total_balances() == total
