"""Bridge escrow (vm/templates/bridge.py) with committee-attested roots
(vm/templates/receipt_roots.py): lock -> mint, burn -> release, replay protection, proofs
checked against the verifier's root; both "chains" side by side in one state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.types import merkle_root
from tests.templates.chain import Chain, account
from tests.templates.funds import FUNDS, ISSUER, TOKEN, Money, money_world
from vm.templates import bridge_message_proof, bridge_message_root

ORIGIN = account("bridge-origin")
WRAPPED = account("bridge-wrapped")
ROOTS_HERE = account("roots-on-origin")  # attests the wrapped chain's roots, on the origin
ROOTS_THERE = account("roots-on-wrapped")
MEMBERS = [account(f"validator-{index}") for index in range(4)]
ALICE, BOB = account("alice"), account("bob")


def world() -> Money:
    money = money_world(ORIGIN, "bridge", [ALICE, BOB], mode="origin", local_chain="agora-a",
                        remote_chain="agora-b", verifier=ROOTS_HERE, token_address=TOKEN)
    chain = money.chain
    chain.deploy("bridge", WRAPPED, ISSUER, mode="wrapped", local_chain="agora-b",
                 remote_chain="agora-a", verifier=ROOTS_THERE)
    for address in (ROOTS_HERE, ROOTS_THERE):
        chain.deploy("receipt_roots", address, ISSUER, member_list=MEMBERS, threshold_count=3)
    chain.ok(ORIGIN, "set_peer", ISSUER, peer_address=WRAPPED)
    chain.ok(WRAPPED, "set_peer", ISSUER, peer_address=ORIGIN)
    return money


def attest(chain: Chain, roots: bytes, remote: str, height: int, root: bytes,
           voters: int = 3) -> None:
    for member in MEMBERS[:voters]:
        chain.ok(roots, "attest", member, chain=remote, height=height, root=root)


def relay(chain: Chain, source: bytes, destination: bytes, roots: bytes, remote: str,
          event: str, height: int, method: str) -> None:
    """Attests a root over every `event` message of `source` so far, and submits each."""
    sent = chain.events_named(event, source)
    messages = [data["message"] for data in sent]
    attest(chain, roots, remote, height, bridge_message_root(messages))
    for index, data in enumerate(sent):
        if not chain.view(destination, "is_consumed", nonce=data["nonce"]):
            chain.ok(destination, method, BOB, nonce=data["nonce"], recipient=data["recipient"],
                     amount=data["amount"], height=height,
                     path=bridge_message_proof(messages, index))


def test_lock_mint_burn_release_round_trip_and_replays_refused() -> None:
    money = world()
    chain = money.chain
    chain.fails(ORIGIN, "set_peer", ISSUER, "peer set", peer_address=WRAPPED)
    chain.fails(ORIGIN, "lock", ALICE, "amount must be positive", amount=0, recipient=ALICE)
    chain.fails(ORIGIN, "burn", ALICE, "wrong mode", amount=1, recipient=ALICE)
    chain.ok(ORIGIN, "lock", ALICE, amount=300, recipient=BOB)
    chain.ok(ORIGIN, "lock", ALICE, amount=200, recipient=ALICE)
    locks = chain.events_named("Locked", ORIGIN)
    messages = [data["message"] for data in locks]
    # the contract's message tree is consensus.types.merkle_root's
    assert bridge_message_root(messages) == merkle_root(messages)
    proof = bridge_message_proof(messages, 0)
    chain.fails(WRAPPED, "mint", BOB, "unknown root", nonce=1, recipient=BOB, amount=300,
                height=7, path=proof)
    attest(chain, ROOTS_THERE, "agora-a", 7, merkle_root(messages), voters=2)
    chain.fails(WRAPPED, "mint", BOB, "unknown root", nonce=1, recipient=BOB, amount=300,
                height=7, path=proof)  # two of four is not the threshold
    chain.ok(ROOTS_THERE, "attest", MEMBERS[2], chain="agora-a", height=7,
             root=merkle_root(messages))
    chain.fails(WRAPPED, "mint", BOB, "bad proof", nonce=1, recipient=BOB, amount=301,
                height=7, path=proof)
    chain.fails(WRAPPED, "mint", BOB, "bad proof", nonce=1, recipient=ALICE, amount=300,
                height=7, path=proof)
    chain.fails(ORIGIN, "release", BOB, "unknown root", nonce=1, recipient=BOB, amount=300,
                height=7, path=proof)  # no root for the other direction at all
    chain.fails(WRAPPED, "mint", BOB, "amount too large", nonce=1, recipient=BOB,
                amount=2**256, height=7, path=proof)
    chain.ok(WRAPPED, "mint", ALICE, nonce=1, recipient=BOB, amount=300, height=7, path=proof)
    chain.fails(WRAPPED, "mint", ALICE, "replayed", nonce=1, recipient=BOB, amount=300,
                height=7, path=proof)
    assert chain.view(WRAPPED, "balance_of", who=BOB) == 300
    chain.fails(WRAPPED, "burn", BOB, "insufficient units", amount=301, recipient=BOB)
    chain.ok(WRAPPED, "burn", BOB, amount=120, recipient=BOB)
    burn = chain.events_named("Burned", WRAPPED)[-1]
    # a lock message's proof, presented to the origin as if it were a burn, does not pass
    attest(chain, ROOTS_HERE, "agora-b", 2, merkle_root(messages))
    chain.fails(ORIGIN, "release", BOB, "bad proof", nonce=1, recipient=BOB, amount=300,
                height=2, path=proof)
    assert burn["nonce"] == 1
    relay(chain, WRAPPED, ORIGIN, ROOTS_HERE, "agora-b", "Burned", 3, "release")
    assert money.balance(BOB) == FUNDS + 120
    assert chain.view(ORIGIN, "locked_of") == 380 == money.balance(ORIGIN)
    assert chain.view(WRAPPED, "supply_of") == 180


def test_the_committee_votes_once_per_member_and_needs_a_majority() -> None:
    chain = Chain()
    chain.deploy_fails("receipt_roots", ROOTS_HERE, ISSUER, "bad threshold",
                       member_list=MEMBERS, threshold_count=2)
    chain.deploy("receipt_roots", ROOTS_HERE, ISSUER, member_list=MEMBERS, threshold_count=3)
    chain.fails(ROOTS_HERE, "attest", ALICE, "only a member", chain="b", height=1,
                root=b"r" * 32)
    chain.fails(ROOTS_HERE, "attest", MEMBERS[0], "bad root", chain="b", height=1, root=b"r")
    chain.ok(ROOTS_HERE, "attest", MEMBERS[0], chain="b", height=1, root=b"r" * 32)
    chain.fails(ROOTS_HERE, "attest", MEMBERS[0], "already attested", chain="b", height=1,
                root=b"s" * 32)
    chain.ok(ROOTS_HERE, "attest", MEMBERS[1], chain="b", height=1, root=b"s" * 32)
    assert chain.view(ROOTS_HERE, "conflicts_of", chain="b", height=1) == 1
    assert chain.view(ROOTS_HERE, "receipts_root", chain="b", height=1) == b""


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["lock", "burn", "relay_locks", "relay_burns"]),
                          st.sampled_from([ALICE, BOB]), st.integers(1, 500)),
                min_size=1, max_size=12))
def test_wrapped_supply_never_exceeds_the_escrow_and_tokens_are_conserved(
        steps: list) -> None:
    money = world()
    chain = money.chain
    total = money.total()
    height = 0
    for action, who, amount in steps:
        height += 1
        if action == "lock":
            chain.call(ORIGIN, "lock", who, amount=amount, recipient=who)
        elif action == "burn":
            chain.call(WRAPPED, "burn", who, amount=amount, recipient=who)
        elif action == "relay_locks" and chain.events_named("Locked", ORIGIN):
            relay(chain, ORIGIN, WRAPPED, ROOTS_THERE, "agora-a", "Locked", height, "mint")
        elif action == "relay_burns" and chain.events_named("Burned", WRAPPED):
            relay(chain, WRAPPED, ORIGIN, ROOTS_HERE, "agora-b", "Burned", height, "release")
        escrow = chain.view(ORIGIN, "locked_of")
        supply = chain.view(WRAPPED, "supply_of")
        assert escrow == money.balance(ORIGIN) and supply <= escrow
        units = sum(chain.view(WRAPPED, "balance_of", who=w) for w in (ALICE, BOB))
        assert units == supply and money.total() == total
    nonces = [data["nonce"] for data in chain.events_named("Minted", WRAPPED)]
    assert len(nonces) == len(set(nonces))
