"""Crowdfunding (vm/templates/crowdfund.py) and vesting (vm/templates/vesting.py):
exactly-once payouts, no claim before the deadline, claims never above the vested amount,
conservation (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, TOKEN, Money, money_world

FUND = account("crowdfund-contract")
VEST = account("vesting-contract")
CREATOR = account("creator")
ALICE, BOB, CAROL = account("alice"), account("bob"), account("carol")
BACKERS = [ALICE, BOB, CAROL]


def fund_world() -> tuple[Money, int]:
    money = money_world(FUND, "crowdfund", [CREATOR, *BACKERS], token_address=TOKEN)
    campaign = money.chain.ok(FUND, "create", CREATOR, goal=500,
                              deadline=money.chain.time + 50, title="Season 2")
    return money, campaign


def test_a_met_goal_pays_the_creator_once_and_never_before_the_deadline() -> None:
    money, campaign = fund_world()
    chain = money.chain
    chain.fails(FUND, "create", CREATOR, "goal must be positive", goal=0, deadline=chain.time + 5)
    chain.fails(FUND, "create", CREATOR, "deadline in the past", goal=5, deadline=chain.time)
    chain.fails(FUND, "pledge", ALICE, "amount must be positive", campaign=campaign, amount=0)
    chain.fails(FUND, "pledge", ALICE, "no such campaign", campaign=99, amount=5)
    chain.ok(FUND, "pledge", ALICE, campaign=campaign, amount=300)
    chain.ok(FUND, "pledge", BOB, campaign=campaign, amount=300)
    assert chain.view(FUND, "state_of", campaign=campaign) == "funding"
    chain.fails(FUND, "claim", CREATOR, "too early", campaign=campaign)
    chain.fails(FUND, "refund", ALICE, "too early", campaign=campaign)
    chain.advance(seconds=50)
    chain.fails(FUND, "pledge", CAROL, "deadline passed", campaign=campaign, amount=5)
    chain.fails(FUND, "refund", ALICE, "goal met", campaign=campaign)
    chain.fails(FUND, "claim", ALICE, "only the creator", campaign=campaign)
    chain.ok(FUND, "claim", CREATOR, campaign=campaign)
    chain.fails(FUND, "claim", CREATOR, "already claimed", campaign=campaign)
    assert money.balance(CREATOR) == FUNDS + 600
    assert chain.view(FUND, "state_of", campaign=campaign) == "claimed"


def test_a_missed_goal_refunds_each_backer_once() -> None:
    money, campaign = fund_world()
    chain = money.chain
    chain.ok(FUND, "pledge", ALICE, campaign=campaign, amount=100)
    chain.ok(FUND, "pledge", ALICE, campaign=campaign, amount=50)
    chain.advance(seconds=60)
    assert chain.view(FUND, "state_of", campaign=campaign) == "failed"
    chain.fails(FUND, "claim", CREATOR, "goal not met", campaign=campaign)
    chain.fails(FUND, "refund", BOB, "nothing to refund", campaign=campaign)
    chain.ok(FUND, "refund", ALICE, campaign=campaign)
    chain.fails(FUND, "refund", ALICE, "nothing to refund", campaign=campaign)
    assert money.balance(ALICE) == FUNDS and money.balance(FUND) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pledge", "claim", "refund", "wait"]),
                          st.sampled_from([CREATOR, *BACKERS]), st.integers(1, 400)),
                min_size=2, max_size=20))
def test_a_campaign_pays_its_creator_or_its_backers_never_both(steps: list) -> None:
    money, campaign = fund_world()
    chain = money.chain
    total = money.total()
    for action, who, amount in steps:
        if action == "pledge":
            chain.call(FUND, "pledge", who, campaign=campaign, amount=amount)
        elif action == "wait":
            chain.advance(seconds=20)
        else:
            chain.call(FUND, action, who, campaign=campaign)
        assert money.total() == total
    pledged = {who: 0 for who in [CREATOR, *BACKERS]}
    for event in chain.events_named("Pledged", FUND):
        pledged[event["backer"]] += event["amount"]
    claims = chain.events_named("Claimed", FUND)
    refunds = chain.events_named("Refunded", FUND)
    assert not (claims and refunds) and len(claims) <= 1
    assert len({event["backer"] for event in refunds}) == len(refunds)
    for event in refunds:
        assert event["amount"] == pledged[event["backer"]]
    paid_out = sum(e["amount"] for e in claims + refunds)
    assert money.balance(FUND) == sum(pledged.values()) - paid_out


def vest_world() -> Money:
    return money_world(VEST, "vesting", [CREATOR, ALICE], token_address=TOKEN)


def test_cliff_linear_vesting_and_revocation_of_the_unvested_part() -> None:
    money = vest_world()
    chain = money.chain
    start = chain.time
    chain.fails(VEST, "grant", CREATOR, "bad schedule", beneficiary=ALICE, amount=10,
                start=start, cliff_seconds=20, duration_seconds=10, revocable=True)
    chain.fails(VEST, "grant", CREATOR, "amount must be positive", beneficiary=ALICE,
                amount=0, start=start, cliff_seconds=0, duration_seconds=10, revocable=True)
    grant = chain.ok(VEST, "grant", CREATOR, beneficiary=ALICE, amount=1000, start=start,
                     cliff_seconds=30, duration_seconds=100, revocable=True)
    chain.advance(seconds=29)
    chain.fails(VEST, "claim", ALICE, "nothing to claim", grant_id=grant)
    chain.advance(seconds=1)
    chain.fails(VEST, "claim", CREATOR, "only the beneficiary", grant_id=grant)
    assert chain.ok(VEST, "claim", ALICE, grant_id=grant) == 300
    chain.advance(seconds=15)
    chain.fails(VEST, "revoke", ALICE, "only the grantor", grant_id=grant)
    chain.ok(VEST, "revoke", CREATOR, grant_id=grant)  # 450 vested, 550 back
    assert money.balance(CREATOR) == FUNDS - 1000 + 550
    chain.fails(VEST, "revoke", CREATOR, "already revoked", grant_id=grant)
    chain.advance(seconds=500)
    assert chain.ok(VEST, "claim", ALICE, grant_id=grant) == 150
    chain.fails(VEST, "claim", ALICE, "nothing to claim", grant_id=grant)
    lock = chain.ok(VEST, "grant", CREATOR, beneficiary=ALICE, amount=7, start=chain.time,
                    cliff_seconds=10, duration_seconds=10, revocable=False)
    chain.fails(VEST, "revoke", CREATOR, "not revocable", grant_id=lock)
    chain.fails(VEST, "claim", ALICE, "no such grant", grant_id=99)
    assert money.balance(VEST) == 7


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 10**12), st.integers(1, 500), st.data())
def test_claims_never_exceed_vested_and_the_amount_is_conserved(amount: int, duration: int,
                                                                data: st.DataObject) -> None:
    money = money_world(VEST, "vesting", [CREATOR, ALICE], funds=10**12,
                        token_address=TOKEN)
    chain = money.chain
    cliff = data.draw(st.integers(0, duration))
    grant = chain.ok(VEST, "grant", CREATOR, beneficiary=ALICE, amount=amount,
                     start=chain.time, cliff_seconds=cliff, duration_seconds=duration,
                     revocable=True)
    total = money.total()
    steps = data.draw(st.lists(st.tuples(st.sampled_from(["claim", "revoke", "wait"]),
                                         st.integers(1, 120)), max_size=12))
    for action, seconds in steps:
        if action == "wait":
            chain.advance(seconds=seconds)
        elif action == "claim":
            chain.call(VEST, "claim", ALICE, grant_id=grant)
        else:
            chain.call(VEST, "revoke", CREATOR, grant_id=grant)
        entry = chain.view(VEST, "grant_of", grant_id=grant)
        vested = chain.view(VEST, "vested_of", grant_id=grant)
        assert entry["claimed"] <= vested <= entry["amount"] <= amount
        assert money.total() == total
        returned = sum(e["returned"] for e in chain.events_named("Revoked", VEST))
        assert money.balance(VEST) + entry["claimed"] + returned == amount
