"""Allow-list drop (vm/templates/drop.py): Merkle proofs checked in the contract,
per-address caps, allow-list then public phase, supply cap, payment to the treasury."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, ISSUER, TOKEN, Money, money_world
from vm.templates import allowlist_proof, allowlist_root

DROP = account("drop-contract")
NFT = account("nft-contract")
TREASURY = account("treasury")
ALICE, BOB, CAROL, DAVE = (account(name) for name in ("alice", "bob", "carol", "dave"))
LIST = [(ALICE, 2), (BOB, 1), (CAROL, 3)]
PRICE = 50


def world(entries: list = LIST, supply: int = 10) -> Money:
    money = money_world(DROP, "drop", [TREASURY, ALICE, BOB, CAROL, DAVE],
                        token_address=TOKEN, collection=NFT, treasury=TREASURY, price=PRICE,
                        supply_max=supply, allowlist_root=allowlist_root(entries),
                        allowlist_start=1_700_000_010, public_start=1_700_000_100,
                        end_time=1_700_000_200, public_cap=2, royalty_bp=500)
    money.chain.deploy("nft", NFT, ISSUER)
    money.chain.ok(NFT, "set_minter", ISSUER, new_minter=DROP)
    return money


def test_allowlist_phase_then_public_phase_with_caps() -> None:
    money = world()
    chain = money.chain
    proof = allowlist_proof(LIST, 0)
    chain.fails(DROP, "mint", ALICE, "not started", quantity=1, proof=proof, allowance=2)
    chain.ok(DROP, "set_root", ISSUER, allowlist_root=allowlist_root(LIST))
    chain.advance(seconds=10)
    chain.fails(DROP, "set_root", ISSUER, "drop started", allowlist_root=b"\0" * 32)
    chain.fails(DROP, "mint", ALICE, "not on the allow-list", quantity=1, proof=proof,
                allowance=3)  # a bigger allowance than the leaf commits to
    chain.fails(DROP, "mint", DAVE, "not on the allow-list", quantity=1, proof=proof,
                allowance=2)  # someone else's proof
    chain.fails(DROP, "mint", ALICE, "allowance exceeded", quantity=3, proof=proof, allowance=2)
    chain.fails(DROP, "mint", ALICE, "bad quantity", quantity=0, proof=proof, allowance=2)
    assert chain.ok(DROP, "mint", ALICE, quantity=2, proof=proof, allowance=2) == 1
    chain.fails(DROP, "mint", ALICE, "allowance exceeded", quantity=1, proof=proof, allowance=2)
    assert chain.view(NFT, "owner_of", token=2) == ALICE
    assert chain.view(NFT, "royalty_info", token=2, price=1000) == [TREASURY, 50]
    assert chain.ok(DROP, "mint", CAROL, quantity=3, proof=allowlist_proof(LIST, 2),
                    allowance=3) == 3
    chain.advance(seconds=90)
    assert chain.view(DROP, "phase_of") == "public"
    chain.ok(DROP, "mint", DAVE, quantity=2)
    chain.fails(DROP, "mint", DAVE, "public cap exceeded", quantity=1)
    chain.ok(DROP, "mint", ALICE, quantity=2)  # the public cap is separate
    chain.fails(DROP, "mint", BOB, "sold out", quantity=2)
    chain.ok(DROP, "mint", BOB, quantity=1)
    assert chain.view(DROP, "minted_total") == 10
    assert money.balance(TREASURY) == FUNDS + 10 * PRICE
    chain.advance(seconds=100)
    chain.fails(DROP, "mint", BOB, "drop ended", quantity=1)
    assert chain.view(DROP, "phase_of") == "ended"


def test_an_overlong_proof_is_refused() -> None:
    money = world()
    chain = money.chain
    chain.advance(seconds=10)
    chain.fails(DROP, "mint", ALICE, "proof too long", quantity=1, proof=[b"\0" * 32] * 33,
                allowance=2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=9), st.data())
def test_every_listed_account_and_no_one_else_passes_the_proof(caps: list,
                                                               data: st.DataObject) -> None:
    people = [account(f"person-{index}") for index in range(len(caps))]
    entries = list(zip(people, caps))
    money = world(entries)
    chain = money.chain
    for index, (who, cap) in enumerate(entries):
        proof = allowlist_proof(entries, index)
        assert chain.view(DROP, "verify", who=who, allowance=cap, proof=proof)
        assert not chain.view(DROP, "verify", who=who, allowance=cap + 1, proof=proof)
        assert not chain.view(DROP, "verify", who=DAVE, allowance=cap, proof=proof)
    if len(entries) > 2:  # with two leaves both proofs are the other leaf: they coincide
        index = data.draw(st.integers(0, len(entries) - 1))
        other = data.draw(st.integers(0, len(entries) - 1).filter(lambda i: i != index))
        wrong = allowlist_proof(entries, other)
        if wrong != allowlist_proof(entries, index):
            assert not chain.view(DROP, "verify", who=entries[index][0],
                                  allowance=entries[index][1], proof=wrong)
