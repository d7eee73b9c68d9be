"""Multisig wallet (vm/templates/multisig.py): m-of-n execution once, expiry, owner and
threshold changes by the same m-of-n, removed owners' approvals do not count."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, ISSUER, TOKEN, Money, money_world

WALLET = account("multisig-contract")
NFT = account("nft-contract")
MARKET = account("market-contract")
A, B, C, D = account("owner-a"), account("owner-b"), account("owner-c"), account("owner-d")
OUTSIDER = account("outsider")


def world() -> Money:
    money = money_world(WALLET, "multisig", [OUTSIDER], owner_list=[A, B, C],
                        threshold_count=2)
    money.chain.ok(TOKEN, "transfer", ISSUER, to=WALLET, amount=500)
    return money


def test_two_of_three_moves_tokens_once_and_proposals_expire() -> None:
    money = world()
    chain = money.chain
    chain.deploy_fails("multisig", account("bad-ms"), A, "bad threshold", owner_list=[A, B],
                       threshold_count=3)
    chain.deploy_fails("multisig", account("bad-ms"), A, "bad owners", owner_list=[A, A],
                       threshold_count=1)
    pay = ["transfer", TOKEN, OUTSIDER, 200]
    chain.fails(WALLET, "propose", OUTSIDER, "only an owner", action=pay,
                expires_height=chain.height + 10)
    chain.fails(WALLET, "propose", A, "bad action", action=["burn", TOKEN],
                expires_height=chain.height + 10)
    chain.fails(WALLET, "propose", A, "expiry in the past", action=pay,
                expires_height=chain.height)
    proposal = chain.ok(WALLET, "propose", A, action=pay, expires_height=chain.height + 10)
    chain.fails(WALLET, "approve", A, "already approved", proposal=proposal)
    chain.fails(WALLET, "execute", A, "not enough approvals", proposal=proposal)
    chain.ok(WALLET, "approve", B, proposal=proposal)
    chain.ok(WALLET, "execute", C, proposal=proposal)
    chain.fails(WALLET, "execute", C, "executed", proposal=proposal)
    assert money.balance(OUTSIDER) == FUNDS + 200 and money.balance(WALLET) == 300
    late = chain.ok(WALLET, "propose", A, action=pay, expires_height=chain.height + 2)
    chain.fails(WALLET, "unapprove", B, "not approved", proposal=late)
    chain.advance(blocks=2)
    chain.fails(WALLET, "approve", B, "expired", proposal=late)
    chain.fails(WALLET, "execute", A, "expired", proposal=late)


def test_owner_changes_need_the_same_quorum_and_removed_approvals_stop_counting() -> None:
    money = world()
    chain = money.chain
    far = chain.height + 100
    pay = chain.ok(WALLET, "propose", C, action=["transfer", TOKEN, C, 100],
                   expires_height=far)
    remove = chain.ok(WALLET, "propose", A, action=["remove_owner", C], expires_height=far)
    chain.ok(WALLET, "approve", B, proposal=remove)
    chain.ok(WALLET, "execute", A, proposal=remove)
    assert chain.view(WALLET, "owners_of") == [A, B]
    chain.ok(WALLET, "approve", A, proposal=pay)
    assert chain.view(WALLET, "approvals_of", proposal=pay) == 1  # C's approval is gone
    chain.fails(WALLET, "execute", A, "not enough approvals", proposal=pay)
    chain.fails(WALLET, "approve", C, "only an owner", proposal=pay)
    raise_to_3 = chain.ok(WALLET, "propose", A, action=["set_threshold", 3],
                          expires_height=far)
    chain.ok(WALLET, "approve", B, proposal=raise_to_3)
    chain.fails(WALLET, "execute", B, "threshold above owners", proposal=raise_to_3)
    add = chain.ok(WALLET, "propose", B, action=["add_owner", D], expires_height=far)
    chain.ok(WALLET, "approve", A, proposal=add)
    chain.ok(WALLET, "execute", A, proposal=add)
    chain.ok(WALLET, "execute", D, proposal=raise_to_3)
    assert chain.view(WALLET, "threshold_of") == 3


def test_the_wallet_moves_a_collectible_and_calls_a_contract() -> None:
    money = world()
    chain = money.chain
    chain.deploy("nft", NFT, ISSUER)
    chain.ok(NFT, "mint", ISSUER, to=WALLET, token=7, royalty_bp=0)
    give = chain.ok(WALLET, "propose", A, action=["transfer_item", NFT, OUTSIDER, 7],
                    expires_height=chain.height + 5)
    chain.ok(WALLET, "approve", C, proposal=give)
    chain.ok(WALLET, "execute", C, proposal=give)
    assert chain.view(NFT, "owner_of", token=7) == OUTSIDER
    chain.deploy("market", MARKET, ISSUER, token_address=TOKEN, fee=100, recipient=ISSUER)
    chain.ok(MARKET, "govern", ISSUER, action=["set_governor", WALLET])
    govern = chain.ok(WALLET, "propose", B, action=["call", MARKET, "govern",
                                                     ["allow_collection", NFT]],
                      expires_height=chain.height + 5)
    chain.ok(WALLET, "approve", A, proposal=govern)
    chain.ok(WALLET, "execute", A, proposal=govern)
    assert chain.events_named("Governed", MARKET)[-1]["action"] == ["allow_collection", NFT]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["approve", "unapprove", "execute", "wait"]),
                          st.sampled_from([A, B, C, OUTSIDER])), max_size=15))
def test_a_proposal_executes_at_most_once_and_only_with_the_quorum(steps: list) -> None:
    money = world()
    chain = money.chain
    proposal = chain.ok(WALLET, "propose", A, action=["transfer", TOKEN, OUTSIDER, 50],
                        expires_height=chain.height + 4)
    total = money.total()
    for action, who in steps:
        if action == "wait":
            chain.advance(blocks=1)
            continue
        before = chain.view(WALLET, "proposal_of", proposal=proposal)
        result = chain.call(WALLET, action, who, proposal=proposal)
        if action == "execute" and result.ok:
            assert len(before["approvals"]) >= 2 and chain.height < before["expires"]
        assert money.total() == total
    executed = chain.events_named("Executed", WALLET)
    assert len(executed) <= 1
    assert money.balance(OUTSIDER) == FUNDS + 50 * len(executed)
