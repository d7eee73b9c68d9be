"""Bonding-curve sale (vm/templates/bonding.py): the integer curve, slippage bounds, a
reserve that always covers selling back every unit (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, TOKEN, Money, money_world

CURVE = account("bonding-contract")
CREATOR, ALICE, BOB = account("creator"), account("alice"), account("bob")


def world(base: int = 10, slope: int = 2, fee_bp: int = 0, cap: int = 1000) -> Money:
    return money_world(CURVE, "bonding", [CREATOR, ALICE, BOB], token_address=TOKEN,
                       base_price=base, slope=slope, supply_max=cap, fee_bp=fee_bp,
                       beneficiary=CREATOR)


def test_buy_and_sell_follow_the_curve_with_slippage_bounds_and_fees() -> None:
    money = world(fee_bp=100, cap=10)
    chain = money.chain
    assert chain.view(CURVE, "buy_quote", amount=3) == [36, 0]  # 10 + 12 + 14; fee floor(0.36)
    chain.fails(CURVE, "buy", ALICE, "slippage", amount=3, max_cost=35)
    chain.fails(CURVE, "buy", ALICE, "amount must be positive", amount=0, max_cost=99)
    chain.fails(CURVE, "buy", ALICE, "supply cap reached", amount=11, max_cost=10**9)
    assert chain.ok(CURVE, "buy", ALICE, amount=3, max_cost=36) == 36
    assert chain.view(CURVE, "price_of_next") == 16
    assert chain.ok(CURVE, "buy", BOB, amount=7, max_cost=10**6) == 154 + 1  # 16 + ... + 28, fee 1
    assert chain.view(CURVE, "reserve_of") == 36 + 154 == money.balance(CURVE)
    chain.fails(CURVE, "sell", ALICE, "insufficient units", amount=4, min_refund=0)
    chain.fails(CURVE, "sell", ALICE, "slippage", amount=3, min_refund=10**6)
    # 24 + 26 + 28; the fee floor(0.78) is 0
    assert chain.ok(CURVE, "sell", ALICE, amount=3, min_refund=0) == 78
    chain.ok(CURVE, "transfer", BOB, to=ALICE, amount=2)
    chain.fails(CURVE, "transfer", ALICE, "insufficient units", to=BOB, amount=3)
    assert money.balance(CREATOR) == FUNDS + 1
    chain.deploy_fails("bonding", account("bad-curve"), CREATOR, "bad curve",
                       token_address=TOKEN, base_price=0, slope=1, supply_max=5)
    chain.deploy_fails("bonding", account("bad-fee"), CREATOR, "bad fee",
                       token_address=TOKEN, base_price=1, slope=1, supply_max=5, fee_bp=1001)


STEP = st.tuples(st.sampled_from(["buy", "sell", "transfer"]), st.sampled_from([ALICE, BOB]),
                 st.integers(1, 40))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 50), st.integers(0, 30), st.integers(0, 1000),
       st.lists(STEP, min_size=1, max_size=20))
def test_the_reserve_always_covers_selling_back_every_unit(base: int, slope: int, fee_bp: int,
                                                           steps: list) -> None:
    money = world(base, slope, fee_bp, cap=200)
    chain = money.chain
    total = money.total()
    for action, who, amount in steps:
        if action == "buy":
            chain.call(CURVE, "buy", who, amount=amount, max_cost=FUNDS)
        elif action == "sell":
            chain.call(CURVE, "sell", who, amount=amount, min_refund=0)
        else:
            chain.call(CURVE, "transfer", who, to=[BOB, ALICE][who == BOB], amount=amount)
        supply = chain.view(CURVE, "supply_of")
        exact = sum(base + slope * k for k in range(supply))
        assert chain.view(CURVE, "reserve_of") == exact == money.balance(CURVE)
        units = sum(chain.view(CURVE, "balance_of", who=w) for w in (ALICE, BOB))
        assert units == supply <= 200 and money.total() == total
    for who in (ALICE, BOB):  # everyone can sell everything back, in any order
        units = chain.view(CURVE, "balance_of", who=who)
        if units:
            chain.ok(CURVE, "sell", who, amount=units, min_refund=0)
    assert money.balance(CURVE) == 0 and chain.view(CURVE, "supply_of") == 0
