"""DAO voting (vm/templates/dao.py), including governing the marketplace's breaker."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.market_setup import (
    ALICE, BOB, CAROL, ISSUER, MARKET, NFT, TOKEN, World, make_world,
)

DAO = account("dao-contract")
VOTING_SECONDS = 100


def dao_world(quorum_bp: int = 4000) -> World:
    world = make_world(deviation_bp=1000, items=2)
    chain = world.chain
    chain.deploy("dao", DAO, ISSUER, token_address=TOKEN, quorum_bp=quorum_bp,
                 voting_seconds=VOTING_SECONDS)
    for who, stake in ((ALICE, 600), (BOB, 300), (CAROL, 100)):
        chain.ok(TOKEN, "approve", who, spender=DAO, amount=10**6)
        chain.ok(DAO, "deposit", who, amount=stake)
    chain.advance()
    return world


def test_power_is_fixed_at_the_snapshot_and_each_account_votes_once() -> None:
    world = dao_world()
    chain = world.chain
    chain.fails(DAO, "propose", account("nobody"), "no voting power", description="x")
    proposal = chain.ok(DAO, "propose", CAROL, description="hello")
    chain.ok(DAO, "deposit", CAROL, amount=5000)  # after the snapshot: does not count
    chain.advance()
    chain.ok(DAO, "withdraw", ALICE, amount=600)  # withdrawing later keeps the vote weight
    chain.ok(DAO, "vote", ALICE, proposal=proposal, support=0)
    chain.ok(DAO, "vote", CAROL, proposal=proposal, support=1)
    chain.fails(DAO, "vote", CAROL, "already voted", proposal=proposal, support=1)
    chain.fails(DAO, "vote", BOB, "bad support", proposal=proposal, support=3)
    chain.ok(TOKEN, "approve", ALICE, spender=DAO, amount=600)
    chain.ok(DAO, "deposit", ALICE, amount=600)
    entry = chain.view(DAO, "proposal_of", proposal=proposal)
    assert (entry["against"], entry["for"], entry["total"]) == (600, 100, 1000)
    powers = [event["power"] for event in chain.events_named("Voted", DAO)]
    assert powers == [600, 100]
    chain.fails(DAO, "execute", BOB, "voting not over", proposal=proposal)
    chain.advance(seconds=VOTING_SECONDS)
    chain.fails(DAO, "vote", BOB, "voting closed", proposal=proposal, support=1)
    assert chain.view(DAO, "state_of", proposal=proposal) == "defeated"
    chain.fails(DAO, "execute", BOB, "not passed", proposal=proposal)
    assert world.balance(DAO) == 1000 + 5000


def test_quorum_and_execution_at_most_once_through_the_marketplace() -> None:
    world = dao_world(quorum_bp=5000)
    chain = world.chain
    chain.ok(MARKET, "govern", ISSUER, action=["set_governor", DAO])
    listing = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=1000)
    assert chain.ok(MARKET, "buy", BOB, listing=listing) is True
    spike = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=2, price=5000)
    assert chain.ok(MARKET, "buy", BOB, listing=spike) is False
    proposal = chain.ok(DAO, "propose", BOB, description="lift the halt", target=MARKET,
                        method="govern", payload=["lift_halt", NFT])
    chain.advance()
    chain.ok(DAO, "vote", BOB, proposal=proposal, support=1)  # 300 of 1000: below quorum
    chain.advance(seconds=VOTING_SECONDS)
    chain.fails(DAO, "execute", CAROL, "not passed", proposal=proposal)
    second = chain.ok(DAO, "propose", BOB, description="again", target=MARKET,
                      method="govern", payload=["lift_halt", NFT])
    chain.advance()
    chain.ok(DAO, "vote", BOB, proposal=second, support=1)
    chain.ok(DAO, "vote", CAROL, proposal=second, support=1)
    chain.ok(DAO, "vote", ALICE, proposal=second, support=2)  # abstain counts for quorum
    chain.advance(seconds=VOTING_SECONDS)
    assert chain.view(MARKET, "is_halted", collection=NFT) is True
    chain.ok(DAO, "execute", CAROL, proposal=second)
    chain.fails(DAO, "execute", CAROL, "already executed", proposal=second)
    assert chain.view(MARKET, "is_halted", collection=NFT) is False
    assert chain.view(DAO, "state_of", proposal=second) == "executed"
    assert chain.ok(MARKET, "buy", BOB, listing=spike) is True


def test_a_failing_action_leaves_the_proposal_executable() -> None:
    world = dao_world()
    chain = world.chain
    proposal = chain.ok(DAO, "propose", ALICE, description="lift", target=MARKET,
                        method="govern", payload=["lift_halt", NFT])
    chain.advance()
    chain.ok(DAO, "vote", ALICE, proposal=proposal, support=1)
    chain.advance(seconds=VOTING_SECONDS)
    chain.fails(DAO, "execute", BOB, "only the governor", proposal=proposal)
    assert chain.view(DAO, "state_of", proposal=proposal) == "succeeded"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["deposit", "withdraw", "vote", "advance"]),
                          st.sampled_from([ALICE, BOB, CAROL]),
                          st.integers(min_value=0, max_value=400)), min_size=5, max_size=25))
def test_tallies_use_snapshot_power_once_per_account(steps: list) -> None:
    world = dao_world()
    chain = world.chain
    proposal = chain.ok(DAO, "propose", ALICE, description="p")
    snapshot_power = {ALICE: 600, BOB: 300, CAROL: 100}
    voted: dict[bytes, int] = {}
    deadline = chain.view(DAO, "proposal_of", proposal=proposal)["deadline"]
    for method, who, amount in steps:
        if method == "deposit":
            chain.call(DAO, "deposit", who, amount=amount)
        elif method == "withdraw":
            chain.call(DAO, "withdraw", who, amount=amount)
        elif method == "vote":
            result = chain.call(DAO, "vote", who, proposal=proposal, support=amount % 3)
            open_for_votes = chain.time < deadline
            assert result.ok == (who not in voted and open_for_votes)
            if result.ok:
                voted[who] = amount % 3
        else:
            chain.advance(seconds=amount // 20)
        stakes = sum(chain.view(DAO, "stake_of", who=who) for who in (ALICE, BOB, CAROL))
        assert world.balance(DAO) == stakes
        assert chain.view(DAO, "power_at", who=b"", height=chain.height + 1) == stakes
    entry = chain.view(DAO, "proposal_of", proposal=proposal)
    for support, column in enumerate(["against", "for", "abstain"]):
        expected = sum(snapshot_power[who] for who, cast in voted.items() if cast == support)
        assert entry[column] == expected
