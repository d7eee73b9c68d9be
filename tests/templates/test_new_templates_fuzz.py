"""Every exported method of templates 13 to 28, called with arbitrary arguments by
arbitrary senders on a set-up world (the README example's), either succeeds or fails with
a contract-level error code and changes nothing (Chain.call asserts a byte-identical
state after a failure), and the token's supply and balances stay consistent."""

from __future__ import annotations

import copy
import functools
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.templates.test_all_templates import _new_template_examples
from vm import ErrorCode
from vm.contract import compile_contract
from vm.templates import load

# README example number (13..28) -> (template, the variable holding its address)
EXAMPLES = {13: ("tickets", "tickets"), 14: ("membership", "passes"), 15: ("crowdfund", "fund"),
            16: ("fractional", "vaults"), 17: ("mysterybox", "box"), 18: ("loyalty", "points"),
            19: ("giftcard", "cards"), 20: ("staking", "pool"), 21: ("vesting", "vest"),
            22: ("multisig", "wallet"), 23: ("oracle", "feed"), 24: ("did", "dids"),
            25: ("dispute", "court"), 26: ("drop", "drop"), 27: ("bonding", "curve"),
            28: ("bridge", "wrapped")}
FAILURES = {ErrorCode.REVERT, ErrorCode.RUNTIME_ERROR, ErrorCode.INVALID_ARGUMENT,
            ErrorCode.LIMIT_EXCEEDED, ErrorCode.INVALID_VALUE, ErrorCode.NO_SUCH_CONTRACT,
            ErrorCode.NO_SUCH_METHOD}

scalars = st.one_of(st.integers(-3, 3), st.integers(-(2**70), 2**70), st.just(2**300),
                    st.booleans(), st.none(), st.binary(max_size=40),
                    st.binary(min_size=32, max_size=32), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)


@functools.cache
def _built_world(number: int) -> dict[str, Any]:
    prelude, examples = _new_template_examples()
    namespace: dict[str, Any] = {}
    exec(compile(prelude + examples[number - 13], f"example {number}", "exec"),  # noqa: S102
         namespace)
    return namespace


def world(number: int) -> dict[str, Any]:
    """The example's names, with a private copy of its chain."""
    namespace = dict(_built_world(number))
    namespace["chain"] = copy.deepcopy(namespace["chain"])
    return namespace


def exported(template: str) -> list[tuple[str, tuple[str, ...]]]:
    info = compile_contract(load(template)).info
    return sorted((name, function.params) for name, function in info.functions.items()
                  if function.kind == "export" and name != "init")


FUZZ_EXAMPLES = int(os.environ.get("AGORA_FUZZ_EXAMPLES", "40"))  # more for a long hunt


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_arbitrary_calls_succeed_or_fail_cleanly(number: int, data: st.DataObject) -> None:
    template, variable = EXAMPLES[number]
    namespace = world(number)
    chain, gold = namespace["chain"], namespace["gold"]
    people = [namespace[name] for name in ("issuer", "alice", "bob", "carol")]
    contract = namespace[variable]
    methods = exported(template)
    supply = chain.view(gold, "total_supply")
    for _ in range(data.draw(st.integers(1, 6))):
        method, params = data.draw(st.sampled_from(methods))
        args = {name: data.draw(values) for name in params
                if data.draw(st.integers(0, 9)) > 0}  # sometimes leave one out
        sender = data.draw(st.sampled_from(people))
        result = chain.call(contract, method, sender, **args)
        assert result.ok or result.code in FAILURES, (method, args, result.code,
                                                      result.message)
        if data.draw(st.booleans()):
            chain.advance(seconds=data.draw(st.integers(0, 4000)),
                          blocks=data.draw(st.integers(0, 20)))
    assert chain.view(gold, "total_supply") == supply
