"""Oracle price feed (vm/templates/oracle.py): median of fresh reports, stale data
refused, the marketplace circuit breaker fed from it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account
from tests.templates.market_setup import ALICE, BOB, ISSUER, MARKET, NFT, make_world

ORACLE = account("oracle-contract")
R = [account(f"reporter-{index}") for index in range(5)]


def feed(chain: Chain, max_age: int = 60, quorum: int = 3) -> None:
    chain.deploy("oracle", ORACLE, ISSUER, max_age_seconds=max_age, min_reports=quorum)
    for reporter in R:
        chain.ok(ORACLE, "set_reporter", ISSUER, reporter=reporter, allowed=True)


def test_median_of_fresh_reports_and_stale_data_refused() -> None:
    chain = Chain()
    feed(chain)
    chain.fails(ORACLE, "set_reporter", ALICE, "only the admin", reporter=ALICE, allowed=True)
    chain.fails(ORACLE, "submit", ALICE, "not a reporter", value=5)
    chain.fails(ORACLE, "submit", R[0], "value must be positive", value=0)
    chain.fails(ORACLE, "set_params", ISSUER, "bad params", max_age_seconds=0, min_reports=1)
    chain.ok(ORACLE, "submit", R[0], value=100)
    chain.ok(ORACLE, "submit", R[1], value=300)
    chain.fails(ORACLE, "push_reference", ALICE, "stale", market=MARKET, collection=NFT)
    chain.ok(ORACLE, "submit", R[2], value=200)
    assert chain.view(ORACLE, "price") == 200
    chain.ok(ORACLE, "submit", R[3], value=1000)
    assert chain.view(ORACLE, "latest") == [200, 4, chain.time]  # lower middle of 4
    chain.advance(seconds=59)
    chain.ok(ORACLE, "submit", R[4], value=50)
    chain.advance(seconds=1)  # the first four are now stale; one fresh report
    chain.fails(ORACLE, "push_reference", ALICE, "stale", market=MARKET, collection=NFT)
    chain.ok(ORACLE, "set_reporter", ISSUER, reporter=R[4], allowed=False)
    assert chain.view(ORACLE, "report_of", reporter=R[4]) == []


def test_the_market_breaker_takes_its_reference_from_the_feed() -> None:
    world = make_world()
    chain = world.chain
    feed(chain, quorum=1)
    chain.ok(MARKET, "govern", ISSUER, action=["set_governor", ORACLE])
    chain.fails(ORACLE, "relay", ALICE, "only the admin", market=MARKET,
                action=["lift_halt", NFT])
    chain.ok(ORACLE, "submit", R[0], value=1000)
    assert chain.ok(ORACLE, "push_reference", BOB, market=MARKET, collection=NFT) == 1000
    assert chain.view(MARKET, "class_of", collection=NFT)[0] == 1000
    listing = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=5000)
    assert chain.ok(MARKET, "buy", BOB, listing=listing) is False  # 5x the feed: halted
    assert chain.view(MARKET, "is_halted", collection=NFT)
    chain.ok(ORACLE, "relay", ISSUER, market=MARKET, action=["lift_halt", NFT])
    assert not chain.view(MARKET, "is_halted", collection=NFT)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**9), st.integers(0, 100)), min_size=1,
                max_size=5), st.integers(1, 5))
def test_the_answer_is_the_lower_median_of_the_fresh_reports(reports: list,
                                                             quorum: int) -> None:
    chain = Chain()
    feed(chain, max_age=60, quorum=quorum)
    submitted = []
    for index, (value, wait) in enumerate(reports):
        chain.ok(ORACLE, "submit", R[index], value=value)
        submitted.append((value, chain.time))
        chain.advance(seconds=wait)
    fresh = sorted(value for value, at in submitted if chain.time < at + 60)
    if len(fresh) < quorum:
        chain.fails(ORACLE, "push_reference", ALICE, "stale", market=MARKET, collection=NFT)
    else:
        assert chain.view(ORACLE, "price") == fresh[(len(fresh) - 1) // 2]
