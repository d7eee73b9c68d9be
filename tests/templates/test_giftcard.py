"""Gift cards (vm/templates/giftcard.py): partial redemption, expiry returns the rest to
the issuer once, transferability, conservation (same shard)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, ISSUER, TOKEN, Money, money_world

CARDS = account("giftcard-contract")
SHOP, CAFE = account("shop"), account("cafe")
ALICE, BOB = account("alice"), account("bob")


def world() -> Money:
    money = money_world(CARDS, "giftcard", [SHOP, CAFE, ALICE, BOB], token_address=TOKEN)
    money.chain.ok(CARDS, "accept_merchant", ISSUER, merchant=SHOP, accepted=True)
    return money


def test_partial_redemption_transfer_and_expiry() -> None:
    money = world()
    chain = money.chain
    chain.fails(CARDS, "accept_merchant", ALICE, "only the admin", merchant=CAFE, accepted=True)
    chain.fails(CARDS, "issue", ISSUER, "amount must be positive", holder=ALICE, amount=0,
                expires_at=chain.time + 9, transferable=True)
    chain.fails(CARDS, "issue", ISSUER, "expiry in the past", holder=ALICE, amount=5,
                expires_at=chain.time, transferable=True)
    card = chain.ok(CARDS, "issue", ISSUER, holder=ALICE, amount=100,
                    expires_at=chain.time + 60, transferable=True, note="birthday")
    chain.fails(CARDS, "redeem", BOB, "not the holder", card=card, amount=10, merchant=SHOP)
    chain.fails(CARDS, "redeem", ALICE, "merchant not accepted", card=card, amount=10,
                merchant=CAFE)
    chain.fails(CARDS, "redeem", ALICE, "insufficient value", card=card, amount=101,
                merchant=SHOP)
    chain.ok(CARDS, "redeem", ALICE, card=card, amount=30, merchant=SHOP)
    chain.ok(CARDS, "transfer", ALICE, card=card, to=BOB)
    chain.fails(CARDS, "redeem", ALICE, "not the holder", card=card, amount=1, merchant=SHOP)
    chain.ok(CARDS, "redeem", BOB, card=card, amount=25, merchant=SHOP)
    assert chain.view(CARDS, "balance_of", card=card) == 45
    chain.fails(CARDS, "expire", ALICE, "not expired", card=card)
    chain.advance(seconds=60)
    chain.fails(CARDS, "redeem", BOB, "card expired", card=card, amount=1, merchant=SHOP)
    issuer_before = money.balance(ISSUER)
    assert chain.ok(CARDS, "expire", ALICE, card=card) == 45
    chain.fails(CARDS, "expire", ALICE, "already closed", card=card)
    assert money.balance(ISSUER) == issuer_before + 45
    assert money.balance(SHOP) == FUNDS + 55
    fixed = chain.ok(CARDS, "issue", ISSUER, holder=ALICE, amount=5,
                     expires_at=chain.time + 60, transferable=False)
    chain.fails(CARDS, "transfer", ALICE, "not transferable", card=fixed, to=BOB)
    chain.fails(CARDS, "card_of", ALICE, "no such card", card=99)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["redeem", "transfer", "expire", "wait"]),
                          st.sampled_from([ALICE, BOB]), st.integers(1, 80)),
                min_size=2, max_size=20))
def test_amount_equals_redeemed_plus_returned_plus_balance(steps: list) -> None:
    money = world()
    chain = money.chain
    card = chain.ok(CARDS, "issue", ISSUER, holder=ALICE, amount=150,
                    expires_at=chain.time + 50, transferable=True)
    total = money.total()
    for action, who, amount in steps:
        if action == "redeem":
            chain.call(CARDS, "redeem", who, card=card, amount=amount, merchant=SHOP)
        elif action == "transfer":
            chain.call(CARDS, "transfer", who, card=card, to=[ALICE, BOB][amount % 2])
        elif action == "expire":
            chain.call(CARDS, "expire", who, card=card)
        else:
            chain.advance(seconds=amount)
        entry = chain.view(CARDS, "card_of", card=card)
        redeemed = sum(e["amount"] for e in chain.events_named("Redeemed", CARDS))
        returned = sum(e["returned"] for e in chain.events_named("Expired", CARDS))
        assert redeemed + returned + entry["balance"] == 150
        assert money.balance(CARDS) == entry["balance"] and money.total() == total
    assert len(chain.events_named("Expired", CARDS)) <= 1
