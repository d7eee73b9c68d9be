"""Every outcome of a contract call is a deterministic VM result (issues #12 and #13).

* The VM's depth accounting counts every Python frame contract code can create, so deep
  recursion through nested comprehensions is CALL_DEPTH on every node, whatever the host's
  stack depth and whether the callee is in the compile cache (reproductions r7 and r7b:
  they raised VMInternalError out of the VM, which killed the node's executor).
* Receipt messages are the VM's own text, never CPython's or msgpack's.
* Nothing a receipt carries can fail to encode (lone surrogates are rejected where they
  could be created).
* An exception the VM did not expect is VMInternalError (a node fault), never a receipt.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

import vm
from tests.vm.helpers import CONTEXT, CONTRACT, OTHER, body, deploy
from vm import ErrorCode
from vm.contract import ContractCache
from vm.errors import VMInternalError
from vm.state import DictState


def _nested_comprehension_recursion(levels: int) -> str:
    """r7: recursion through `levels` nested comprehensions per contract frame."""
    inner = "f(n - 1)"
    for index in range(levels):
        inner = f"[{inner} for v{index} in range(1)][0]"
    return (
        "@export\ndef init():\n    pass\n\n"
        f"def f(n: int) -> int:\n    if n == 0:\n        return 0\n    return {inner}\n\n"
        "@export\ndef go(n: int) -> int:\n    return f(n)\n"
    )


def _at_host_depth(frames: int, action: Callable[[], Any]) -> Any:
    """Runs `action` with about `frames` more Python frames on the stack."""
    if frames <= 0:
        return action()
    return _at_host_depth(frames - 1, action)


def _receipt(result: vm.ExecutionResult) -> tuple[bytes, str]:
    return result.canonical_bytes(), result.message


@pytest.mark.parametrize("levels", [1, 8, 20])
def test_recursion_through_nested_comprehensions_is_call_depth_at_any_host_depth(
    levels: int,
) -> None:
    contract = deploy(_nested_comprehension_recursion(levels))
    outcomes = set()
    for host_frames in (0, 400, 1_500):

        def run() -> vm.ExecutionResult:
            return vm.execute(contract.state, CONTRACT, "go", {"n": 120}, CONTEXT, 10_000_000)

        result = _at_host_depth(host_frames, run)
        assert result.code is ErrorCode.CALL_DEPTH, result.message
        outcomes.add(_receipt(result))
    assert len(outcomes) == 1


def test_shallow_recursion_through_comprehensions_still_succeeds() -> None:
    contract = deploy(_nested_comprehension_recursion(8))
    result = contract.call("go", n=10, gas=10_000_000)
    assert result.ok and result.value == 0


CALLER = (
    "@export\ndef init():\n    pass\n\n"
    "def down(target: bytes, n: int) -> int:\n    if n == 0:\n"
    '        return call(target, "ping")\n'
    "    return [down(target, n - 1) for i in range(1)][0]\n\n"
    "@export\ndef go(target: bytes, n: int) -> int:\n    return down(target, n)\n"
)


def _big_callee() -> str:
    lines = ["@export", "def ping() -> int:", "    return 7", ""]
    for index in range(300):
        lines += [f"def h{index}(a: int) -> int:", f"    return [[a + {index}]][0][0]", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("depth", [10, 50, 90])
def test_a_callee_compiled_mid_call_gives_the_same_receipt_as_a_warm_cache(depth: int) -> None:
    state = DictState()
    warm = ContractCache()
    for source, address in ((CALLER, CONTRACT), (_big_callee(), OTHER)):
        result = vm.deploy(state, source, address, CONTEXT, 5_000_000, {}, cache=warm)
        assert result.ok, result.message
        state.apply(result.writes)
    args = {"target": OTHER, "n": depth}
    receipts = set()
    for host_frames in (0, 1_500):
        for cache in (warm, ContractCache()):  # warm, then cold: compiled at depth

            def run(cache: ContractCache = cache) -> vm.ExecutionResult:
                return vm.execute(state, CONTRACT, "go", args, CONTEXT, 5_000_000, cache=cache)

            receipts.add(_receipt(_at_host_depth(host_frames, run)))
    assert len(receipts) == 1


def test_the_vm_keeps_cpythons_recursion_limit_out_of_reach() -> None:
    previous = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(1000)
        contract = deploy(_nested_comprehension_recursion(8))
        result = _at_host_depth(
            700,
            lambda: vm.execute(contract.state, CONTRACT, "go", {"n": 120}, CONTEXT, 10_000_000),
        )
        assert result.code is ErrorCode.CALL_DEPTH
        assert sys.getrecursionlimit() >= vm.gas.recursion_limit_min
    finally:
        sys.setrecursionlimit(max(previous, vm.gas.recursion_limit_min))


# --- receipt messages are the VM's own text --------------------------------------------------
FIXED_MESSAGES = [
    ("return 1 // 0", "division by zero"),
    ("return {}[1]", "key not found"),
    ("return [][3]", "index out of range"),
    ('return "a" < 1', "wrong type of value"),
    ('return int("x")', "invalid value"),
    ('return b"\\xff".decode()', "invalid text encoding"),
    ("return len(range(10 ** 30))", "integer overflow"),
    ("return len(1)", "len() of an unsized value"),
]


@pytest.mark.parametrize(("code", "message"), FIXED_MESSAGES)
def test_failure_messages_are_fixed_vm_text(code: str, message: str) -> None:
    for engine in ("fast", "reference"):
        result = deploy(body(code), engine=engine).call("run")
        assert result.code is ErrorCode.RUNTIME_ERROR
        assert result.message == message


def test_a_syntax_error_names_its_position_with_fixed_text() -> None:
    result = vm.deploy(DictState(), "def f(:\n    pass\n", CONTRACT, CONTEXT, 1_000_000)
    assert result.code is ErrorCode.INVALID_CONTRACT
    assert result.message.startswith("syntax at line 1") and result.message.endswith(
        ": invalid syntax"
    )


def test_a_non_identifier_method_name_is_quoted_in_ascii() -> None:
    contract = deploy(body("return 1"))
    result = vm.execute(contract.state, CONTRACT, "\u00e9\ud800", {}, CONTEXT, 100_000)
    assert result.code is ErrorCode.NO_SUCH_METHOD
    assert result.message.isascii()


# --- nothing in a receipt can fail to encode -------------------------------------------------
def test_a_str_literal_with_a_lone_surrogate_is_rejected_at_deploy() -> None:
    for source in (body('revert("\\ud800")'), 'X = "a\\udfff"\n' + body("return X")):
        with pytest.raises(vm.ContractValidationError) as info:
            vm.compile_contract(source)
        assert info.value.rule == "surrogate"


def test_host_arguments_with_a_lone_surrogate_are_an_invalid_argument() -> None:
    contract = deploy("@export\ndef run(s: str):\n    revert(s)\n")
    result = vm.execute(contract.state, CONTRACT, "run", {"s": "\ud800"}, CONTEXT, 100_000)
    assert result.code is ErrorCode.INVALID_ARGUMENT
    result.message.encode("utf-8")


def test_event_names_must_be_ascii_identifiers() -> None:
    result = deploy(body('emit("\u00e9v\u00e9nement", a=1)')).call("run")
    assert result.code is ErrorCode.INVALID_VALUE


def test_every_receipt_field_encodes() -> None:
    contract = deploy(body('emit("E", s="\u00e9\U0001f600")\nrevert("\u00e9" * 300)'))
    result = contract.call("run")
    assert result.code is ErrorCode.REVERT and len(result.message) == 256
    result.message.encode("utf-8")
    result.canonical_bytes()


# --- a fault of the VM itself is a distinct exception ------------------------------------------
def test_an_unexpected_exception_inside_the_vm_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vm import engine
    from vm.runtime import Runtime

    contract = deploy(body("return [1] + [2]"))

    def broken_add(self: Runtime, a: Any, b: Any) -> Any:
        raise RuntimeError("an invariant of the VM broke")

    monkeypatch.setattr(Runtime, "add", broken_add)
    monkeypatch.setattr(engine, "_pool", [])
    with pytest.raises(VMInternalError):
        vm.execute(contract.state, CONTRACT, "run", {}, CONTEXT, 100_000)


@pytest.mark.parametrize("levels", [0, 1, 3, 8])
def test_the_validator_and_the_reference_count_the_same_python_frames(levels: int) -> None:
    import ast

    from vm.instrument import python_frames

    source = _nested_comprehension_recursion(levels) + (
        "def g(xs: list) -> list:\n"
        "    return [[y for y in [x]] for x in [z for z in xs]]\n"
    )
    contract = vm.compile_contract(source)
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            assert contract.info.functions[node.name].frames == python_frames(node)
    assert contract.info.functions["f"].frames == 1 + levels
