"""Mystery box (vm/templates/mysterybox.py): three-party commit-reveal, the exact odds
mapping, forfeits for withheld reveals, each draw settled once with value conserved."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import FUNDS, TOKEN, Money, money_world
from vm.templates import box_commitment

BOX = account("mysterybox-contract")
SELLER, WITNESS, BUYER = account("seller"), account("witness"), account("buyer")
OUTCOMES = [["common", 70], ["rare", 25], ["legendary", 5]]
PRICE, BOND = 100, 400
SECRETS = {BUYER: b"b" * 16, SELLER: b"s" * 16, WITNESS: b"w" * 16}


def world() -> tuple[Money, int]:
    money = money_world(BOX, "mysterybox", [SELLER, WITNESS, BUYER], token_address=TOKEN)
    series = money.chain.ok(BOX, "create_series", SELLER, price=PRICE, bond=BOND,
                            witness=WITNESS, outcomes=OUTCOMES, commit_blocks=5,
                            reveal_blocks=5)
    return money, series


def open_draw(money: Money, series: int) -> int:
    draw = 1 + len(money.chain.events_named("Bought", BOX))
    return money.chain.ok(BOX, "buy", BUYER, series=series,
                          commitment=box_commitment(draw, BUYER, SECRETS[BUYER]))


def commit(money: Money, draw: int, who: bytes) -> None:
    money.chain.ok(BOX, "commit", who, draw=draw,
                   commitment=box_commitment(draw, who, SECRETS[who]))


def expected_outcome(draw: int) -> int:
    seed = hashlib.sha256(draw.to_bytes(8, "big") + b"".join(
        hashlib.sha256(SECRETS[who]).digest() for who in (BUYER, SELLER, WITNESS))).digest()
    r = int.from_bytes(seed, "big") % 100
    return 0 if r < 70 else 1 if r < 95 else 2


def test_series_terms_are_checked() -> None:
    money, _ = world()
    chain = money.chain
    good = {"price": 1, "bond": 0, "witness": WITNESS, "outcomes": OUTCOMES,
            "commit_blocks": 1, "reveal_blocks": 1}
    for key, value, reason in [("price", 0, "bad price"), ("witness", SELLER, "bad witness"),
                               ("outcomes", [], "bad outcomes"),
                               ("outcomes", [["x", 0]], "bad outcomes"),
                               ("commit_blocks", 0, "bad window")]:
        chain.fails(BOX, "create_series", SELLER, reason, **{**good, key: value})


def test_a_full_draw_pays_the_seller_and_returns_the_bonds() -> None:
    money, series = world()
    chain = money.chain
    chain.fails(BOX, "buy", SELLER, "parties must differ", series=series, commitment=b"x" * 32)
    chain.fails(BOX, "buy", BUYER, "bad commitment", series=series, commitment=b"x")
    draw = open_draw(money, series)
    chain.fails(BOX, "reveal", BUYER, "commitments missing", draw=draw, secret=SECRETS[BUYER])
    chain.fails(BOX, "commit", BUYER, "already committed", draw=draw, commitment=b"x" * 32)
    chain.fails(BOX, "commit", account("stranger"), "not a party", draw=draw,
                commitment=b"x" * 32)
    commit(money, draw, SELLER)
    commit(money, draw, WITNESS)
    chain.fails(BOX, "settle", BUYER, "too early", draw=draw)
    chain.fails(BOX, "reveal", BUYER, "wrong secret", draw=draw, secret=b"c" * 16)
    chain.fails(BOX, "reveal", BUYER, "bad secret", draw=draw, secret=b"c")
    for who in (WITNESS, BUYER):
        chain.ok(BOX, "reveal", who, draw=draw, secret=SECRETS[who])
    chain.fails(BOX, "reveal", BUYER, "already revealed", draw=draw, secret=SECRETS[BUYER])
    chain.ok(BOX, "reveal", SELLER, draw=draw, secret=SECRETS[SELLER])
    index, label = chain.view(BOX, "outcome_of", draw=draw)
    assert index == expected_outcome(draw) and label == OUTCOMES[index][0]
    assert money.balance(SELLER) == FUNDS + PRICE and money.balance(WITNESS) == FUNDS
    assert money.balance(BUYER) == FUNDS - PRICE and money.balance(BOX) == 0
    chain.fails(BOX, "settle", BUYER, "settled", draw=draw)


def test_a_withholding_seller_forfeits_the_bond_to_the_buyer() -> None:
    money, series = world()
    chain = money.chain
    draw = open_draw(money, series)
    commit(money, draw, SELLER)
    commit(money, draw, WITNESS)
    chain.ok(BOX, "reveal", BUYER, draw=draw, secret=SECRETS[BUYER])
    chain.ok(BOX, "reveal", WITNESS, draw=draw, secret=SECRETS[WITNESS])
    chain.advance(blocks=10)
    chain.fails(BOX, "reveal", SELLER, "reveal phase over", draw=draw,
                secret=SECRETS[SELLER])
    chain.ok(BOX, "settle", WITNESS, draw=draw)
    assert money.balance(BUYER) == FUNDS + BOND and money.balance(SELLER) == FUNDS - BOND
    assert chain.view(BOX, "outcome_of", draw=draw) == [-1, ""]


def test_a_withholding_buyer_forfeits_the_price_and_missing_commits_refund() -> None:
    money, series = world()
    chain = money.chain
    draw = open_draw(money, series)
    commit(money, draw, SELLER)
    commit(money, draw, WITNESS)
    chain.advance(blocks=10)
    chain.ok(BOX, "settle", SELLER, draw=draw)
    assert money.balance(SELLER) == FUNDS + PRICE and money.balance(BUYER) == FUNDS - PRICE
    second = open_draw(money, series)
    commit(money, second, SELLER)
    chain.advance(blocks=5)
    chain.fails(BOX, "commit", WITNESS, "commit phase over", draw=second,
                commitment=box_commitment(second, WITNESS, SECRETS[WITNESS]))
    chain.ok(BOX, "settle", BUYER, draw=second)
    assert money.balance(BUYER) == FUNDS - PRICE and money.balance(BOX) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_the_odds_are_exactly_the_weights(weights: list) -> None:
    money, _ = world()
    chain = money.chain
    outcomes = [[f"o{index}", weight] for index, weight in enumerate(weights)]
    series = chain.ok(BOX, "create_series", SELLER, price=1, bond=0, witness=WITNESS,
                      outcomes=outcomes, commit_blocks=1, reveal_blocks=1)
    total = sum(weights)
    assert chain.view(BOX, "odds_of", series=series) == [outcomes, total]
    counts = [0] * len(weights)
    for r in range(total):
        counts[chain.view(BOX, "pick", series=series, r=r)] += 1
    assert counts == weights


STEP = st.tuples(st.sampled_from(["commit", "reveal", "settle", "wait"]),
                 st.sampled_from([BUYER, SELLER, WITNESS]))


@settings(max_examples=60, deadline=None)
@given(st.lists(STEP, max_size=14))
def test_each_draw_settles_once_and_pays_out_exactly_its_stakes(steps: list) -> None:
    money, series = world()
    chain = money.chain
    total = money.total()
    draw = open_draw(money, series)
    for action, who in steps:
        if action == "commit":
            chain.call(BOX, "commit", who, draw=draw,
                       commitment=box_commitment(draw, who, SECRETS[who]))
        elif action == "reveal":
            chain.call(BOX, "reveal", who, draw=draw, secret=SECRETS[who])
        elif action == "settle":
            chain.call(BOX, "settle", who, draw=draw)
        else:
            chain.advance(blocks=3)
        entry = chain.view(BOX, "draw_of", draw=draw)
        held = 0 if entry["status"] == 2 else sum(entry["stakes"])
        assert money.balance(BOX) == held and money.total() == total
    settled = chain.events_named("Settled", BOX)
    assert len(settled) <= 1
    drawn = chain.events_named("Drawn", BOX)
    if drawn:
        assert drawn[0]["outcome"] == expected_outcome(draw)
        assert settled and settled[0]["how"] == "drawn"
