"""Collectible (vm/templates/nft.py): ownership, approvals, operators, royalty, user right."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account

MINTER = account("minter")
ALICE = account("alice")
BOB = account("bob")
CAROL = account("carol")
NFT = account("nft-contract")
PEOPLE = [ALICE, BOB, CAROL]


def nft_chain() -> Chain:
    chain = Chain()
    chain.deploy("nft", NFT, MINTER)
    return chain


def test_existing_mint_transfer_and_royalty_still_work() -> None:
    chain = nft_chain()
    chain.ok(NFT, "mint", MINTER, to=ALICE, token=1, royalty_bp=250)
    chain.fails(NFT, "mint", MINTER, "token exists", to=ALICE, token=1, royalty_bp=250)
    chain.fails(NFT, "mint", ALICE, "only the minter", to=ALICE, token=2, royalty_bp=0)
    chain.fails(NFT, "mint", MINTER, "bad royalty", to=ALICE, token=2, royalty_bp=10_001)
    chain.ok(NFT, "transfer", ALICE, to=BOB, token=1)
    chain.fails(NFT, "transfer", ALICE, "not allowed", to=CAROL, token=1)
    assert chain.view(NFT, "owner_of", token=1) == BOB
    assert chain.view(NFT, "balance_of", who=ALICE) == 0
    assert chain.view(NFT, "royalty_info", token=1, price=10_000) == [MINTER, 250]


def test_metadata_content_hash_and_royalty_receiver() -> None:
    chain = nft_chain()
    chain.ok(NFT, "mint", MINTER, to=ALICE, token=7, royalty_bp=10_000, uri="ipfs://x",
             content_hash=b"\x12" * 32, royalty_receiver=CAROL)
    assert chain.view(NFT, "token_uri", token=7) == "ipfs://x"
    assert chain.view(NFT, "content_hash_of", token=7) == b"\x12" * 32
    assert chain.view(NFT, "royalty_info", token=7, price=999) == [CAROL, 999]




def test_approval_is_cleared_by_a_transfer_and_operators_can_move() -> None:
    chain = nft_chain()
    chain.ok(NFT, "mint", MINTER, to=ALICE, token=1, royalty_bp=0)
    chain.fails(NFT, "approve", BOB, "not the owner", spender=BOB, token=1)
    chain.ok(NFT, "approve", ALICE, spender=BOB, token=1)
    assert chain.view(NFT, "get_approved", token=1) == BOB
    chain.ok(NFT, "transfer_from", BOB, source=ALICE, to=CAROL, token=1)
    assert chain.view(NFT, "get_approved", token=1) == b""
    chain.fails(NFT, "transfer_from", BOB, "not allowed", source=CAROL, to=BOB, token=1)
    chain.fails(NFT, "transfer_from", CAROL, "not the owner", source=ALICE, to=BOB, token=1)
    chain.ok(NFT, "set_approval_for_all", CAROL, operator=ALICE, approved=True)
    assert chain.view(NFT, "is_approved_for_all", owner=CAROL, operator=ALICE) is True
    chain.ok(NFT, "approve", ALICE, spender=BOB, token=1)  # an operator may approve
    chain.ok(NFT, "transfer", ALICE, to=ALICE, token=1)
    chain.ok(NFT, "set_approval_for_all", CAROL, operator=ALICE, approved=False)
    assert chain.view(NFT, "is_approved_for_all", owner=CAROL, operator=ALICE) is False
    assert len(chain.events_named("ApprovalForAll", NFT)) == 2
    assert len(chain.events_named("Approval", NFT)) == 2


operations = st.lists(
    st.tuples(
        st.sampled_from(["mint", "transfer", "transfer_from", "approve", "operator"]),
        st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(operations)
def test_every_item_has_exactly_one_owner_and_counts_match(steps: list) -> None:
    chain = nft_chain()
    owners: dict[int, bytes] = {}
    for method, sender, other, third, token in steps:
        if method == "mint":
            if chain.call(NFT, "mint", MINTER, to=other, token=token, royalty_bp=0).ok:
                assert token not in owners
                owners[token] = other
        elif method == "transfer":
            if chain.call(NFT, "transfer", sender, to=other, token=token).ok:
                owners[token] = other
        elif method == "transfer_from":
            if chain.call(NFT, "transfer_from", sender, source=other, to=third,
                          token=token).ok:
                assert owners[token] == other
                owners[token] = third
        elif method == "approve":
            chain.call(NFT, "approve", sender, spender=other, token=token)
        else:
            chain.call(NFT, "set_approval_for_all", sender, operator=other,
                       approved=token % 2 == 0)
    for token, owner in owners.items():
        assert chain.view(NFT, "owner_of", token=token) == owner
    for who in PEOPLE:
        mine = sum(1 for owner in owners.values() if owner == who)
        assert chain.view(NFT, "balance_of", who=who) == mine


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10**12))
def test_royalty_is_a_floor_share_of_the_price_never_above_it(bp: int, price: int) -> None:
    chain = nft_chain()
    chain.ok(NFT, "mint", MINTER, to=ALICE, token=1, royalty_bp=bp)
    receiver, amount = chain.view(NFT, "royalty_info", token=1, price=price)
    assert receiver == MINTER
    assert amount == price * bp // 10_000 and 0 <= amount <= price


def test_user_right_ends_at_expiry_and_a_transfer_clears_it() -> None:
    chain = nft_chain()
    chain.ok(NFT, "mint", MINTER, to=ALICE, token=1, royalty_bp=0)
    chain.fails(NFT, "set_user", BOB, "not allowed", token=1, user=BOB, expires=chain.time + 9)
    chain.fails(NFT, "set_user", ALICE, "expiry in the past", token=1, user=BOB,
                expires=chain.time)
    chain.ok(NFT, "set_user", ALICE, token=1, user=BOB, expires=chain.time + 100)
    assert chain.view(NFT, "user_of", token=1) == BOB
    chain.fails(NFT, "set_user", ALICE, "token is rented", token=1, user=CAROL,
                expires=chain.time + 200)
    chain.advance(seconds=99)
    assert chain.view(NFT, "user_of", token=1) == BOB
    chain.advance(seconds=1)
    assert chain.view(NFT, "user_of", token=1) == b""
    assert chain.view(NFT, "user_expires", token=1) == 0
    chain.ok(NFT, "set_user", ALICE, token=1, user=CAROL, expires=chain.time + 50)
    chain.fails(NFT, "end_user", BOB, "not the user", token=1)
    chain.ok(NFT, "transfer", ALICE, to=BOB, token=1)
    assert chain.view(NFT, "user_of", token=1) == b""
    chain.ok(NFT, "set_user", BOB, token=1, user=CAROL, expires=chain.time + 50)
    chain.ok(NFT, "end_user", CAROL, token=1)
    assert chain.view(NFT, "user_of", token=1) == b""
    updates = chain.events_named("UpdateUser", NFT)
    assert [update["user"] for update in updates] == [BOB, CAROL, b"", CAROL, b""]
