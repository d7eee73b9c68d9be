"""Canonical msgpack for values the VM stores, emits, returns and accepts as arguments.

Allowed values: None, bool, int (any size up to `gas.int_bits_max`), str, bytes, list,
tuple (decoded as list), dict with str/bytes/int keys. No floats, no sets. Canonical rules:
ints that fit in 64 bits use msgpack ints, larger ones use ext type 1 (signed big-endian
two's complement, minimal length); dict entries are sorted by their encoded key so equal
dicts give equal bytes whatever their insertion order. The walk is iterative and stops as
soon as `budget_elements` is exceeded, so an aliased structure ([x] * n where x is big)
cannot make the encoder do unbounded work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from vm.errors import InvalidValue, LimitExceeded
from vm.gas import bytes_per_gas, container_depth_max, int_bits_max

bigint_ext_type = 1
_int64_min = -(2**63)
_uint64_max = 2**64 - 1


class BudgetExceeded(LimitExceeded):
    """More elements than the caller's budget (a size cap, or the gas left)."""


def _check_int(value: int) -> None:
    if value.bit_length() > int_bits_max:
        raise LimitExceeded("integer too large to encode")


def count_elements(value: Any, budget_elements: int) -> int:
    """Weight of `value`: one per node (containers count their elements, deeply) plus one per
    `bytes_per_gas` bytes of each str and bytes; raises
    LimitExceeded once `budget_elements` is passed or containers nest deeper than
    `container_depth_max`. Also rejects non-canonical types. Iterative, so any value can be
    measured; the depth cap then keeps every recursive walk (CPython's own comparisons,
    msgpack) far from the interpreter's recursion limit, whose exact position would
    depend on the caller's stack and so differ between nodes."""
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > budget_elements:
            raise BudgetExceeded("value too large")
        kind = type(item)
        if kind is list or kind is tuple:
            if depth >= container_depth_max:
                raise LimitExceeded(f"containers nested deeper than {container_depth_max}")
            stack.extend([(element, depth + 1) for element in item])
        elif kind is dict:
            if depth >= container_depth_max:
                raise LimitExceeded(f"containers nested deeper than {container_depth_max}")
            for key in item:
                if type(key) not in (str, bytes, int):
                    raise InvalidValue("dict keys must be str, bytes or int")
            stack.extend([(element, depth + 1) for element in item.values()])
            seen += len(item)
        elif kind is str or kind is bytes:
            # Weighted by size: comparing [s] * n against an equal, distinct string costs
            # n memcmp calls of len(s) bytes each, aliasing or not.
            seen += len(item) // bytes_per_gas
        elif kind is int:
            _check_int(item)
        elif kind is not bool and item is not None:
            raise InvalidValue(f"cannot encode a value of type {kind.__name__}")
    return seen


def _default(item: Any) -> Any:
    if type(item) is int:
        _check_int(item)
        length = (item.bit_length() + 8) // 8
        return msgpack.ExtType(bigint_ext_type, item.to_bytes(length, "big", signed=True))
    raise InvalidValue(f"cannot encode a value of type {type(item).__name__}")


# One shared Packer for the hot paths. It is only ever given values that need no `default`
# callback (scalars, ExtType), so no Python code runs mid-pack and no other thread can
# interleave on its buffer; values that may need the callback get a Packer of their own.
_packer = msgpack.Packer(use_bin_type=True, autoreset=True)
_pack: Callable[[Any], bytes] = _packer.pack
# Canonical bytes of a bytes value (callers check the type).
encode_bytes: Callable[[Any], bytes] = _packer.pack
_flat_scalars = frozenset({str, bytes, bool, type(None)})


def _pack_int(value: int) -> bytes:
    if _int64_min <= value <= _uint64_max:
        return _pack(value)
    # The ext 8 format by hand (what packing `_default(value)` gives, without building an
    # ExtType): 0xc7, payload length, type 1, two's complement big-endian payload.
    _check_int(value)
    length = (value.bit_length() + 8) // 8
    header = bytes((0xC7, length, bigint_ext_type))
    return header + value.to_bytes(length, "big", signed=True)


def encode(value: Any, budget_elements: int) -> bytes:
    """Canonical bytes of `value`; raises InvalidValue/LimitExceeded, never a msgpack or
    codec error (a str holding a lone surrogate cannot be UTF-8: InvalidValue)."""
    try:
        return _encode(value, budget_elements)
    except UnicodeEncodeError:
        raise InvalidValue("str is not valid Unicode (lone surrogate)") from None


def _encode(value: Any, budget_elements: int) -> bytes:
    kind = type(value)
    # Fast paths for the scalars and flat dicts that make up most storage values and events.
    if kind is int:
        _check_int(value)
        return _pack_int(value)
    if kind in _flat_scalars:
        return _pack(value)
    if kind is dict and len(value) < budget_elements:
        flat = _encode_flat_dict(value)
        if flat is not None:
            return flat
    count_elements(value, budget_elements)
    if not _has_dict(value):
        packed: bytes = msgpack.packb(value, use_bin_type=True, default=_default)
        return packed
    return _encode_with_dicts(value)


_packed_keys: dict[str, bytes] = {}
_packed_keys_max = 4096


def _encode_flat_dict(value: dict[Any, Any]) -> bytes | None:
    """A dict of str keys and scalar values, entries sorted by encoded key; None if the
    dict is not flat."""
    entries = []
    packed_keys = _packed_keys
    for key, element in value.items():
        if type(key) is not str:
            return None
        kind = type(element)
        if kind is int:
            _check_int(element)
            packed_element = _pack_int(element)
        elif kind in _flat_scalars:
            packed_element = _pack(element)
        else:
            return None
        packed_key = packed_keys.get(key)
        if packed_key is None:
            packed_key = _pack(key)
            if len(packed_keys) < _packed_keys_max:
                packed_keys[key] = packed_key  # field names repeat: events, arguments
        entries.append((packed_key, packed_element))
    entries.sort()
    parts = [_packer.pack_map_header(len(entries))]
    for key_bytes, element_bytes in entries:
        parts.append(key_bytes)
        parts.append(element_bytes)
    return b"".join(parts)


def _has_dict(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            return True
        if type(item) is list or type(item) is tuple:
            stack.extend(item)
    return False


def _encode_with_dicts(value: Any) -> bytes:
    """Encodes dicts with entries sorted by encoded key (recursive; depth is bounded by
    the element budget already checked)."""
    packer = msgpack.Packer(use_bin_type=True, default=_default)
    parts: list[bytes] = []

    def walk(item: Any) -> None:
        kind = type(item)
        if kind is dict:
            entries = sorted(
                ((packer.pack(key), val) for key, val in item.items()),
                key=lambda entry: entry[0],
            )
            parts.append(packer.pack_map_header(len(entries)))
            for key_bytes, val in entries:
                parts.append(key_bytes)
                walk(val)
        elif kind is list or kind is tuple:
            parts.append(packer.pack_array_header(len(item)))
            for element in item:
                walk(element)
        else:
            parts.append(packer.pack(item))

    walk(value)
    return b"".join(parts)


def _ext_hook(code: int, data: bytes) -> Any:
    if code != bigint_ext_type:
        raise InvalidValue("unknown msgpack extension")
    value = int.from_bytes(data, "big", signed=True)
    _check_int(value)
    return value


_uint_headers = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_ext8_header = 0xC7


def _decode_int_fast(data: bytes) -> int | None:
    """Integers are most stored values (balances, counters): decode them without the
    general unpacker. None when `data` is not a canonical non-negative or big int."""
    first = data[0]
    size = len(data)
    if first < 0x80:
        return first if size == 1 else None
    width = _uint_headers.get(first)
    if width is not None:
        return int.from_bytes(data[1:], "big") if size == 1 + width else None
    if first == _ext8_header and size > 3 and data[2] == bigint_ext_type and data[1] == size - 3:
        value = int.from_bytes(data[3:], "big", signed=True)
        _check_int(value)
        return value
    return None


def decode(data: bytes) -> Any:
    """Inverse of `encode` (tuples come back as lists). Raises InvalidValue on bad bytes
    or on values `encode` would refuse (floats)."""
    if data:
        number = _decode_int_fast(data)
        if number is not None:
            return number
    try:
        value = msgpack.unpackb(
            data, raw=False, strict_map_key=False, ext_hook=_ext_hook, use_list=True
        )
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise InvalidValue("not canonical msgpack") from None
    if type(value) is not int:
        count_elements(value, len(data) + 1)  # rejects floats and odd dict keys
    return value
