"""Staking (vm/templates/staking.py): rewards per block pro rata in integers, unstake
delay, rewards never above the funded pool, conservation (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, ISSUER, TOKEN, Money, money_world

STAKING = account("staking-contract")
ALICE, BOB, CAROL = account("alice"), account("bob"), account("carol")
STAKERS = [ALICE, BOB, CAROL]


def world(rate: int = 10, delay: int = 3) -> Money:
    return money_world(STAKING, "staking", STAKERS, token_address=TOKEN,
                       reward_per_block=rate, unstake_delay_blocks=delay)


def test_rewards_split_pro_rata_and_unstaking_waits_for_the_delay() -> None:
    money = world()
    chain = money.chain
    chain.fails(STAKING, "fund", ISSUER, "amount must be positive", amount=0)
    chain.ok(STAKING, "fund", ISSUER, amount=100)
    chain.ok(STAKING, "stake", ALICE, amount=300)
    chain.ok(STAKING, "stake", BOB, amount=100)
    chain.advance(blocks=4)  # 40 rewards: 30 to Alice, 10 to Bob
    assert chain.view(STAKING, "pending_reward", who=ALICE) == 30
    assert chain.ok(STAKING, "claim", BOB) == 10
    chain.fails(STAKING, "request_unstake", BOB, "insufficient stake", amount=101)
    chain.ok(STAKING, "request_unstake", BOB, amount=100)
    chain.fails(STAKING, "withdraw", BOB, "too early")
    chain.fails(STAKING, "withdraw", CAROL, "nothing to withdraw")
    chain.advance(blocks=3)  # Alice alone: +30
    assert chain.ok(STAKING, "withdraw", BOB) == 100
    assert chain.ok(STAKING, "claim", ALICE) == 60
    chain.advance(blocks=10)  # only 30 left in the pool
    assert chain.ok(STAKING, "claim", ALICE) == 30
    chain.advance(blocks=10)
    chain.fails(STAKING, "claim", ALICE, "nothing to claim")
    assert chain.view(STAKING, "unallocated_of") == 0
    assert money.balance(BOB) == FUNDS + 10
    chain.fails(STAKING, "set_reward_per_block", ALICE, "only the admin", reward_per_block=1)
    chain.fails(STAKING, "set_reward_per_block", ISSUER, "bad rate", reward_per_block=-1)


def test_blocks_with_nothing_staked_allocate_nothing() -> None:
    money = world()
    chain = money.chain
    chain.ok(STAKING, "fund", ISSUER, amount=50)
    chain.advance(blocks=20)
    chain.ok(STAKING, "stake", CAROL, amount=7)
    chain.advance(blocks=2)
    # 20 allocated; 7 * floor(20 * SCALE / 7) / SCALE rounds down to 19: one unit of dust
    assert chain.view(STAKING, "pending_reward", who=CAROL) == 19
    assert chain.view(STAKING, "unallocated_of") == 30


STEP = st.tuples(st.sampled_from(["stake", "unstake", "withdraw", "claim", "fund", "wait"]),
                 st.sampled_from(STAKERS), st.integers(1, 10**6), st.integers(1, 6))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 10**5), st.lists(STEP, min_size=3, max_size=25))
def test_rewards_never_exceed_the_pool_and_the_balance_is_accounted(rate: int,
                                                                    steps: list) -> None:
    money = money_world(STAKING, "staking", STAKERS, funds=10**9, token_address=TOKEN,
                        reward_per_block=rate, unstake_delay_blocks=2)
    chain = money.chain
    total = money.total()
    for action, who, amount, blocks in steps:
        if action == "stake":
            chain.call(STAKING, "stake", who, amount=amount)
        elif action == "unstake":
            chain.call(STAKING, "request_unstake", who, amount=amount % 1000 + 1)
        elif action in ("withdraw", "claim"):
            chain.call(STAKING, action, who)
        elif action == "fund":
            chain.call(STAKING, "fund", ISSUER, amount=amount)
        else:
            chain.advance(blocks=blocks)
        pool = chain.view(STAKING, "pool_of")
        owed = sum(chain.view(STAKING, "pending_reward", who=w) for w in STAKERS)
        assert pool["paid"] + owed <= pool["allocated"] <= pool["funded"]
        pending = sum(chain.view(STAKING, "staker_of", who=w)["pending"] for w in STAKERS)
        held = pool["staked"] + pending + pool["funded"] - pool["paid"]
        assert money.balance(STAKING) == held
        assert money.total() == total
