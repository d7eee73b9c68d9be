"""Metered implementations of the methods contracts may call, one table per type.

Each entry takes (runtime, receiver, *args) and checks the size of its result before
building it. The keys must equal `vm.names.methods_by_type` (a test checks it).
Dict views are returned as lists (copies), so no live view object ever reaches a contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vm import gas
from vm.errors import ContractRuntimeError, LimitExceeded

if TYPE_CHECKING:
    from vm.runtime import Runtime

Method = Callable[..., Any]


def _text(runtime: Runtime, length: int) -> None:
    if length > gas.str_bytes_max:
        raise LimitExceeded(f"str/bytes exceeds {gas.str_bytes_max}")
    runtime.charge(length // gas.bytes_per_gas)


def _elements(runtime: Runtime, length: int) -> None:
    if length > gas.container_elements_max:
        raise LimitExceeded(f"container exceeds {gas.container_elements_max} elements")
    runtime.charge(length * gas.element_gas)


def _need_str(value: Any) -> None:
    if type(value) is not str:
        raise ContractRuntimeError("expected str")


def _width(runtime: Runtime, receiver: Any, width: Any) -> int:
    if type(width) is not int:
        raise ContractRuntimeError("width must be an integer")
    _text(runtime, max(width, len(receiver)))
    return width


# --- str ---------------------------------------------------------------------------------
def search_gas(haystack_length: int, needle_length: int) -> int:
    """Gas of searching a needle in a haystack (find, count, replace, split, `in`).

    CPython's search (Objects/stringlib/fastsearch.h) is linear for long needles (two-way)
    but O(n * m) for needles of up to ~100 characters in haystacks of up to 30,000, and for
    any needle in haystacks under 2,500, whatever their content: charged as the worst
    case, one gas per `search_compares_per_gas` character comparisons, on top of the
    linear part."""
    window = needle_length
    if haystack_length >= gas.search_short_haystack_max:
        window = min(needle_length, gas.search_needle_window)
    return (
        (haystack_length + needle_length) // gas.bytes_per_gas
        + haystack_length * window // gas.search_compares_per_gas
    )


def _str_scan(name: str) -> Method:
    def scan(runtime: Runtime, receiver: str, *args: Any) -> Any:
        for argument in args:
            if type(argument) not in (str, bytes, int, type(None)):
                raise ContractRuntimeError("bad argument")
        needle = args[0] if args and type(args[0]) in (str, bytes) else ""
        _text(runtime, len(receiver))
        runtime.charge(search_gas(len(receiver), len(needle)))
        return getattr(receiver, name)(*args)

    return scan


def _str_copy(name: str) -> Method:
    def copy(runtime: Runtime, receiver: Any, *args: Any) -> Any:
        _text(runtime, len(receiver) * 3)  # case mapping may grow a str up to 3x
        result = getattr(receiver, name)(*args)
        _text(runtime, len(result))
        return result

    return copy


def _str_strip(name: str) -> Method:
    def strip(runtime: Runtime, receiver: str, chars: Any = None) -> str:
        if chars is not None and type(chars) is not str:
            raise ContractRuntimeError("strip takes a str of characters")
        _text(runtime, len(receiver))
        if chars is not None:
            # Each character looked at is searched for in `chars`: O(len * len(chars)).
            runtime.charge(len(receiver) * len(chars) // gas.strip_compares_per_gas)
        result: str = getattr(receiver, name)(chars)
        return result

    return strip


def _split(runtime: Runtime, receiver: str, sep: Any = None, maxsplit: int = -1) -> list[Any]:
    if sep is not None and type(sep) is not str:
        raise ContractRuntimeError("split takes a str separator")
    _text(runtime, len(receiver))
    runtime.charge(search_gas(len(receiver), len(sep) if sep is not None else 1))
    result = receiver.split(sep, maxsplit)
    _elements(runtime, len(result))
    return result


def _replace(runtime: Runtime, receiver: Any, old: Any, new: Any, count: int = -1) -> Any:
    if type(old) is not type(receiver) or type(new) is not type(receiver):
        raise ContractRuntimeError("replace arguments must match the receiver type")
    if type(count) is not int:
        raise ContractRuntimeError("count must be an integer")
    _text(runtime, len(receiver))
    runtime.charge(search_gas(len(receiver), len(old)))
    occurrences = receiver.count(old) if old else len(receiver) + 1
    if count >= 0:
        occurrences = min(occurrences, count)
    _text(runtime, len(receiver) + occurrences * (len(new) - len(old)))
    return receiver.replace(old, new, count)


def _join(runtime: Runtime, receiver: Any, items: Any) -> Any:
    if type(items) is not list and type(items) is not tuple:
        raise ContractRuntimeError("join takes a list or tuple")
    _elements(runtime, len(items))
    total = len(receiver) * max(len(items) - 1, 0)
    for item in items:
        if type(item) is not type(receiver):
            raise ContractRuntimeError("join items must match the separator type")
        total += len(item)
        if total > gas.str_bytes_max:
            raise LimitExceeded(f"str/bytes exceeds {gas.str_bytes_max}")
    _text(runtime, total)
    return receiver.join(items)


def _encode(runtime: Runtime, receiver: str) -> bytes:
    _text(runtime, len(receiver) * 4)
    return receiver.encode("utf-8")


def _decode(runtime: Runtime, receiver: bytes) -> str:
    _text(runtime, len(receiver))
    return receiver.decode("utf-8")


def _pad(name: str) -> Method:
    def pad(runtime: Runtime, receiver: str, width: Any, *fill: Any) -> str:
        width = _width(runtime, receiver, width)
        return getattr(receiver, name)(width, *fill)  # type: ignore[no-any-return]

    return pad


def _hex(runtime: Runtime, receiver: bytes) -> str:
    _text(runtime, len(receiver) * 2)
    return receiver.hex()


# --- list --------------------------------------------------------------------------------
def _grow_one(runtime: Runtime, length: int) -> None:
    if length + 1 > gas.container_elements_max:
        raise LimitExceeded(f"container exceeds {gas.container_elements_max} elements")
    runtime.charge(gas.element_gas)


def _append(runtime: Runtime, receiver: list[Any], item: Any) -> None:
    _grow_one(runtime, len(receiver))
    receiver.append(item)


def _insert(runtime: Runtime, receiver: list[Any], index: Any, item: Any) -> None:
    if type(index) is not int:
        raise ContractRuntimeError("index must be an integer")
    _elements(runtime, len(receiver) + 1)
    receiver.insert(index, item)


def _extend(runtime: Runtime, receiver: list[Any], items: Any) -> None:
    if type(items) not in (list, tuple):
        raise ContractRuntimeError("extend takes a list or tuple")
    _elements(runtime, len(receiver) + len(items))
    receiver.extend(items)


def _pop(runtime: Runtime, receiver: Any, *args: Any) -> Any:
    if type(receiver) is list:
        if args and type(args[0]) is not int:
            raise ContractRuntimeError("index must be an integer")
        _elements(runtime, len(receiver) // 8)
        return receiver.pop(*args)
    if args:
        runtime.key(args[0])
    return receiver.pop(*args)


def _deep_search(name: str) -> Method:
    def search(runtime: Runtime, receiver: Any, item: Any) -> Any:
        runtime._deep_charge(receiver)
        runtime._deep_charge(item)
        return getattr(receiver, name)(item)

    return search


def _sort(runtime: Runtime, receiver: list[Any], reverse: Any = False) -> None:
    runtime.sort_charge(receiver)
    receiver.sort(reverse=bool(reverse))


def _linear(name: str) -> Method:
    def linear(runtime: Runtime, receiver: Any) -> Any:
        _elements(runtime, len(receiver))
        result = getattr(receiver, name)()
        return list(result) if name in ("keys", "values", "items") else result

    return linear


# --- dict --------------------------------------------------------------------------------
def _dict_get(runtime: Runtime, receiver: dict[Any, Any], key: Any, default: Any = None) -> Any:
    runtime.key(key)
    return receiver.get(key, default)


def _setdefault(runtime: Runtime, receiver: dict[Any, Any], key: Any, default: Any = None) -> Any:
    runtime.key(key)
    if key not in receiver:
        _grow_one(runtime, len(receiver))
    return receiver.setdefault(key, default)


def _update(runtime: Runtime, receiver: dict[Any, Any], other: Any) -> None:
    if type(other) is not dict:
        raise ContractRuntimeError("update takes a dict")
    _elements(runtime, len(receiver) + len(other))
    receiver.update(other)


# --- int ---------------------------------------------------------------------------------
def _bit_length(runtime: Runtime, receiver: int) -> int:
    return receiver.bit_length()


def _to_bytes(
    runtime: Runtime, receiver: int, length: Any = 1, byteorder: Any = "big", signed: Any = False
) -> bytes:
    if type(length) is not int or not 0 <= length <= gas.int_bits_max // 8 + 1:
        raise LimitExceeded("to_bytes length out of range")
    if byteorder not in ("big", "little"):
        raise ContractRuntimeError("byteorder must be 'big' or 'little'")
    return receiver.to_bytes(length, byteorder, signed=bool(signed))


_str_methods: dict[str, Method] = {
    "lower": _str_copy("lower"), "upper": _str_copy("upper"), "strip": _str_strip("strip"),
    "lstrip": _str_strip("lstrip"), "rstrip": _str_strip("rstrip"), "split": _split,
    "startswith": _str_scan("startswith"), "endswith": _str_scan("endswith"),
    "find": _str_scan("find"), "count": _str_scan("count"), "replace": _replace,
    "join": _join, "encode": _encode, "isdigit": _str_scan("isdigit"),
    "isalpha": _str_scan("isalpha"), "isalnum": _str_scan("isalnum"), "zfill": _pad("zfill"),
    "ljust": _pad("ljust"), "rjust": _pad("rjust"),
}  # fmt: skip

method_tables: dict[type, dict[str, Method]] = {
    str: _str_methods,
    bytes: {
        "hex": _hex, "startswith": _str_scan("startswith"), "endswith": _str_scan("endswith"),
        "find": _str_scan("find"), "count": _str_scan("count"), "decode": _decode,
        "join": _join,
    },
    list: {
        "append": _append, "pop": _pop, "insert": _insert, "extend": _extend,
        "index": _deep_search("index"), "count": _deep_search("count"),
        "reverse": _linear("reverse"), "sort": _sort, "copy": _linear("copy"),
        "clear": _linear("clear"), "remove": _deep_search("remove"),
    },
    dict: {
        "get": _dict_get, "keys": _linear("keys"), "values": _linear("values"),
        "items": _linear("items"), "pop": _pop, "setdefault": _setdefault,
        "copy": _linear("copy"), "clear": _linear("clear"), "update": _update,
    },
    tuple: {"count": _deep_search("count"), "index": _deep_search("index")},
    int: {"bit_length": _bit_length, "to_bytes": _to_bytes},
}  # fmt: skip
