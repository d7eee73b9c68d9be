"""Marketplace (vm/templates/market.py) with token, KYC, collectible and split contracts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.market_setup import (
    ALICE, BOB, CAROL, CHANNEL, DAVE, FEE_BP, ISSUER, KYC, MARKET, NFT, PLATFORM, RIGHTS,
    ROYALTY_BP, SPLIT, TOKEN, TRADERS, VERIFIER, make_world,
)


def test_mint_list_buy_pays_royalty_fee_and_the_30_40_30_split() -> None:
    world = make_world()
    chain = world.chain
    total = world.total_balances()
    listing = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=10_001)
    assert chain.view(NFT, "owner_of", token=1) == MARKET  # escrow
    alice_before, bob_before = world.balance(ALICE), world.balance(BOB)
    assert chain.ok(MARKET, "buy", BOB, listing=listing) is True
    assert chain.view(NFT, "owner_of", token=1) == BOB
    royalty = 10_001 * ROYALTY_BP // 10_000  # 1000
    fee = 10_001 * FEE_BP // 10_000  # 250
    assert world.balance(BOB) == bob_before - 10_001
    assert world.balance(ALICE) == alice_before + 10_001 - royalty - fee
    assert world.balance(PLATFORM) == fee
    assert world.balance(SPLIT) == royalty
    assert world.balance(MARKET) == 0
    sold = chain.events_named("Sold", MARKET)[-1]
    assert (sold["royalty"], sold["fee"], sold["proceeds"]) == (1000, 250, 8751)
    # the market distributed the royalty in the sale's transaction: 30/40/30
    assert [chain.view(SPLIT, "owed", who=who) for who in (RIGHTS, ISSUER, CHANNEL)] == [
        300, 400, 300]
    assert chain.ok(SPLIT, "distribute", CAROL) == 0
    issuer_before = world.balance(ISSUER)
    assert chain.ok(SPLIT, "claim", RIGHTS) == 300
    assert chain.ok(SPLIT, "claim", ISSUER) == 400
    assert chain.ok(SPLIT, "claim", CHANNEL) == 300
    assert world.balance(ISSUER) == issuer_before + 400
    assert world.balance(SPLIT) == 0
    assert world.total_balances() == total
    chain.fails(MARKET, "buy", CAROL, "listing not open", listing=listing)
    chain.fails(MARKET, "cancel", ALICE, "listing not open", listing=listing)


def test_listing_authorisation_escrow_and_cancel() -> None:
    world = make_world()
    chain = world.chain
    chain.fails(MARKET, "list_item", BOB, "not the owner", collection=NFT, item=1, price=5)
    chain.fails(MARKET, "list_item", ALICE, "price must be positive", collection=NFT, item=1,
                price=0)
    chain.fails(MARKET, "list_item", ALICE, "collection not allowed", collection=TOKEN,
                item=1, price=5)
    listing = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=500)
    chain.fails(MARKET, "cancel", BOB, "only the seller", listing=listing)
    chain.fails(MARKET, "buy", ALICE, "seller may not buy", listing=listing)
    chain.fails(MARKET, "buy", BOB, "no such listing", listing=listing + 7)
    chain.ok(MARKET, "cancel", ALICE, listing=listing)
    assert chain.view(NFT, "owner_of", token=1) == ALICE
    assert chain.view(MARKET, "listing_of", listing=listing)[4] == 3
    chain.fails(MARKET, "govern", ALICE, "only the governor", action=["set_fee", 0, ALICE])
    chain.fails(MARKET, "govern", ISSUER, "unknown action", action=["explode", 1])
    chain.fails(MARKET, "govern", ISSUER, "bad fee", action=["set_fee", 1001, ALICE])


def test_kyc_allow_list_applies_to_buyer_and_seller() -> None:
    world = make_world()
    chain = world.chain
    chain.ok(NFT, "transfer", ALICE, to=DAVE, token=2)
    chain.fails(MARKET, "list_item", DAVE, "seller not verified", collection=NFT, item=2,
                price=100)
    listing = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=100)
    chain.ok(TOKEN, "transfer", ISSUER, to=DAVE, amount=1000)
    chain.fails(MARKET, "buy", DAVE, "buyer not verified", listing=listing)
    chain.ok(KYC, "freeze", VERIFIER, who=ALICE)
    chain.fails(MARKET, "buy", BOB, "seller not verified", listing=listing)
    chain.ok(KYC, "unfreeze", VERIFIER, who=ALICE)
    chain.ok(KYC, "freeze", VERIFIER, who=BOB)
    chain.fails(MARKET, "buy", BOB, "buyer not verified", listing=listing)
    assert chain.ok(MARKET, "buy", CAROL, listing=listing) is True


def test_circuit_breaker_halts_a_class_until_cooldown_or_governance() -> None:
    world = make_world(deviation_bp=2000, cooldown=600)
    chain = world.chain
    first = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=1000)
    assert chain.ok(MARKET, "buy", BOB, listing=first) is True
    assert chain.view(MARKET, "class_of", collection=NFT)[0] == 1000
    within = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=2, price=1200)
    assert chain.ok(MARKET, "buy", BOB, listing=within) is True  # exactly 20 %: allowed
    spike = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=3, price=1441)
    snapshot_balances = [world.balance(who) for who in (ALICE, BOB)]
    assert chain.ok(MARKET, "buy", BOB, listing=spike) is False
    assert [world.balance(who) for who in (ALICE, BOB)] == snapshot_balances
    assert chain.view(NFT, "owner_of", token=3) == MARKET
    halted = chain.events_named("TradingHalted", MARKET)
    assert halted == [{"collection": NFT, "price": 1441, "reference": 1200}]
    assert chain.view(MARKET, "is_halted", collection=NFT) is True
    cheap = chain.ok(MARKET, "list_item", CAROL, collection=NFT, item=9, price=1200)
    chain.fails(MARKET, "buy", BOB, "trading halted", listing=cheap)
    chain.advance(seconds=599)
    chain.fails(MARKET, "buy", BOB, "trading halted", listing=cheap)
    chain.advance(seconds=1)
    assert chain.view(MARKET, "is_halted", collection=NFT) is False
    assert chain.ok(MARKET, "buy", BOB, listing=spike) is True  # fresh reference after halt
    assert chain.ok(MARKET, "buy", BOB, listing=cheap) is True  # 1200 vs 1441: within 20 %
    wild = chain.ok(MARKET, "list_item", CAROL, collection=NFT, item=10, price=1)
    assert chain.ok(MARKET, "buy", ALICE, listing=wild) is False
    chain.fails(MARKET, "govern", ISSUER, "not halted", action=["lift_halt", TOKEN])
    chain.ok(MARKET, "govern", ISSUER, action=["lift_halt", NFT])
    chain.ok(MARKET, "govern", ISSUER, action=["set_reference", NFT, 1])
    assert chain.ok(MARKET, "buy", ALICE, listing=wild) is True
    lifted = chain.events_named("HaltLifted", MARKET)
    assert [event["reason"] for event in lifted] == ["cooldown", "governance"]


@settings(max_examples=25, deadline=None)
@given(st.lists(
    st.tuples(st.sampled_from(["list", "list", "buy", "buy", "cancel", "wait"]),
              st.integers(min_value=0, max_value=11), st.integers(min_value=0, max_value=2),
              st.integers(min_value=0, max_value=1500)),
    min_size=8, max_size=25,
))
def test_value_is_conserved_and_every_item_has_one_holder(steps: list) -> None:
    world = make_world(deviation_bp=3000, cooldown=60)
    chain = world.chain
    total = world.total_balances()
    listings: list[int] = []
    for method, number, pick, price in steps:
        if method == "list":
            item = number + 1
            owner = chain.view(NFT, "owner_of", token=item)
            seller = owner if owner in TRADERS else TRADERS[pick]
            result = chain.call(MARKET, "list_item", seller, collection=NFT, item=item,
                                price=1000 + price)
            assert result.ok == (owner in TRADERS)
            if result.ok:
                listings.append(result.value)
        elif method == "buy" and listings:
            listing = listings[number % len(listings)]
            seller, _, _, price_asked, status = chain.view(MARKET, "listing_of",
                                                           listing=listing)
            buyer = [who for who in TRADERS if who != seller][pick % 2]
            before = world.balance(buyer)
            result = chain.call(MARKET, "buy", buyer, listing=listing)
            assert result.ok or status != 1 or chain.view(MARKET, "is_halted", collection=NFT)
            spent = before - world.balance(buyer)
            assert spent == (price_asked if result.ok and result.value else 0)
        elif method == "cancel" and listings:
            listing = listings[number % len(listings)]
            chain.call(MARKET, "cancel", TRADERS[pick], listing=listing)
        elif method == "wait":
            chain.advance(seconds=price // 10)
        assert world.total_balances() == total
        assert world.balance(MARKET) == 0
    open_items = {chain.view(MARKET, "listing_of", listing=listing)[2]
                  for listing in listings
                  if chain.view(MARKET, "listing_of", listing=listing)[4] == 1}
    for item in range(1, 13):
        holder = chain.view(NFT, "owner_of", token=item)
        assert (holder == MARKET) == (item in open_items)
    sold = chain.events_named("Sold", MARKET)
    assert world.balance(SPLIT) == sum(event["royalty"] for event in sold)
    assert world.balance(PLATFORM) == sum(event["fee"] for event in sold)
    for event in sold:
        assert event["royalty"] + event["fee"] + event["proceeds"] == event["price"]
        assert event["royalty"] == event["price"] * ROYALTY_BP // 10_000
