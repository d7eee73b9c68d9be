"""Ordinary behaviour: storage, events, views, nested calls and rollback, gas accounting."""

from __future__ import annotations

import pytest

import vm
import vm.gas
from tests.vm.contracts import NFT, TOKEN
from tests.vm.helpers import ALICE, BOB, CAROL, CONTEXT, CONTRACT, OTHER, body, deploy
from vm import ErrorCode, codec
from vm.methods import method_tables
from vm.names import builtin_names, host_names, methods_by_type
from vm.runtime import Runtime
from vm.state import DictState, storage_base

ENGINES = ["fast", "reference"]

COUNTER = """
count = Value()
log = Map()

@export
def bump(by: int) -> int:
    value = count.get(0) + by
    count.set(value)
    log[value] = ctx.sender
    emit("Bumped", value=value)
    return value

@export
def bump_then_fail(by: int):
    bump(by)
    revert("no")

@view
def current() -> int:
    return count.get(0)

@view
def sneaky() -> int:
    count.set(99)
    return 1
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_storage_value_and_map_persist_between_calls(engine: str) -> None:
    contract = deploy(COUNTER, engine)
    assert contract.call("bump", by=2).value == 2
    assert contract.call("bump", by=3).value == 5
    assert contract.query("current").value == 5
    key = storage_base(CONTRACT, "log") + codec.encode(5, 2)
    assert codec.decode(contract.state.data[key]) == ALICE


@pytest.mark.parametrize("engine", ENGINES)
def test_write_set_is_sorted_and_namespaced_by_contract_address(engine: str) -> None:
    contract = deploy(COUNTER, engine)
    result = contract.call("bump", by=1, apply=False)
    keys = [key for key, _ in result.writes]
    assert keys == sorted(keys)
    assert all(key.startswith(b"S" + CONTRACT) for key in keys)


@pytest.mark.parametrize("engine", ENGINES)
def test_events_carry_contract_name_and_canonical_fields(engine: str) -> None:
    contract = deploy(COUNTER, engine)
    result = contract.call("bump", by=4)
    assert [(e.contract, e.name, codec.decode(e.data)) for e in result.events] == [
        (CONTRACT, "Bumped", {"value": 4})
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_call_reverts_writes_and_events_but_charges_gas(engine: str) -> None:
    contract = deploy(COUNTER, engine)
    result = contract.call("bump_then_fail", by=1)
    assert result.code is ErrorCode.REVERT and result.message == "no"
    assert result.writes == () and result.events == ()
    assert result.gas_used > 0
    assert contract.query("current").value == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_view_cannot_write_and_query_only_runs_views(engine: str) -> None:
    contract = deploy(COUNTER, engine)
    assert contract.query("sneaky").code is ErrorCode.READ_ONLY
    assert contract.call("sneaky").code is ErrorCode.READ_ONLY
    assert contract.query("bump", by=1).code is ErrorCode.NO_SUCH_METHOD


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_method_and_arguments_get_error_codes(engine: str) -> None:
    contract = deploy(COUNTER, engine)
    assert contract.call("missing").code is ErrorCode.NO_SUCH_METHOD
    assert contract.call("bump").code is ErrorCode.INVALID_ARGUMENT
    assert contract.call("bump", by=1, extra=2).code is ErrorCode.INVALID_ARGUMENT
    assert contract.call("bump", by=1.5).code is ErrorCode.INVALID_ARGUMENT
    assert contract.call("bump", by="x").code is ErrorCode.RUNTIME_ERROR


def test_out_of_gas_charges_the_whole_limit_and_stays_tripped() -> None:
    contract = deploy(COUNTER)
    result = contract.call("bump", gas=1500, by=1)
    assert result.code is ErrorCode.OUT_OF_GAS
    assert result.gas_used == 1500
    assert result.writes == ()


def test_gas_used_is_deterministic_and_grows_with_work() -> None:
    source = body("total = 0\nfor i in range(n):\n    total += i\nreturn total").replace(
        "def run():", "def run(n):"
    )
    contract = deploy(source)
    small, large = contract.call("run", n=10), contract.call("run", n=100)
    assert small.value == 45 and large.value == 4950
    assert contract.call("run", n=10).gas_used == small.gas_used
    per_iteration = contract.call("run", n=11).gas_used - small.gas_used
    assert per_iteration > 0
    assert large.gas_used - small.gas_used == 90 * per_iteration


def test_storage_reads_are_copies() -> None:
    source = """
items = Value()

@export
def run() -> list:
    items.set([1, 2])
    local = items.get()
    local.append(3)
    return items.get()
"""
    assert deploy(source).call("run").value == [1, 2]


def test_deploy_rejects_invalid_source_with_rule_line_and_column() -> None:
    result = vm.deploy(DictState(), body("return 1.5"), CONTRACT, CONTEXT, 100_000)
    assert result.code is ErrorCode.INVALID_CONTRACT
    assert "float at line 3, column 12" in result.message


def test_deploy_twice_at_one_address_fails() -> None:
    contract = deploy(COUNTER)
    again = vm.deploy(contract.state, COUNTER, CONTRACT, CONTEXT, 1_000_000)
    assert again.code is ErrorCode.INVALID_ARGUMENT


CALLEE = """
value = Value()

@export
def store(x: int) -> int:
    value.set(x)
    emit("Stored", x=x)
    require(x != 13, "unlucky")
    return x * 2

@view
def get() -> int:
    return value.get(0)

@export
def whoami() -> list:
    return [ctx.sender, ctx.origin, ctx.address]
"""

CALLER = """
@export
def forward(target: bytes, x: int) -> int:
    return call(target, "store", x=x)

@export
def attempt(target: bytes, x: int) -> list:
    result = try_call(target, "store", x=x)
    emit("Tried", ok=result[0])
    return result

@export
def identities(target: bytes) -> list:
    return call(target, "whoami")

@view
def peek(target: bytes) -> int:
    return call(target, "store", x=1)
"""


def _pair(engine: str) -> tuple[vm.DictState, bytes, bytes]:
    callee = deploy(CALLEE, engine, address=OTHER)
    deploy(CALLER, engine, state=callee.state, address=CONTRACT)
    return callee.state, CONTRACT, OTHER


@pytest.mark.parametrize("engine", ENGINES)
def test_cross_contract_call_writes_into_callee_namespace(engine: str) -> None:
    state, caller, callee = _pair(engine)
    result = vm.execute(
        state, caller, "forward", {"target": callee, "x": 5}, CONTEXT, 10**6, engine=engine
    )
    assert result.ok and result.value == 10
    assert all(key.startswith(b"S" + callee) for key, _ in result.writes)
    assert [event.contract for event in result.events] == [callee]


@pytest.mark.parametrize("engine", ENGINES)
def test_failing_nested_call_fails_the_caller_and_reverts_everything(engine: str) -> None:
    state, caller, callee = _pair(engine)
    result = vm.execute(
        state, caller, "forward", {"target": callee, "x": 13}, CONTEXT, 10**6, engine=engine
    )
    assert result.code is ErrorCode.REVERT and result.writes == () and result.events == ()


@pytest.mark.parametrize("engine", ENGINES)
def test_try_call_rolls_back_only_the_callee(engine: str) -> None:
    state, caller, callee = _pair(engine)
    result = vm.execute(
        state, caller, "attempt", {"target": callee, "x": 13}, CONTEXT, 10**6, engine=engine
    )
    assert result.ok and result.value == [False, int(ErrorCode.REVERT)]
    assert result.writes == ()
    assert [(e.name, codec.decode(e.data)) for e in result.events] == [("Tried", {"ok": False})]
    ok = vm.execute(
        state, caller, "attempt", {"target": callee, "x": 2}, CONTEXT, 10**6, engine=engine
    )
    assert ok.value == [True, 4] and len(ok.writes) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_nested_ctx_sender_is_the_calling_contract(engine: str) -> None:
    state, caller, callee = _pair(engine)
    result = vm.execute(
        state, caller, "identities", {"target": callee}, CONTEXT, 10**6, engine=engine
    )
    assert result.value == [caller, ALICE, callee]


@pytest.mark.parametrize("engine", ENGINES)
def test_view_cannot_write_through_a_nested_call(engine: str) -> None:
    state, caller, callee = _pair(engine)
    result = vm.query(state, caller, "peek", {"target": callee}, CONTEXT, 10**6, engine=engine)
    assert result.code is ErrorCode.READ_ONLY


def test_call_to_missing_contract_fails_with_its_code() -> None:
    contract = deploy(CALLER)
    result = contract.call("forward", target=CAROL, x=1)
    assert result.code is ErrorCode.NO_SUCH_CONTRACT


@pytest.mark.parametrize("engine", ENGINES)
def test_token_template_transfers_and_approvals(engine: str) -> None:
    token = deploy(TOKEN, engine, token_name="Gold", amount=1000)
    assert token.call("transfer", to=BOB, amount=300).value is True
    assert token.call("transfer", to=BOB, amount=5000).code is ErrorCode.REVERT
    assert token.call("approve", spender=CAROL, amount=50).ok
    bob_context = vm.BlockContext(CAROL, 8, 1, b"t" * 32)
    assert token.call("transfer_from", context=bob_context, source=ALICE, to=CAROL, amount=40).ok
    assert token.query("balance_of", who=ALICE).value == 660
    assert token.query("balance_of", who=CAROL).value == 40
    assert token.query("allowance", owner=ALICE, spender=CAROL).value == 10
    assert token.query("total_supply").value == 1000


@pytest.mark.parametrize("engine", ENGINES)
def test_nft_template_mint_transfer_and_royalty(engine: str) -> None:
    nft = deploy(NFT, engine)
    assert nft.call("mint", to=ALICE, token=1, royalty_bp=250).ok
    assert nft.call("mint", to=ALICE, token=1, royalty_bp=250).code is ErrorCode.REVERT
    assert nft.call("transfer", to=BOB, token=1).ok
    assert nft.call("transfer", to=CAROL, token=1).code is ErrorCode.REVERT
    assert nft.query("owner_of", token=1).value == BOB
    assert nft.query("balance_of", who=ALICE).value == 0
    assert nft.query("royalty_info", token=1, price=10_000).value == [ALICE, 250]


def test_method_tables_match_the_validator_names() -> None:
    for type_name, table in ((t.__name__, table) for t, table in method_tables.items()):
        assert set(table) == methods_by_type[type_name], type_name
    runtime = Runtime()
    assert set(runtime.builtins()) == builtin_names
    assert set(runtime.host_functions()) == host_names


def test_unicode_string_literals_are_fine_identifiers_are_not() -> None:
    contract = deploy(body('return "caf\u00e9".upper()'))
    assert contract.call("run").value == "CAF\u00c9"


def test_meter_stays_tripped_once_out_of_gas() -> None:
    from vm.runtime import Meter

    meter = Meter(10)
    with pytest.raises(vm.OutOfGas):
        meter.charge(11)
    for _ in range(3):
        with pytest.raises(vm.OutOfGas):
            meter.charge(0)
    assert meter.used == 10


REENTRANT = """
seen = Map()

@export
def outer() -> list:
    before = ctx.sender
    nested = call(ctx.address, "inner")
    return [before, nested, ctx.sender]

@export
def inner() -> bytes:
    return ctx.sender
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_reentrant_call_restores_the_outer_ctx(engine: str) -> None:
    contract = deploy(REENTRANT, engine)
    assert contract.call("outer").value == [ALICE, CONTRACT, ALICE]


@pytest.mark.parametrize("engine", ENGINES)
def test_nested_try_call_rolls_back_deeper_calls_too(engine: str) -> None:
    source = """
value = Value()

@export
def set_then_call(x: int):
    value.set(x)
    call(ctx.address, "set_and_fail", x=x + 1)

@export
def set_and_fail(x: int):
    value.set(x)
    revert("boom")

@export
def run() -> list:
    value.set(1)
    outcome = try_call(ctx.address, "set_then_call", x=10)
    return [outcome, value.get()]
"""
    contract = deploy(source, engine)
    result = contract.call("run")
    assert result.value == [[False, int(ErrorCode.REVERT)], 1]
    assert len(result.writes) == 1


def test_gas_schedule_charges_storage_by_size() -> None:
    source = """
data = Value()

@export
def put(blob: bytes):
    data.set(blob)
"""
    contract = deploy(source)
    small = contract.call("put", apply=False, blob=b"x").gas_used
    large = contract.call("put", apply=False, blob=b"x" * 1001).gas_used
    assert large - small >= 1000 * vm.gas.storage_byte_gas


def test_integer_and_string_caps_are_enforced_exactly() -> None:
    contract = deploy(
        body("a = 1 << (n - 1)\nreturn a.bit_length()").replace("def run():", "def run(n):")
    )
    assert contract.call("run", n=vm.gas.int_bits_max).value == vm.gas.int_bits_max
    assert contract.call("run", n=vm.gas.int_bits_max + 1).code is ErrorCode.LIMIT_EXCEEDED


def test_a_failed_contract_leaves_the_process_usable() -> None:
    contract = deploy(body("while True:\n    pass"))
    assert contract.call("run", gas=50_000).code is ErrorCode.OUT_OF_GAS
    assert deploy(COUNTER, address=OTHER).call("bump", by=1).value == 1


def test_every_shipped_template_compiles() -> None:
    from pathlib import Path

    from vm.templates import load

    names = sorted(p.stem for p in Path(vm.__file__).parent.joinpath("templates").glob("*.py"))
    for name in (n for n in names if n != "__init__"):
        vm.compile_contract(load(name))


def test_concurrent_threads_give_the_same_results_as_one_thread() -> None:
    import threading

    def run_transfers(results: list[bytes]) -> None:
        token = deploy(TOKEN, token_name="Gold", amount=2**80)
        for amount in range(1, 150):
            results.append(token.call("transfer", to=BOB, amount=amount * 2**66).canonical_bytes())

    expected: list[bytes] = []
    run_transfers(expected)
    outputs: list[list[bytes]] = [[], [], []]
    threads = [threading.Thread(target=run_transfers, args=(out,)) for out in outputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(out == expected for out in outputs)


def test_host_functions_pass_any_argument_name_through() -> None:
    callee = deploy(
        "@export\ndef echo(address: bytes, method: str, name: str) -> list:\n"
        '    emit("Echo", name=name, method=method)\n'
        "    return [address, method, name]\n",
        address=OTHER,
    )
    caller = deploy(
        body('return call(target, "echo", address=b"a", method="m", name="n")').replace(
            "def run():", "def run(target):"
        ),
        state=callee.state,
    )
    assert caller.call("run", target=OTHER).value == [b"a", "m", "n"]


PYTHON_FRAMES_PER_CALL_MAX = 300


@pytest.mark.parametrize(
    "source",
    [
        "def f(n):\n    return [f(n + 1) for i in range(1)]\n" + body("return f(0)"),
        "def f(n):\n    return f(n + 1)\n" + body("return f(0)"),
        body('return [call(ctx.address, "run") for i in range(1)]'),
    ],
    ids=["recursion_through_comprehensions", "plain_recursion", "cross_contract_recursion"],
)
def test_deepest_calls_stay_within_a_bounded_python_stack(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from vm import engine
    from vm.runtime import Runtime

    deepest = [0]
    enter = Runtime.enter

    def measuring_enter(self: Runtime, frames: int = 1) -> None:
        depth, frame = 0, sys._getframe()
        while frame is not None:
            depth, frame = depth + 1, frame.f_back
        deepest[0] = max(deepest[0], depth + frames)
        enter(self, frames)

    monkeypatch.setattr(Runtime, "enter", measuring_enter)
    monkeypatch.setattr(engine, "_pool", [])  # fresh runtimes bind the measuring method
    contract = deploy(source)
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    result = contract.call("run", gas=5_000_000)
    assert result.code is ErrorCode.CALL_DEPTH
    assert 0 < deepest[0] - depth <= PYTHON_FRAMES_PER_CALL_MAX


def test_init_runs_once_at_deploy_and_cannot_be_called_again() -> None:
    token = deploy(TOKEN, token_name="Gold", amount=10)
    again = token.call("init", token_name="Stolen", amount=10**6)
    assert again.code is ErrorCode.NO_SUCH_METHOD
    self_call = deploy(
        body('return call(ctx.address, "init")') + "\n@export\ndef init():\n    pass\n",
        address=OTHER,
    )
    assert self_call.call("run").code is ErrorCode.NO_SUCH_METHOD


@pytest.mark.parametrize("source", [b"@export\ndef f():\n    pass\n", None, "x = '\ud800'\n"])
def test_deploy_of_a_non_text_source_is_an_invalid_contract(source: object) -> None:
    result = vm.deploy(DictState(), source, CONTRACT, CONTEXT, 100_000)  # type: ignore[arg-type]
    assert result.code is ErrorCode.INVALID_CONTRACT and result.writes == ()
