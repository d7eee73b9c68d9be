"""The mechanisms that make gas measure work (issue #13), one test or more per class:
hashing, content-dependent operations, deep walks, arguments, code loading and deploys,
storage pricing, the compile cache's bounds and the memory one call may allocate."""

from __future__ import annotations

import tracemalloc

import pytest

import vm
from tests.vm.helpers import CONTEXT, CONTRACT, OTHER, body, deploy
from vm import ErrorCode, codec, gas
from vm.contract import ContractCache, DictCodeStore, compile_contract
from vm.state import DictState
from vm.templates import load

COLLIDE = 2**61 - 1


# --- hashing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        f"d = {{}}\nd[5 * {COLLIDE}] = 1",
        "d = {}\nd[(1, 2)] = 1",
        "d = {(1, 2): 1}",
        f"return {{i * {COLLIDE}: 1 for i in range(3)}}",
        f"return dict([[2 ** 70, 1]])",
        "d = {}\nreturn d.get((1,))",
        f"return (2 ** 61) in {{}}",
    ],
)
def test_dict_keys_that_could_be_built_to_collide_are_refused(code: str) -> None:
    for engine in ("fast", "reference"):
        result = deploy(body(code), engine=engine).call("run")
        assert result.code is ErrorCode.RUNTIME_ERROR, (engine, result.message)
        assert result.message.startswith("dict keys must be")


def test_dict_keys_of_str_bytes_bool_and_small_ints_work() -> None:
    code = 'd = {"a": 1, b"b": 2, True: 3, 2 ** 60 - 1: 4, -5: 5}\nreturn d[2 ** 60 - 1] + d[-5]'
    assert deploy(body(code)).call("run").value == 9


def test_map_keys_may_still_be_short_tuples() -> None:
    contract = deploy("m = Map()\n" + body("m[(b'a', 1)] = 5\nreturn m[(b'a', 1)]"))
    assert contract.call("run").value == 5


def test_decoded_maps_refuse_big_int_keys_before_hashing_them() -> None:
    data = codec.encode({"x": 1}, 10).replace(b"\xa1x", codec.encode(2**70, 10))
    with pytest.raises(vm.VMError):
        codec.decode(data)
    contract = deploy("@export\ndef run(d: dict) -> int:\n    return len(d)\n")
    result = vm.execute(contract.state, CONTRACT, "run", {"d": {2**70: 1}}, CONTEXT, 10**6)
    assert result.code is ErrorCode.INVALID_ARGUMENT


def test_long_str_keys_are_charged_by_their_length() -> None:
    short = deploy(body('d = {"k": 1}\nk = "k"\nreturn d[k]')).call("run").gas_used
    long = deploy(body('d = {"k" * 40000: 1}\nk = "k" * 40000\nreturn d[k]')).call("run")
    assert long.gas_used - short > 3 * 40000 // gas.bytes_per_gas


# --- content and type ---------------------------------------------------------------------
def test_membership_of_a_non_int_in_a_range_is_false_at_once() -> None:
    for engine in ("fast", "reference"):
        result = deploy(body('return ["x" in range(10 ** 18), 3 in range(10 ** 18)]'),
                        engine=engine).call("run")
        assert result.value == [False, True]
        assert result.gas_used < 2_000


def test_strip_with_a_long_character_set_pays_for_every_lookup() -> None:
    code = 's = "a" * 2000\nreturn len(s.strip("b" * 2000 + "a"))'
    result = deploy(body(code)).call("run", gas=5_000_000)
    assert result.ok and result.gas_used > 2000 * 2000 // gas.strip_compares_per_gas
    huge = deploy(body(code.replace("2000", "20000"))).call("run", gas=5_000_000)
    assert huge.code is ErrorCode.OUT_OF_GAS  # charged before CPython does the work


# --- deep walks and arguments ---------------------------------------------------------------
def test_aliased_nested_values_are_weighed_per_alias() -> None:
    row = list(range(100))
    assert codec.count_elements([row] * 50, 10**9) == 50 * (101 + gas.container_weight) + (
        1 + gas.container_weight
    )


def test_returning_or_storing_a_nested_value_charges_its_walk() -> None:
    small = deploy(body("return [[1, 2]] * 10")).call("run").gas_used
    big = deploy(body("return [[1, 2]] * 2000")).call("run").gas_used
    assert big - small >= 1990 * (2 + gas.container_weight) * gas.element_gas


def test_large_transaction_arguments_are_charged_for_every_walk() -> None:
    contract = deploy("@export\ndef run(xs: list) -> int:\n    return 1\n")
    args = {"xs": [[i % 100] for i in range(5000)]}
    result = vm.execute(contract.state, CONTRACT, "run", args, CONTEXT, 10**7)
    assert result.ok
    assert result.gas_used >= 2 * 5000 * (2 + gas.container_weight) * gas.element_gas


# --- code loading and deploy ----------------------------------------------------------------
CALLEE = "@export\ndef ping() -> int:\n    return 7\n"
CALLER = (
    "@export\ndef run(target: bytes) -> int:\n"
    '    return call(target, "ping") + call(target, "ping")\n'
)


def test_a_contract_is_loaded_and_charged_once_per_transaction() -> None:
    state = DictState()
    cache = ContractCache()
    for source, address in ((CALLER, CONTRACT), (CALLEE, OTHER)):
        result = vm.deploy(state, source, address, CONTEXT, 10**6, cache=cache)
        state.apply(result.writes)
    loads = []
    original = state.get

    def counting_get(key: bytes) -> bytes | None:
        loads.append(key)
        return original(key)

    state.get = counting_get  # type: ignore[method-assign]
    result = vm.execute(state, CONTRACT, "run", {"target": OTHER}, CONTEXT, 10**6, cache=cache)
    assert result.value == 14
    assert loads.count(b"C" + OTHER) == 1


def test_a_miss_reads_persisted_code_instead_of_compiling() -> None:
    store = DictCodeStore()
    deploying = ContractCache(code_store=store)
    state = DictState()
    for source, address in ((CALLER, CONTRACT), (CALLEE, OTHER)):
        result = vm.deploy(state, source, address, CONTEXT, 10**6, cache=deploying)
        state.apply(result.writes)
    assert deploying.compiles == 2 and len(store.data) == 2
    restarted = ContractCache(entries_max=1, code_store=store)  # every load misses
    cold = ContractCache(entries_max=1)
    results = [
        vm.execute(state, CONTRACT, "run", {"target": OTHER}, CONTEXT, 10**6, cache=cache)
        for cache in (deploying, restarted, cold)
    ]
    assert restarted.compiles == 0 and cold.compiles == 2
    assert len({result.canonical_bytes() for result in results}) == 1


def test_a_failing_deploy_is_validated_once_and_charged_every_time() -> None:
    cache = ContractCache()
    source = body("return ().__class__")
    results = [
        vm.deploy(DictState(), source, CONTRACT, CONTEXT, 10**6, cache=cache) for _ in range(3)
    ]
    assert cache.compiles == 1
    assert {(r.code, r.gas_used, r.message) for r in results} == {
        (ErrorCode.INVALID_CONTRACT, results[0].gas_used, results[0].message)
    }
    assert results[0].gas_used >= len(source) * gas.deploy_byte_gas


def test_validation_work_is_linear_in_source_size() -> None:
    import sys

    def calls(functions: int) -> int:
        source = "".join(
            f"def f{i}(a: int) -> int:\n    v{i} = a + {i}\n    return f0(v{i})\n"
            for i in range(functions)
        )
        count = [0]

        def profile(frame: object, event: str, argument: object) -> None:
            count[0] += 1

        sys.setprofile(profile)
        try:
            compile_contract(source)
        finally:
            sys.setprofile(None)
        return count[0]

    assert calls(400) < 4.5 * calls(100)


# --- storage pricing ---------------------------------------------------------------------------
STORE = "m = Map()\n@export\ndef put(k: int, size: int):\n    m[k] = b'x' * size\n"


def test_storage_writes_are_charged_per_byte_stored() -> None:
    contract = deploy(STORE + "@export\ndef run():\n    pass\n")
    small = contract.call("put", k=1, size=10, apply=False).gas_used
    big = contract.call("put", k=1, size=10010, apply=False).gas_used
    assert big - small >= 10000 * gas.storage_write_byte_gas


def test_rewriting_a_key_in_one_transaction_is_not_charged_twice_and_a_delete_is_cheap() -> None:
    once = deploy(STORE + body("put(1, 5000)")).call("run").gas_used
    twice = deploy(STORE + body("put(1, 5000)\nput(1, 5000)")).call("run").gas_used
    byte_charge = 5000 * gas.storage_write_byte_gas
    assert twice - once < byte_charge // 4  # the second put pays no bytes again
    deleted = deploy(STORE + body("put(1, 5000)\ndel m[1]")).call("run").gas_used
    assert deleted - once < byte_charge // 4


def test_a_transaction_cannot_write_more_than_the_cap() -> None:
    code = "for i in range(40):\n    put(i, 60000)"
    result = deploy(STORE + body(code)).call("run", gas=gas.gas_limit_tx_max)
    assert result.code is ErrorCode.LIMIT_EXCEEDED
    assert 40 * 60000 > gas.write_bytes_per_tx_max


def test_rolled_back_writes_free_their_bytes() -> None:
    assert 2 * 12 * 60000 > gas.write_bytes_per_tx_max > 12 * 60000
    source = (
        STORE + "@export\ndef fill():\n    for i in range(12):\n        put(i, 60000)\n"
        "    revert('undo')\n"
        + body(
            'try_call(ctx.address, "fill")\n'
            "for i in range(12):\n    put(100 + i, 60000)\nreturn 1"
        )
    )
    result = deploy(source).call("run", gas=gas.gas_limit_tx_max)
    assert result.ok, result.message


# --- cache bounds and memory --------------------------------------------------------------------
def test_the_compile_cache_is_bounded_in_estimated_bytes() -> None:
    token = load("token").encode()
    market = load("market").encode()
    cache = ContractCache(bytes_max=compile_contract(load("market")).memory_bytes + 1)
    cache.get(token)
    cache.get(market)
    assert len(cache.entries) == 1 and cache.bytes_used <= cache.bytes_max


@pytest.mark.parametrize("name", ["token", "market", "auction", "dao"])
def test_a_compiled_contracts_memory_estimate_is_above_its_measured_size(name: str) -> None:
    source = load(name)
    tracemalloc.start()
    try:
        contract = compile_contract(source)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held <= contract.memory_bytes


@pytest.mark.parametrize(
    "code",
    [
        'x = "\\U0001f600" * 200000\nreturn len(x)',
        "x = list(range(100000))\ny = list(range(100000))\nreturn len(x)",
        "x = {i: i for i in range(50000)}\nreturn len(x)",
        "b = 2 ** 1000\nx = [b + i for i in range(20000)]\nreturn len(x)",
        "x = [[i] for i in range(50000)]\nreturn len(x)",
        'x = [str(i) * 10 for i in range(20000)]\nreturn len(x)',
    ],
)
def test_memory_one_call_allocates_is_bounded_by_its_gas(code: str) -> None:
    contract = deploy(body(code))
    tracemalloc.start()
    try:
        result = contract.call("run", gas=gas.gas_limit_tx_max)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok, result.message
    assert peak <= result.gas_used * gas.memory_bytes_per_gas_max + 1_000_000
