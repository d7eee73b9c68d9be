"""Licences (vm/templates/licence.py): grants, sublicences, cascading revocation, verify."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account

LICENCE = account("licence-contract")
HOLDER = account("rights-holder")
STUDIO = account("studio")
SHOP = account("shop")
KIOSK = account("kiosk")
WORK = b"work:song-1"
DAY = 86_400


def licence_chain() -> Chain:
    chain = Chain()
    chain.deploy("licence", LICENCE, HOLDER)
    chain.ok(LICENCE, "register_work", HOLDER, work=WORK)
    return chain


def test_grant_verify_scope_territory_and_expiry() -> None:
    chain = licence_chain()
    chain.fails(LICENCE, "register_work", STUDIO, "work exists", work=WORK)
    chain.fails(LICENCE, "grant", STUDIO, "only the rights holder", licensee=STUDIO, work=WORK,
                scope=["stream"], territory=["*"], expires=chain.time + DAY,
                sublicensable=False)
    chain.fails(LICENCE, "grant", HOLDER, "expiry in the past", licensee=STUDIO, work=WORK,
                scope=["stream"], territory=["*"], expires=chain.time, sublicensable=False)
    chain.fails(LICENCE, "grant", HOLDER, "bad scope", licensee=STUDIO, work=WORK, scope=[],
                territory=["*"], expires=chain.time + DAY, sublicensable=False)
    chain.ok(LICENCE, "grant", HOLDER, licensee=STUDIO, work=WORK, scope=["stream", "print"],
             territory=["DE", "FR"], expires=chain.time + DAY, sublicensable=False)
    assert chain.view(LICENCE, "verify", licensee=STUDIO, work=WORK, use="stream") is True
    assert chain.view(LICENCE, "verify", licensee=STUDIO, work=WORK, use="broadcast") is False
    assert chain.view(LICENCE, "verify", licensee=STUDIO, work=WORK, use="print",
                      territory="FR") is True
    assert chain.view(LICENCE, "verify", licensee=STUDIO, work=WORK, use="print",
                      territory="US") is False
    assert chain.view(LICENCE, "verify", licensee=SHOP, work=WORK, use="stream") is False
    chain.advance(seconds=DAY)
    assert chain.view(LICENCE, "verify", licensee=STUDIO, work=WORK, use="stream") is False


def test_sublicences_stay_within_the_parent_and_revocation_cascades() -> None:
    chain = licence_chain()
    end = chain.time + 10 * DAY
    root = chain.ok(LICENCE, "grant", HOLDER, licensee=STUDIO, work=WORK,
                    scope=["stream", "print"], territory=["*"], expires=end, sublicensable=True)
    common = {"territory": ["DE"], "sublicensable": True}
    chain.fails(LICENCE, "sublicense", SHOP, "only the licensee", parent=root, licensee=SHOP,
                scope=["stream"], expires=end, **common)
    chain.fails(LICENCE, "sublicense", STUDIO, "scope exceeds parent", parent=root,
                licensee=SHOP, scope=["broadcast"], expires=end, **common)
    chain.fails(LICENCE, "sublicense", STUDIO, "expiry exceeds parent", parent=root,
                licensee=SHOP, scope=["stream"], expires=end + 1, **common)
    child = chain.ok(LICENCE, "sublicense", STUDIO, parent=root, licensee=SHOP,
                     scope=["stream"], expires=end, **common)
    chain.fails(LICENCE, "sublicense", SHOP, "territory exceeds parent", parent=child,
                licensee=KIOSK, scope=["stream"], territory=["FR"], expires=end,
                sublicensable=False)
    grandchild = chain.ok(LICENCE, "sublicense", SHOP, parent=child, licensee=KIOSK,
                          scope=["stream"], territory=["DE"], expires=end - DAY,
                          sublicensable=False)
    chain.fails(LICENCE, "sublicense", KIOSK, "not sublicensable", parent=grandchild,
                licensee=SHOP, scope=["stream"], territory=["DE"], expires=end,
                sublicensable=False)
    assert chain.view(LICENCE, "verify", licensee=KIOSK, work=WORK, use="stream",
                      territory="DE") is True
    terms_before = chain.view(LICENCE, "licence_of", licence=grandchild)
    chain.fails(LICENCE, "revoke", KIOSK, "not allowed", licence=child)
    chain.ok(LICENCE, "revoke", STUDIO, licence=child)
    chain.fails(LICENCE, "revoke", HOLDER, "already revoked", licence=child)
    assert chain.view(LICENCE, "verify", licensee=SHOP, work=WORK, use="stream") is False
    assert chain.view(LICENCE, "verify", licensee=KIOSK, work=WORK, use="stream") is False
    assert chain.view(LICENCE, "verify", licensee=STUDIO, work=WORK, use="stream") is True
    assert chain.view(LICENCE, "licence_of", licence=grandchild) == terms_before
    chain.fails(LICENCE, "sublicense", SHOP, "parent not valid", parent=child, licensee=KIOSK,
                scope=["stream"], territory=["DE"], expires=end, sublicensable=False)
    chain.ok(LICENCE, "revoke", HOLDER, licence=root)  # the rights holder revokes any licence
    assert chain.view(LICENCE, "is_valid", licence=root) is False


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["sub", "revoke", "wait"]),
                          st.integers(min_value=0, max_value=20),
                          st.integers(min_value=1, max_value=5)), max_size=20))
def test_a_licence_is_valid_exactly_when_its_whole_chain_is(steps: list) -> None:
    chain = licence_chain()
    holders = [STUDIO, SHOP, KIOSK, account("stall")]
    root = chain.ok(LICENCE, "grant", HOLDER, licensee=STUDIO, work=WORK, scope=["stream"],
                    territory=["*"], expires=chain.time + 100, sublicensable=True)
    nodes = [root]
    for method, pick, amount in steps:
        target = nodes[pick % len(nodes)]
        terms = chain.view(LICENCE, "licence_of", licence=target)
        if method == "sub":
            result = chain.call(LICENCE, "sublicense", terms["licensee"], parent=target,
                                licensee=holders[amount % len(holders)], scope=["stream"],
                                territory=["*"], expires=terms["expires"] - amount,
                                sublicensable=True)
            if result.ok:
                nodes.append(result.value)
        elif method == "revoke":
            chain.call(LICENCE, "revoke", terms["licensor"], licence=target)
        else:
            chain.advance(seconds=amount * 5)
        snapshot = chain.snapshot()
        for node in nodes:
            expected = True
            current = node
            while current != 0:
                terms = chain.view(LICENCE, "licence_of", licence=current)
                if chain.view(LICENCE, "is_revoked", licence=current) or \
                        terms["expires"] <= chain.time:
                    expected = False
                current = terms["parent"]
            assert chain.view(LICENCE, "is_valid", licence=node) is expected
        assert chain.snapshot() == snapshot
