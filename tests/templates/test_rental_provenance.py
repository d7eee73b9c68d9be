"""Rental desk (vm/templates/rental.py) and provenance anchoring (provenance.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account
from tests.templates.market_setup import ALICE, BOB, CAROL, NFT, TOKEN, World, make_world

RENTAL = account("rental-contract")
PROVENANCE = account("provenance-contract")
ADMIN = account("admin")


def rental_world() -> World:
    world = make_world(items=1)
    chain = world.chain
    chain.deploy("rental", RENTAL, ADMIN, token_address=TOKEN)
    for who in (ALICE, BOB, CAROL):
        chain.ok(NFT, "set_approval_for_all", who, operator=RENTAL, approved=True)
        chain.ok(TOKEN, "approve", who, spender=RENTAL, amount=10**6)
    return world


def test_renting_pays_the_owner_and_sets_a_user_until_expiry() -> None:
    world = rental_world()
    chain = world.chain
    chain.fails(RENTAL, "offer", BOB, "not the owner", collection=NFT, item=1,
                price_per_second=3, max_seconds=100)
    offer = chain.ok(RENTAL, "offer", ALICE, collection=NFT, item=1, price_per_second=3,
                     max_seconds=100)
    chain.fails(RENTAL, "rent", BOB, "bad duration", offer_id=offer, seconds=101)
    alice_before, bob_before = world.balance(ALICE), world.balance(BOB)
    expires = chain.ok(RENTAL, "rent", BOB, offer_id=offer, seconds=60)
    assert expires == chain.time + 60
    assert world.balance(ALICE) == alice_before + 180
    assert world.balance(BOB) == bob_before - 180
    assert chain.view(NFT, "user_of", token=1) == BOB
    assert chain.view(NFT, "owner_of", token=1) == ALICE
    chain.fails(RENTAL, "rent", CAROL, "token is rented", offer_id=offer, seconds=10)
    chain.advance(seconds=60)
    assert chain.view(NFT, "user_of", token=1) == b""
    chain.ok(RENTAL, "rent", CAROL, offer_id=offer, seconds=10)
    assert chain.view(NFT, "user_of", token=1) == CAROL
    chain.ok(NFT, "transfer", ALICE, to=BOB, token=1)  # a transfer clears the user
    assert chain.view(NFT, "user_of", token=1) == b""
    chain.fails(RENTAL, "rent", CAROL, "offer is stale", offer_id=offer, seconds=10)
    chain.fails(RENTAL, "withdraw_offer", BOB, "only the offerer", offer_id=offer)
    chain.ok(RENTAL, "withdraw_offer", ALICE, offer_id=offer)
    chain.fails(RENTAL, "rent", CAROL, "offer closed", offer_id=offer, seconds=10)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([BOB, CAROL]), st.integers(min_value=0, max_value=30),
                          st.integers(min_value=0, max_value=40)), max_size=12))
def test_rentals_never_overlap_and_each_costs_price_times_seconds(steps: list) -> None:
    world = rental_world()
    chain = world.chain
    offer = chain.ok(RENTAL, "offer", ALICE, collection=NFT, item=1, price_per_second=2,
                     max_seconds=30)
    periods: list[tuple[int, int]] = []
    earned = 0
    for renter, seconds, wait in steps:
        result = chain.call(RENTAL, "rent", renter, offer_id=offer, seconds=seconds)
        if result.ok:
            periods.append((chain.time, result.value))
            earned += 2 * seconds
            assert chain.view(NFT, "user_of", token=1) == renter
        chain.advance(seconds=wait)
    for (start, end), (next_start, _) in zip(periods, periods[1:]):
        assert end <= next_start
    rents = chain.events_named("Rented", RENTAL)
    assert sum(event["cost"] for event in rents) == earned


def test_provenance_anchors_once_with_issuer_and_block_time() -> None:
    chain = Chain()
    chain.deploy("provenance", PROVENANCE, ADMIN)
    cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    chain.fails(PROVENANCE, "anchor", ALICE, "only an issuer", content_hash=cid)
    chain.fails(PROVENANCE, "add_issuer", ALICE, "only the admin", issuer=ALICE)
    chain.ok(PROVENANCE, "add_issuer", ADMIN, issuer=ALICE)
    chain.ok(PROVENANCE, "anchor", ALICE, content_hash=cid, note="artwork #1")
    assert chain.view(PROVENANCE, "lookup", content_hash=cid) == [ALICE, chain.height,
                                                                  chain.time, "artwork #1"]
    chain.advance(seconds=30)
    chain.fails(PROVENANCE, "anchor", ADMIN, "already anchored", content_hash=cid)
    chain.fails(PROVENANCE, "anchor", ADMIN, "bad hash", content_hash=b"")
    chain.fails(PROVENANCE, "anchor", ADMIN, "bad hash", content_hash=b"x" * 129)
    digest = bytes(range(32))
    assert chain.view(PROVENANCE, "is_anchored", content_hash=digest) is False
    chain.ok(PROVENANCE, "anchor", ADMIN, content_hash=digest)
    assert chain.view(PROVENANCE, "lookup", content_hash=digest)[:3] == [ADMIN, chain.height,
                                                                         chain.time]
    assert chain.view(PROVENANCE, "anchored_count") == 2
    chain.ok(PROVENANCE, "remove_issuer", ADMIN, issuer=ALICE)
    chain.fails(PROVENANCE, "anchor", ALICE, "only an issuer", content_hash=b"new")
    assert [event["issuer"] for event in chain.events_named("Anchored")] == [ALICE, ADMIN]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([ALICE, BOB]), st.binary(min_size=1, max_size=4)),
                max_size=20))
def test_each_hash_is_anchored_exactly_once_by_its_first_anchorer(steps: list) -> None:
    chain = Chain()
    chain.deploy("provenance", PROVENANCE, ADMIN, open_anchoring=True)
    first: dict[bytes, bytes] = {}
    for who, content in steps:
        result = chain.call(PROVENANCE, "anchor", who, content_hash=content)
        assert result.ok == (content not in first)
        first.setdefault(content, who)
        chain.advance(seconds=1)
    for content, who in first.items():
        assert chain.view(PROVENANCE, "lookup", content_hash=content)[0] == who
    assert chain.view(PROVENANCE, "anchored_count") == len(first)
