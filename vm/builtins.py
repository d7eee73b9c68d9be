"""Metered builtins and host functions bound into every contract frame.

Builtins mirror Python's but only accept sized inputs (list, tuple, str, bytes, dict,
range), check the size of what they build first, and return lists where Python returns
iterators (enumerate, zip, reversed), so nothing lazy and unmetered reaches a contract.
`str()` accepts only int, str and bool: the repr of anything else could carry memory
addresses, which differ between nodes.

Host functions:

| name                              | what                                               |
|-----------------------------------|----------------------------------------------------|
| `require(cond, message="")`       | revert with message unless cond                    |
| `revert(message)`                 | revert (ErrorCode.REVERT)                          |
| `emit(name, **fields)`            | append an event (not from views)                   |
| `call(address, method, **args)`   | call another contract; its failure fails the caller |
| `try_call(address, method, **args)` | same, but returns `[ok, result_or_error_code]`; the callee's writes and events are rolled back on failure; out of gas is never caught |
| `sha256(data)`                    | digest of bytes                                    |
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vm import gas
from vm.errors import ContractRuntimeError, InvalidValue, LimitExceeded, Revert

if TYPE_CHECKING:
    from vm.runtime import Runtime

_sized = (list, tuple, str, bytes, dict, range)


def _length(runtime: Runtime, value: Any) -> int:
    if type(value) not in _sized:
        raise ContractRuntimeError(f"expected a sized container, got {type(value).__name__}")
    length = len(value)
    if length > gas.container_elements_max and type(value) is not range:
        raise LimitExceeded("container too large")
    return length


def _materialise(runtime: Runtime, value: Any) -> int:
    """Charges for copying `value` into a new container and returns its length."""
    length = _length(runtime, value)
    if length > gas.container_elements_max:
        raise LimitExceeded(f"container exceeds {gas.container_elements_max} elements")
    runtime.charge(gas.builtin_call_gas + length * gas.element_gas)
    return length


def make_builtins(runtime: Runtime) -> dict[str, Callable[..., Any]]:
    charge = runtime.charge

    def len_(value: Any) -> int:
        charge(gas.builtin_call_gas)
        if type(value) not in _sized:
            raise ContractRuntimeError("len() of an unsized value")
        return len(value)

    def range_(*bounds: Any) -> range:
        charge(gas.builtin_call_gas)
        for bound in bounds:
            if type(bound) is not int:
                raise ContractRuntimeError("range bounds must be integers")
        return range(*bounds)

    def list_(value: Any = ()) -> list[Any]:
        _materialise(runtime, value)
        return list(value)

    def tuple_(value: Any = ()) -> tuple[Any, ...]:
        _materialise(runtime, value)
        return tuple(value)

    def dict_(value: Any = None) -> dict[Any, Any]:
        if value is None:
            charge(gas.builtin_call_gas)
            return {}
        _materialise(runtime, value)
        if type(value) is dict:
            return dict(value)
        result: dict[Any, Any] = {}
        for pair in value:
            if type(pair) not in (list, tuple) or len(pair) != 2:
                raise ContractRuntimeError("dict() takes pairs")
            result[runtime.key(pair[0])] = pair[1]
        return result

    def bytes_(value: Any = b"") -> bytes:
        if type(value) is bytes:
            charge(gas.builtin_call_gas + len(value) // gas.bytes_per_gas)
            return value
        if type(value) in (list, tuple):
            _materialise(runtime, value)
            return bytes(value)
        raise ContractRuntimeError("bytes() takes bytes or a list of ints; use str.encode()")

    def str_(value: Any = "") -> str:
        kind = type(value)
        if kind is str:
            charge(gas.builtin_call_gas)
            text: str = value
            return text
        if kind is bool:
            charge(gas.builtin_call_gas)
            return "True" if value else "False"
        if kind is int:
            runtime.add(value, 0)  # charges by size and enforces int_bits_max
            charge(gas.builtin_call_gas + value.bit_length() // 3)
            return str(value)
        raise ContractRuntimeError("str() takes int, bool or str")

    def int_(value: Any = 0, base: Any = 10) -> int:
        charge(gas.builtin_call_gas)
        kind = type(value)
        if kind is int or kind is bool:
            return int(value)
        if kind is not str or type(base) is not int:
            raise ContractRuntimeError("int() takes an int or a str")
        if len(value) > gas.int_str_digits_max:
            raise LimitExceeded("too many digits")
        charge(len(value))
        result = int(value, base)
        runtime.add(result, 0)
        return result

    def bool_(value: Any = False) -> bool:
        charge(gas.builtin_call_gas)
        if type(value) not in (*_sized, int, bool, type(None)):
            raise ContractRuntimeError("bool() of an unsupported value")
        return bool(value)

    def abs_(value: Any) -> int:
        charge(gas.builtin_call_gas)
        if type(value) is not int and type(value) is not bool:
            raise ContractRuntimeError("abs() takes an integer")
        return abs(value)

    def enumerate_(value: Any, start: Any = 0) -> list[tuple[int, Any]]:
        _materialise(runtime, value)
        if type(start) is not int:
            raise ContractRuntimeError("start must be an integer")
        return list(enumerate(value, start))

    def zip_(*values: Any) -> list[tuple[Any, ...]]:
        for value in values:
            _materialise(runtime, value)
        return list(zip(*values))

    def reversed_(value: Any) -> list[Any]:
        if type(value) is dict:
            raise ContractRuntimeError("reversed() of a dict")
        _materialise(runtime, value)
        return list(reversed(value))

    def any_(value: Any) -> bool:
        _materialise(runtime, value)
        return any(value)

    def all_(value: Any) -> bool:
        _materialise(runtime, value)
        return all(value)

    def sum_(value: Any, start: Any = 0) -> int:
        _materialise(runtime, value)
        total = runtime.add(start, 0)
        for element in value:
            total = runtime.add(total, element)  # type and size checked per element
        return total  # type: ignore[no-any-return]

    def extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
        def choose(*values: Any) -> Any:
            items = values[0] if len(values) == 1 else values
            _materialise(runtime, items)
            runtime._deep_charge(items)
            return pick(items)

        return choose

    def sorted_(value: Any, reverse: Any = False) -> list[Any]:
        _materialise(runtime, value)
        runtime.sort_charge(value)
        return sorted(value, reverse=bool(reverse))

    return {
        "len": len_, "range": range_, "list": list_, "tuple": tuple_, "dict": dict_,
        "bytes": bytes_, "str": str_, "int": int_, "bool": bool_, "abs": abs_,
        "enumerate": enumerate_, "zip": zip_, "reversed": reversed_, "any": any_,
        "all": all_, "sum": sum_, "min": extreme(min), "max": extreme(max),
        "sorted": sorted_,
    }  # fmt: skip


def make_host_functions(runtime: Runtime) -> dict[str, Callable[..., Any]]:
    charge = runtime.charge

    def require(condition: Any, message: Any = "") -> None:
        charge(gas.builtin_call_gas)
        if not condition:
            raise Revert(_message(message))

    def revert(message: Any = "") -> None:
        charge(gas.builtin_call_gas)
        raise Revert(_message(message))

    def emit(name: Any, /, **fields: Any) -> None:
        charge(gas.builtin_call_gas)
        runtime.emit_event(name, fields)

    def call(address: Any, method: Any, /, **args: Any) -> Any:
        return runtime.call_contract(address, method, args, catch=False)

    def try_call(address: Any, method: Any, /, **args: Any) -> Any:
        return runtime.call_contract(address, method, args, catch=True)

    def sha256(data: Any) -> bytes:
        if type(data) is not bytes:
            raise ContractRuntimeError("sha256 takes bytes")
        charge(gas.builtin_call_gas + len(data) // gas.bytes_per_gas)
        return hashlib.sha256(data).digest()

    return {
        "require": require, "revert": revert, "emit": emit, "call": call,
        "try_call": try_call, "sha256": sha256,
    }  # fmt: skip


def _message(message: Any) -> str:
    if type(message) is not str:
        raise InvalidValue("revert message must be a str")
    text = message[:256]
    try:
        text.encode("utf-8")  # the message goes into the receipt: it must be encodable
    except UnicodeEncodeError:
        raise InvalidValue("revert message is not valid Unicode") from None
    return text
