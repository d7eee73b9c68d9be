"""Membership passes (vm/templates/membership.py): access by block time, renewal,
pro-rata refunds rounded in the subscriber's favour, conservation (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import TOKEN, Money, money_world

PASSES = account("membership-contract")
PROVIDER = account("provider")
ALICE, BOB = account("alice"), account("bob")
PERIOD = 30


def world(price: int = 100) -> tuple[Money, int]:
    money = money_world(PASSES, "membership", [PROVIDER, ALICE, BOB], token_address=TOKEN)
    plan = money.chain.ok(PASSES, "create_plan", PROVIDER, price=price, period_seconds=PERIOD)
    return money, plan


def test_access_renewal_and_a_pro_rata_refund() -> None:
    money, plan = world()
    chain = money.chain
    chain.fails(PASSES, "create_plan", PROVIDER, "price must be positive", price=0,
                period_seconds=5)
    chain.fails(PASSES, "create_plan", PROVIDER, "bad period", price=5, period_seconds=0)
    chain.fails(PASSES, "subscribe", ALICE, "bad periods", plan=plan, periods=0)
    chain.fails(PASSES, "subscribe", ALICE, "no such plan", plan=7, periods=1)
    chain.fails(PASSES, "cancel", ALICE, "not subscribed", plan=plan)
    assert not chain.view(PASSES, "is_active", plan=plan, who=ALICE)
    chain.ok(PASSES, "subscribe", ALICE, plan=plan, periods=2)  # 200 for 60 s
    start = chain.time
    assert chain.view(PASSES, "expires_at", plan=plan, who=ALICE) == start + 60
    chain.advance(seconds=20)
    assert chain.view(PASSES, "is_active", plan=plan, who=ALICE)
    chain.ok(PASSES, "subscribe", ALICE, plan=plan, periods=1)  # renewal: +100, +30 s
    # settle at t=20: provider earned floor(200 * 20 / 60) = 66; deposit 134 + 100
    assert money.balance(PROVIDER) == 1_000_000 + 66
    assert chain.view(PASSES, "expires_at", plan=plan, who=ALICE) == start + 90
    chain.advance(seconds=7)
    # 234 over the remaining 70 s; 7 s earned: floor(234 * 7 / 70) = 23; refund 211
    alice_before = money.balance(ALICE)
    chain.ok(PASSES, "cancel", ALICE, plan=plan)
    assert money.balance(ALICE) == alice_before + 211
    assert money.balance(PROVIDER) == 1_000_000 + 66 + 23
    assert not chain.view(PASSES, "is_active", plan=plan, who=ALICE)
    chain.fails(PASSES, "cancel", ALICE, "not active", plan=plan)
    assert money.balance(PASSES) == 0


def test_access_ends_by_block_time_and_the_provider_collects_the_whole_term() -> None:
    money, plan = world()
    chain = money.chain
    chain.ok(PASSES, "subscribe", BOB, plan=plan, periods=1)
    chain.advance(seconds=PERIOD)
    assert not chain.view(PASSES, "is_active", plan=plan, who=BOB)
    assert chain.view(PASSES, "earned_of", plan=plan, who=BOB) == 100
    assert chain.ok(PASSES, "collect", PROVIDER, plan=plan, subscriber=BOB) == 100
    assert chain.ok(PASSES, "collect", PROVIDER, plan=plan, subscriber=BOB) == 0
    chain.fails(PASSES, "retire_plan", BOB, "only the provider", plan=plan)
    chain.ok(PASSES, "retire_plan", PROVIDER, plan=plan)
    chain.fails(PASSES, "subscribe", BOB, "plan retired", plan=plan, periods=1)


STEP = st.tuples(st.sampled_from(["subscribe", "cancel", "collect", "wait"]),
                 st.sampled_from([ALICE, BOB]), st.integers(1, 5), st.integers(1, 47))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 997), st.lists(STEP, min_size=2, max_size=20))
def test_paid_equals_earned_plus_refunded_plus_held(price: int, steps: list) -> None:
    money, plan = world(price)
    chain = money.chain
    total = money.total()
    for action, who, periods, seconds in steps:
        if action == "subscribe":
            chain.call(PASSES, "subscribe", who, plan=plan, periods=periods)
        elif action == "cancel":
            held = chain.view(PASSES, "expires_at", plan=plan, who=who) > chain.time
            terms = chain.view(PASSES, "subscription_of", plan=plan, who=who) if held else None
            result = chain.call(PASSES, "cancel", who, plan=plan)
            if result.ok:  # the refund is never below the exact unearned part
                refund = chain.events_named("Cancelled", PASSES)[-1]["refund"]
                assert terms is not None
                remaining = terms["end"] - terms["paid_until"]
                assert refund * remaining >= terms["deposit"] * (terms["end"] - chain.time)
        elif action == "collect":
            chain.call(PASSES, "collect", PROVIDER, plan=plan, subscriber=who)
        else:
            chain.advance(seconds=seconds)
        assert money.total() == total
        deposits = 0
        for member in (ALICE, BOB):
            if chain.view(PASSES, "expires_at", plan=plan, who=member):
                deposits += chain.view(PASSES, "subscription_of", plan=plan,
                                       who=member)["deposit"]
        assert money.balance(PASSES) == deposits
    paid = sum(e["paid"] for e in chain.events_named("Subscribed", PASSES))
    earned = sum(e["amount"] for e in chain.events_named("Collected", PASSES))
    earned += sum(e["earned"] for e in chain.events_named("Cancelled", PASSES))
    refunded = sum(e["refund"] for e in chain.events_named("Cancelled", PASSES))
    assert paid == earned + refunded + money.balance(PASSES)
    assert money.balance(PROVIDER) - 1_000_000 == earned
