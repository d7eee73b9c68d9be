"""Fractional ownership (vm/templates/fractional.py): vault, fractions, buyout paying
holders pro rata with no dust, redemption with every fraction (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, ISSUER, TOKEN, Money, money_world

VAULTS = account("fractional-contract")
NFT = account("nft-contract")
CURATOR, ALICE, BOB, BUYER = account("curator"), account("alice"), account("bob"), \
    account("buyer")


def world(item: int = 1) -> Money:
    money = money_world(VAULTS, "fractional", [CURATOR, ALICE, BOB, BUYER],
                        token_address=TOKEN)
    chain = money.chain
    chain.deploy("nft", NFT, ISSUER)
    chain.ok(NFT, "mint", ISSUER, to=CURATOR, token=item, royalty_bp=0)
    chain.ok(NFT, "set_approval_for_all", CURATOR, operator=VAULTS, approved=True)
    return money


def test_buyout_pays_every_holder_pro_rata_and_the_sum_is_the_price() -> None:
    money = world()
    chain = money.chain
    chain.fails(VAULTS, "lock", CURATOR, "bad fractions", collection=NFT, item=1, fractions=0,
                reserve_price=10)
    chain.fails(VAULTS, "lock", CURATOR, "price must be positive", collection=NFT, item=1,
                fractions=3, reserve_price=0)
    vault = chain.ok(VAULTS, "lock", CURATOR, collection=NFT, item=1, fractions=3,
                     reserve_price=1000)
    assert chain.view(NFT, "owner_of", token=1) == VAULTS
    chain.fails(VAULTS, "transfer_fractions", ALICE, "insufficient fractions", vault=vault,
                to=BOB, amount=1)
    chain.ok(VAULTS, "transfer_fractions", CURATOR, vault=vault, to=ALICE, amount=1)
    chain.ok(VAULTS, "transfer_fractions", CURATOR, vault=vault, to=BOB, amount=1)
    chain.fails(VAULTS, "claim", ALICE, "not bought out", vault=vault)
    chain.fails(VAULTS, "redeem", CURATOR, "needs every fraction", vault=vault)
    chain.ok(VAULTS, "buyout", BUYER, vault=vault)
    chain.fails(VAULTS, "buyout", ALICE, "vault closed", vault=vault)
    assert chain.view(NFT, "owner_of", token=1) == BUYER
    paid = [chain.ok(VAULTS, "claim", who, vault=vault) for who in (BOB, ALICE, CURATOR)]
    assert paid == [333, 333, 334] and sum(paid) == 1000
    chain.fails(VAULTS, "claim", ALICE, "nothing to claim", vault=vault)
    assert money.balance(VAULTS) == 0 and money.balance(BUYER) == FUNDS - 1000


def test_the_holder_of_every_fraction_redeems_the_item() -> None:
    money = world()
    chain = money.chain
    vault = chain.ok(VAULTS, "lock", CURATOR, collection=NFT, item=1, fractions=10,
                     reserve_price=50)
    chain.ok(VAULTS, "transfer_fractions", CURATOR, vault=vault, to=ALICE, amount=10)
    chain.ok(VAULTS, "redeem", ALICE, vault=vault)
    assert chain.view(NFT, "owner_of", token=1) == ALICE
    chain.fails(VAULTS, "buyout", BUYER, "vault closed", vault=vault)
    chain.fails(VAULTS, "claim", ALICE, "not bought out", vault=vault)
    chain.fails(VAULTS, "vault_of", ALICE, "no such vault", vault=5)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, FUNDS),
       st.lists(st.tuples(st.sampled_from([ALICE, BOB]), st.integers(0, 10**6)), max_size=6),
       st.permutations([CURATOR, ALICE, BOB]))
def test_payouts_sum_to_the_price_and_each_is_within_one_of_pro_rata(
        total: int, price: int, moves: list, order: list) -> None:
    money = world()
    chain = money.chain
    vault = chain.ok(VAULTS, "lock", CURATOR, collection=NFT, item=1, fractions=total,
                     reserve_price=price)
    for who, amount in moves:
        chain.call(VAULTS, "transfer_fractions", CURATOR, vault=vault, to=who, amount=amount)
    shares = {who: chain.view(VAULTS, "fractions_of", vault=vault, who=who)
              for who in (CURATOR, ALICE, BOB)}
    assert sum(shares.values()) == total
    everyone = money.total()
    chain.ok(VAULTS, "buyout", BUYER, vault=vault)
    paid = 0
    for who in order:
        if shares[who]:
            amount = chain.ok(VAULTS, "claim", who, vault=vault)
            assert abs(amount * total - price * shares[who]) < total
            paid += amount
    assert paid == price and money.balance(VAULTS) == 0 and money.total() == everyone
