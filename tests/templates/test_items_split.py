"""Game items (vm/templates/items.py) and revenue split (vm/templates/split.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account

ADMIN = account("admin")
ALICE = account("alice")
BOB = account("bob")
CAROL = account("carol")
GAME = account("game-b")
ITEMS = account("items-contract")
TOKEN = account("token-contract")
SPLIT = account("split-contract")
RIGHTS = account("rights-holder")
ISSUER = account("issuer")
CHANNEL = account("channel")
PEOPLE = [ALICE, BOB, CAROL]
KINDS = [1, 2, 3]


def items_chain() -> Chain:
    chain = Chain()
    chain.deploy("items", ITEMS, ADMIN)
    chain.ok(ITEMS, "add_game", ADMIN, game=GAME)
    for who in PEOPLE:
        for kind in KINDS:
            chain.ok(ITEMS, "mint", ADMIN, to=who, kind=kind, amount=10)
    return chain


def test_batch_lengths_and_sizes_are_checked() -> None:
    chain = items_chain()
    chain.fails(ITEMS, "batch_transfer_from", ALICE, "batch lengths differ", source=ALICE,
                to=BOB, kinds=[1, 2], amounts=[1])
    chain.fails(ITEMS, "batch_transfer_from", ALICE, "batch size out of range", source=ALICE,
                to=BOB, kinds=[], amounts=[])
    chain.fails(ITEMS, "batch_transfer_from", ALICE, "batch size out of range", source=ALICE,
                to=BOB, kinds=[1] * 65, amounts=[1] * 65)
    # the second entry overdraws: nothing of the batch moves
    chain.fails(ITEMS, "batch_transfer_from", ALICE, "insufficient unlocked balance",
                source=ALICE, to=BOB, kinds=[1, 1], amounts=[6, 5])
    chain.ok(ITEMS, "batch_transfer_from", ALICE, source=ALICE, to=BOB, kinds=[1, 2],
             amounts=[4, 10])
    assert chain.view(ITEMS, "balance_of_batch", whos=[ALICE, ALICE, BOB, BOB],
                      kinds=[1, 2, 1, 2]) == [6, 0, 14, 20]
    assert chain.events_named("TransferBatch", ITEMS)[-1]["amounts"] == [4, 10]


def test_operators_and_authorisation() -> None:
    chain = items_chain()
    chain.fails(ITEMS, "transfer_from", BOB, "not allowed", source=ALICE, to=BOB, kind=1,
                amount=1)
    chain.fails(ITEMS, "mint", ALICE, "only the admin", to=ALICE, kind=1, amount=1)
    chain.ok(ITEMS, "set_approval_for_all", ALICE, operator=BOB, approved=True)
    chain.ok(ITEMS, "transfer_from", BOB, source=ALICE, to=CAROL, kind=1, amount=3)
    chain.ok(ITEMS, "set_approval_for_all", ALICE, operator=BOB, approved=False)
    chain.fails(ITEMS, "transfer_from", BOB, "not allowed", source=ALICE, to=BOB, kind=1,
                amount=1)
    chain.ok(ITEMS, "set_uri", ADMIN, kind=1, uri="ipfs://sword")
    assert chain.view(ITEMS, "uri_of", kind=1) == "ipfs://sword"


def test_locked_items_cannot_move_until_the_game_unlocks_them_once() -> None:
    chain = items_chain()
    chain.fails(ITEMS, "lock", ALICE, "unknown game", source=ALICE, kind=1, amount=4,
                game=BOB)
    move = chain.ok(ITEMS, "lock", ALICE, source=ALICE, kind=1, amount=8, game=GAME)
    assert chain.view(ITEMS, "available_of", who=ALICE, kind=1) == 2
    chain.fails(ITEMS, "transfer_from", ALICE, "insufficient unlocked balance", source=ALICE,
                to=BOB, kind=1, amount=3)
    chain.ok(ITEMS, "transfer_from", ALICE, source=ALICE, to=BOB, kind=1, amount=2)
    chain.fails(ITEMS, "unlock", ALICE, "not the move's game", move=move)
    chain.ok(ITEMS, "unlock", GAME, move=move)
    chain.fails(ITEMS, "unlock", GAME, "move already unlocked", move=move)
    chain.fails(ITEMS, "unlock", GAME, "no such move", move=move + 1)
    assert chain.view(ITEMS, "locked_of", who=ALICE, kind=1) == 0
    chain.ok(ITEMS, "transfer_from", ALICE, source=ALICE, to=BOB, kind=1, amount=8)


item_steps = st.lists(
    st.tuples(
        st.sampled_from(["transfer", "batch", "lock", "unlock"]),
        st.sampled_from(PEOPLE), st.sampled_from(PEOPLE),
        st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
        st.lists(st.integers(min_value=-1, max_value=12), min_size=1, max_size=3),
    ),
    max_size=20,
)


@settings(max_examples=30, deadline=None)
@given(item_steps)
def test_supply_is_conserved_and_no_balance_drops_below_its_lock(steps: list) -> None:
    chain = items_chain()
    moves: list[int] = []
    for method, sender, other, kinds, amounts in steps:
        if method == "transfer":
            chain.call(ITEMS, "transfer_from", sender, source=sender, to=other, kind=kinds[0],
                       amount=amounts[0])
        elif method == "batch":
            chain.call(ITEMS, "batch_transfer_from", sender, source=sender, to=other,
                       kinds=kinds, amounts=amounts)
        elif method == "lock":
            result = chain.call(ITEMS, "lock", sender, source=sender, kind=kinds[0],
                                amount=amounts[0], game=GAME)
            if result.ok:
                moves.append(result.value)
        elif moves:
            chain.call(ITEMS, "unlock", GAME, move=moves[amounts[0] % len(moves)])
    for kind in KINDS:
        held = [chain.view(ITEMS, "balance_of", who=who, kind=kind) for who in PEOPLE]
        locked = [chain.view(ITEMS, "locked_of", who=who, kind=kind) for who in PEOPLE]
        assert sum(held) == chain.view(ITEMS, "supply_of", kind=kind) == 30
        assert all(0 <= lock <= have for lock, have in zip(locked, held))


# --- revenue split -----------------------------------------------------------------------


def split_chain(shares: tuple = ()) -> Chain:
    chain = Chain()
    chain.deploy("token", TOKEN, ISSUER, token_name="Gold", amount=10**9)
    chain.deploy("split", SPLIT, ISSUER, token_address=TOKEN,
                 payee_list=[RIGHTS, ISSUER, CHANNEL], shares_bp=list(shares))
    return chain


def test_split_rejects_bad_configurations() -> None:
    chain = split_chain()
    for payees, shares, reason in [
        ([ALICE, BOB], [5000], "differ in length"),
        ([ALICE, ALICE], [5000, 5000], "duplicate payee"),
        ([ALICE, BOB], [0, 10000], "positive"),
        ([ALICE, BOB], [5000, 4999], "sum to 10000"),
        ([], [], "1 to 16 payees"),
    ]:
        chain.deploy_fails("split", account("other-split"), ALICE, reason,
                           token_address=TOKEN, payee_list=payees, shares_bp=shares)


def test_default_tiers_are_30_40_30_and_the_remainder_goes_to_the_rights_holder() -> None:
    chain = split_chain()
    assert chain.view(SPLIT, "shares_of") == [3000, 4000, 3000]
    chain.ok(TOKEN, "transfer", ISSUER, to=SPLIT, amount=1001)
    assert chain.ok(SPLIT, "distribute", ALICE) == 1001
    assert chain.ok(SPLIT, "distribute", ALICE) == 0
    assert [chain.view(SPLIT, "owed", who=who) for who in (RIGHTS, ISSUER, CHANNEL)] == [
        301, 400, 300]
    chain.fails(SPLIT, "claim", ALICE, "not a payee")
    assert chain.ok(SPLIT, "claim", RIGHTS) == 301
    chain.fails(SPLIT, "claim", RIGHTS, "nothing to claim")
    assert chain.view(TOKEN, "balance_of", who=RIGHTS) == 301
    assert chain.events_named("Claimed", SPLIT) == [{"payee": RIGHTS, "amount": 301}]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5),
    st.lists(
        st.tuples(st.sampled_from(["pay", "claim"]), st.integers(min_value=0, max_value=5),
                  st.integers(min_value=1, max_value=10**6)),
        max_size=20,
    ),
)
def test_payouts_sum_to_the_gross_and_each_unit_is_claimed_once(weights: list,
                                                               steps: list) -> None:
    payees = [account(f"payee{index}") for index in range(len(weights))]
    total = sum(weights)
    shares = [weight * 10_000 // total for weight in weights]
    shares[0] += 10_000 - sum(shares)
    chain = Chain()
    chain.deploy("token", TOKEN, ISSUER, token_name="Gold", amount=10**9)
    chain.deploy("split", SPLIT, ISSUER, token_address=TOKEN, payee_list=payees,
                 shares_bp=shares)
    gross = 0
    for method, index, amount in steps:
        if method == "pay":
            chain.ok(TOKEN, "transfer", ISSUER, to=SPLIT, amount=amount)
            gross += amount
        else:
            chain.call(SPLIT, "claim", payees[index % len(payees)])
    chain.ok(SPLIT, "distribute", ALICE)
    assert chain.view(SPLIT, "gross_received") == gross
    credited = [chain.view(SPLIT, "owed", who=who) + chain.view(SPLIT, "claimed_of", who=who)
                for who in payees]
    assert sum(credited) == gross
    for who in payees:
        before = chain.view(TOKEN, "balance_of", who=who)
        chain.call(SPLIT, "claim", who)
        assert chain.view(TOKEN, "balance_of", who=who) == chain.view(SPLIT, "claimed_of",
                                                                       who=who)
        assert chain.view(TOKEN, "balance_of", who=who) >= before
    assert sum(chain.view(TOKEN, "balance_of", who=who) for who in payees) == gross
    assert chain.view(TOKEN, "balance_of", who=SPLIT) == 0
    # the rights holder's extra is the remainder rule, bounded by the number of payees
    for (share, got) in zip(shares[1:], credited[1:]):
        assert got <= gross * share // 10_000
