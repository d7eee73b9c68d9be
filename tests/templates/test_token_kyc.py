"""Fungible token (vm/templates/token.py) and KYC registry (vm/templates/kyc.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account

ISSUER = account("issuer")
ALICE = account("alice")
BOB = account("bob")
CAROL = account("carol")
VERIFIER = account("verifier")
TOKEN = account("token-contract")
KYC = account("kyc-contract")
PEOPLE = [ISSUER, ALICE, BOB, CAROL]


def token_chain(supply: int = 1000, with_registry: bool = False) -> Chain:
    chain = Chain()
    registry = b""
    if with_registry:
        chain.deploy("kyc", KYC, ISSUER)
        chain.ok(KYC, "add_verifier", ISSUER, verifier=VERIFIER)
        registry = KYC
    chain.deploy("token", TOKEN, ISSUER, token_name="Gold", amount=supply,
                 kyc_registry=registry)
    return chain


def balances(chain: Chain) -> list[int]:
    return [chain.view(TOKEN, "balance_of", who=who) for who in PEOPLE]


def test_existing_signatures_still_work() -> None:
    chain = token_chain()
    assert chain.ok(TOKEN, "transfer", ISSUER, to=BOB, amount=300) is True
    assert chain.ok(TOKEN, "approve", ISSUER, spender=CAROL, amount=50) is True
    assert chain.ok(TOKEN, "transfer_from", CAROL, source=ISSUER, to=CAROL, amount=40) is True
    assert balances(chain) == [660, 0, 300, 40]
    assert chain.view(TOKEN, "allowance", owner=ISSUER, spender=CAROL) == 10
    assert chain.view(TOKEN, "total_supply") == 1000
    assert chain.view(TOKEN, "name_of") == "Gold"


def test_failures_change_nothing_and_name_their_reason() -> None:
    chain = token_chain()
    chain.fails(TOKEN, "transfer", ALICE, "insufficient balance", to=BOB, amount=1)
    chain.fails(TOKEN, "transfer", ISSUER, "amount must be positive", to=BOB, amount=0)
    chain.fails(TOKEN, "transfer_from", BOB, "allowance exceeded", source=ISSUER, to=BOB,
                amount=1)
    chain.fails(TOKEN, "approve", ISSUER, "negative allowance", spender=BOB, amount=-1)
    chain.fails(TOKEN, "mint", ALICE, "only the issuer", to=ALICE, amount=5)
    chain.fails(TOKEN, "set_registry", ALICE, "only the issuer", kyc_registry=KYC)


def test_only_the_issuer_mints_and_minting_raises_the_supply() -> None:
    chain = token_chain()
    chain.ok(TOKEN, "mint", ISSUER, to=ALICE, amount=25)
    assert chain.view(TOKEN, "total_supply") == 1025
    assert chain.view(TOKEN, "balance_of", who=ALICE) == 25
    assert chain.events_named("Transfer", TOKEN)[-1] == {"sender": b"", "to": ALICE,
                                                          "amount": 25}
    chain.ok(TOKEN, "set_issuer", ISSUER, new_issuer=BOB)
    chain.fails(TOKEN, "mint", ISSUER, "only the issuer", to=ALICE, amount=5)
    chain.ok(TOKEN, "mint", BOB, to=BOB, amount=5)


operations = st.lists(
    st.tuples(
        st.sampled_from(["transfer", "approve", "transfer_from", "mint"]),
        st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE),
        st.integers(min_value=-5, max_value=1200),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(operations)
def test_total_supply_equals_the_sum_of_balances(steps: list) -> None:
    chain = token_chain()
    minted = 0
    for method, sender, other, third, amount in steps:
        if method == "transfer":
            chain.call(TOKEN, "transfer", sender, to=other, amount=amount)
        elif method == "approve":
            chain.call(TOKEN, "approve", sender, spender=other, amount=amount)
        elif method == "transfer_from":
            chain.call(TOKEN, "transfer_from", sender, source=other, to=third, amount=amount)
        elif chain.call(TOKEN, "mint", sender, to=other, amount=amount).ok:
            minted += amount
        assert min(balances(chain)) >= 0
        assert sum(balances(chain)) == chain.view(TOKEN, "total_supply") == 1000 + minted


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=100))
def test_transfer_from_never_spends_more_than_the_allowance(allowed: int, spend: int) -> None:
    chain = token_chain()
    chain.ok(TOKEN, "approve", ISSUER, spender=BOB, amount=allowed)
    result = chain.call(TOKEN, "transfer_from", BOB, source=ISSUER, to=CAROL, amount=spend)
    assert result.ok == (0 < spend <= allowed)
    expected_left = allowed - spend if result.ok else allowed
    assert chain.view(TOKEN, "allowance", owner=ISSUER, spender=BOB) == expected_left
    assert chain.view(TOKEN, "balance_of", who=CAROL) == (spend if result.ok else 0)


# --- KYC registry --------------------------------------------------------------------------


def test_registry_lifecycle_and_authorisation() -> None:
    chain = token_chain(with_registry=True)
    chain.fails(KYC, "register", ALICE, "only a verifier", who=ALICE, level=1)
    chain.fails(KYC, "add_verifier", ALICE, "only the admin", verifier=ALICE)
    chain.ok(KYC, "register", VERIFIER, who=ALICE, level=2)
    chain.fails(KYC, "register", VERIFIER, "already registered", who=ALICE, level=2)
    assert chain.view(KYC, "is_verified", who=ALICE) is True
    chain.ok(KYC, "freeze", VERIFIER, who=ALICE)
    assert chain.view(KYC, "is_verified", who=ALICE) is False
    assert chain.view(KYC, "is_blocked", who=ALICE) is True
    chain.fails(KYC, "freeze", VERIFIER, "not active", who=ALICE)
    chain.ok(KYC, "unfreeze", VERIFIER, who=ALICE)
    assert chain.view(KYC, "is_verified", who=ALICE) is True
    chain.ok(KYC, "revoke", VERIFIER, who=ALICE)
    chain.fails(KYC, "unfreeze", VERIFIER, "not frozen", who=ALICE)
    chain.fails(KYC, "revoke", VERIFIER, "already revoked", who=ALICE)
    chain.fails(KYC, "register", VERIFIER, "already registered", who=ALICE, level=1)
    assert chain.view(KYC, "status_of", who=ALICE) == 3
    chain.ok(KYC, "remove_verifier", ISSUER, verifier=VERIFIER)
    chain.fails(KYC, "register", VERIFIER, "only a verifier", who=BOB, level=1)
    names = [name for _, name, _ in chain.events]
    for name in ("VerifierAdded", "Registered", "Frozen", "Unfrozen", "Revoked",
                 "VerifierRemoved"):
        assert name in names


def test_identities_expire_at_block_time() -> None:
    chain = token_chain(with_registry=True)
    chain.fails(KYC, "register", VERIFIER, "expiry in the past", who=BOB, level=1,
                expires_time=chain.time)
    chain.ok(KYC, "register", VERIFIER, who=BOB, level=1, expires_time=chain.time + 100)
    assert chain.view(KYC, "is_verified", who=BOB) is True
    chain.advance(seconds=100)
    assert chain.view(KYC, "is_verified", who=BOB) is False
    chain.fails(KYC, "renew", BOB, "only a verifier", who=BOB, expires_time=0)
    chain.ok(KYC, "renew", VERIFIER, who=BOB, expires_time=chain.time + 10)
    assert chain.view(KYC, "is_verified", who=BOB) is True
    chain.fails(KYC, "renew", VERIFIER, "not registered", who=CAROL, expires_time=0)


def test_frozen_and_revoked_accounts_cannot_send_through_the_token() -> None:
    chain = token_chain(with_registry=True)
    chain.ok(TOKEN, "transfer", ISSUER, to=ALICE, amount=100)
    chain.ok(KYC, "register", VERIFIER, who=ALICE, level=1)
    chain.ok(TOKEN, "approve", ALICE, spender=BOB, amount=50)
    chain.ok(KYC, "freeze", VERIFIER, who=ALICE)
    chain.fails(TOKEN, "transfer", ALICE, "frozen or revoked", to=BOB, amount=1)
    chain.fails(TOKEN, "transfer_from", BOB, "frozen or revoked", source=ALICE, to=BOB,
                amount=1)
    chain.ok(TOKEN, "transfer", ISSUER, to=ALICE, amount=1)  # receiving is still allowed
    chain.ok(KYC, "unfreeze", VERIFIER, who=ALICE)
    chain.ok(TOKEN, "transfer", ALICE, to=BOB, amount=1)
    chain.ok(KYC, "revoke", VERIFIER, who=ALICE)
    chain.fails(TOKEN, "transfer", ALICE, "frozen or revoked", to=BOB, amount=1)
    chain.ok(TOKEN, "set_registry", ISSUER, kyc_registry=b"")
    chain.ok(TOKEN, "transfer", ALICE, to=BOB, amount=1)
    assert chain.view(TOKEN, "registry_of") == b""


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["freeze", "unfreeze", "revoke", "send", "send"]),
                          st.sampled_from([ALICE, BOB, CAROL]),
                          st.sampled_from([ALICE, BOB, CAROL])), min_size=4, max_size=20))
def test_a_blocked_account_never_sends(steps: list) -> None:
    chain = token_chain(with_registry=True)
    for who in (ALICE, BOB, CAROL):
        chain.ok(KYC, "register", VERIFIER, who=who, level=1)
        chain.ok(TOKEN, "transfer", ISSUER, to=who, amount=100)
    for method, who, other in steps:
        if method == "send":
            blocked = chain.view(KYC, "is_blocked", who=who)
            result = chain.call(TOKEN, "transfer", who, to=other, amount=1)
            assert result.ok == (not blocked)
        else:
            chain.call(KYC, method, VERIFIER, who=who)
    assert sum(balances(chain)) == chain.view(TOKEN, "total_supply")
