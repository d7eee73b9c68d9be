"""Loyalty points (vm/templates/loyalty.py): expiry by height, partner redemption,
transfers only when allowed, earliest expiry spent first, points accounted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account

POINTS = account("loyalty-contract")
ISSUER, SHOP = account("issuer"), account("shop")
ALICE, BOB = account("alice"), account("bob")


def world() -> Chain:
    chain = Chain()
    chain.deploy("loyalty", POINTS, ISSUER)
    chain.ok(POINTS, "set_partner", ISSUER, merchant=SHOP, allowed=True)
    return chain


def test_points_expire_at_their_height_and_are_spent_earliest_first() -> None:
    chain = world()
    h = chain.height
    chain.fails(POINTS, "mint", ALICE, "only the issuer", to=ALICE, amount=5, expires_height=h + 9)
    chain.fails(POINTS, "mint", ISSUER, "expiry in the past", to=ALICE, amount=5,
                expires_height=h)
    chain.fails(POINTS, "mint", ISSUER, "amount must be positive", to=ALICE, amount=0,
                expires_height=h + 9)
    chain.ok(POINTS, "mint", ISSUER, to=ALICE, amount=50, expires_height=h + 20)
    chain.ok(POINTS, "mint", ISSUER, to=ALICE, amount=30, expires_height=h + 5)
    assert chain.view(POINTS, "lots_of", who=ALICE) == [[h + 5, 30], [h + 20, 50]]
    chain.fails(POINTS, "redeem", ALICE, "not a partner", amount=10, merchant=BOB)
    chain.fails(POINTS, "redeem", ALICE, "insufficient points", amount=81, merchant=SHOP)
    chain.ok(POINTS, "redeem", ALICE, amount=40, merchant=SHOP)  # 30 expiring + 10
    assert chain.view(POINTS, "lots_of", who=ALICE) == [[h + 20, 40]]
    chain.fails(POINTS, "transfer", ALICE, "transfers disabled", to=BOB, amount=1)
    chain.fails(POINTS, "sweep", BOB, "nothing expired", who=ALICE)
    chain.advance(blocks=20)
    assert chain.view(POINTS, "balance_of", who=ALICE) == 0
    chain.fails(POINTS, "redeem", ALICE, "insufficient points", amount=1, merchant=SHOP)
    assert chain.ok(POINTS, "sweep", BOB, who=ALICE) == 40
    assert chain.view(POINTS, "totals") == {"minted": 80, "redeemed": 40, "expired": 40}
    assert chain.view(POINTS, "redeemed_at", merchant=SHOP) == 40


def test_transfers_keep_expiries_and_the_lot_cap_holds() -> None:
    chain = world()
    h = chain.height
    chain.fails(POINTS, "set_transferable", ALICE, "only the issuer", allowed=True)
    chain.ok(POINTS, "set_transferable", ISSUER, allowed=True)
    chain.ok(POINTS, "mint", ISSUER, to=ALICE, amount=10, expires_height=h + 3)
    chain.ok(POINTS, "mint", ISSUER, to=ALICE, amount=10, expires_height=h + 9)
    chain.fails(POINTS, "transfer", ALICE, "transfer to self", to=ALICE, amount=1)
    chain.ok(POINTS, "transfer", ALICE, to=BOB, amount=15)
    assert chain.view(POINTS, "lots_of", who=BOB) == [[h + 3, 10], [h + 9, 5]]
    for extra in range(14):
        chain.ok(POINTS, "mint", ISSUER, to=BOB, amount=1, expires_height=h + 100 + extra)
    chain.fails(POINTS, "mint", ISSUER, "too many lots", to=BOB, amount=1,
                expires_height=h + 999)
    chain.ok(POINTS, "mint", ISSUER, to=BOB, amount=1, expires_height=h + 100)  # merges


STEP = st.tuples(st.sampled_from(["mint", "redeem", "transfer", "sweep", "wait", "allow"]),
                 st.sampled_from([ALICE, BOB]), st.integers(1, 60), st.integers(1, 12))


@settings(max_examples=50, deadline=None)
@given(st.lists(STEP, min_size=2, max_size=25))
def test_minted_equals_live_plus_redeemed_plus_expired(steps: list) -> None:
    chain = world()
    for action, who, amount, blocks in steps:
        if action == "mint":
            chain.call(POINTS, "mint", ISSUER, to=who, amount=amount,
                       expires_height=chain.height + blocks)
        elif action == "redeem":
            chain.call(POINTS, "redeem", who, amount=amount, merchant=SHOP)
        elif action == "transfer":
            chain.call(POINTS, "transfer", who, to=[BOB, ALICE][who == BOB], amount=amount)
        elif action == "sweep":
            chain.call(POINTS, "sweep", ISSUER, who=who)
        elif action == "allow":
            chain.call(POINTS, "set_transferable", ISSUER, allowed=amount % 2 == 0)
        else:
            chain.advance(blocks=blocks)
        totals = chain.view(POINTS, "totals")
        stored = sum(lot[1] for who_ in (ALICE, BOB)
                     for lot in chain.view(POINTS, "lots_of", who=who_))
        assert totals["minted"] == stored + totals["redeemed"] + totals["expired"]
        for who_ in (ALICE, BOB):
            lots = chain.view(POINTS, "lots_of", who=who_)
            assert [lot[0] for lot in lots] == sorted({lot[0] for lot in lots})
    transfers_allowed = False
    for _, name, data in chain.events:
        if name == "TransferableSet":
            transfers_allowed = data["allowed"]
        if name == "Transferred":
            assert transfers_allowed
