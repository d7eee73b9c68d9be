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
from vm.gas import bytes_per_gas, container_depth_max, container_weight, int_bits_max

bigint_ext_type = 1
_int64_min = -(2**63)
_uint64_max = 2**64 - 1


class BudgetExceeded(LimitExceeded):
    """More elements than the caller's budget (a size cap, or the gas left)."""


def _check_int(value: int) -> None:
    if value.bit_length() > int_bits_max:
        raise LimitExceeded("integer too large to encode")


_int_types = frozenset({int, bool})
_scalar_types = frozenset({int, bool, str, bytes, type(None)})
_text_types = frozenset({str, bytes})
_dict_key_int_bits_max = 60  # gas.dict_key_int_bits_max: see vm/runtime.py, _check_key


def count_elements(value: Any, budget_elements: int, allow_range: bool = False) -> int:
    """Weight of `value`: one per node plus `container_weight` per list, tuple or dict
    (containers count their elements, deeply, aliases as often as they are reached) plus
    one per `bytes_per_gas` bytes of each str and bytes; raises
    LimitExceeded once `budget_elements` is passed or containers nest deeper than
    `container_depth_max`. Also rejects non-canonical types (ranges too, unless
    `allow_range`: a contract can hold one, but not encode it). Iterative, so any value can
    be measured; the depth cap then keeps every recursive walk (CPython's own comparisons,
    msgpack) far from the interpreter's recursion limit, whose exact position would
    depend on the caller's stack and so differ between nodes.

    The weight prices the walks over a value (this one, CPython's comparisons, msgpack's
    packing), so it follows what they cost: a Python-level step per container, and none
    per element of a container whose elements are all scalars."""
    return _walk(value, budget_elements, allow_range)[0]


def _walk(value: Any, budget_elements: int, allow_range: bool) -> tuple[int, bool]:
    """count_elements, and whether `value` holds a dict (which needs the sorting encoder).
    The budget bounds the elements (one per node, one per `bytes_per_gas` bytes), which
    stay within the encoded size; the weight adds `container_weight` per container."""
    stack = [(value, 0)]
    seen = 0
    containers = 0
    has_dict = False
    while stack:
        item, depth = stack.pop()
        seen += 1
        kind = type(item)
        if kind is list or kind is tuple:
            if depth >= container_depth_max:
                raise LimitExceeded(f"containers nested deeper than {container_depth_max}")
            containers += 1
            seen += _weigh_sequence(item, depth, stack)
        elif kind is dict:
            if depth >= container_depth_max:
                raise LimitExceeded(f"containers nested deeper than {container_depth_max}")
            has_dict = True
            containers += 1
            seen += _weigh_keys(item)
            seen += _weigh_sequence(item.values(), depth, stack)
        elif kind is str or kind is bytes:
            # Weighted by size: comparing [s] * n against an equal, distinct string costs
            # n memcmp calls of len(s) bytes each, aliasing or not.
            seen += len(item) // bytes_per_gas
        elif kind is int:
            _check_int(item)
        elif kind is not bool and item is not None and not (allow_range and kind is range):
            raise InvalidValue(f"cannot encode a value of type {kind.__name__}")
        if seen > budget_elements:
            raise BudgetExceeded("value too large")
    return seen + containers * container_weight, has_dict


def _weigh_sequence(items: Any, depth: int, stack: list[tuple[Any, int]]) -> int:
    """Weight of the scalar elements of `items`; pushes the others onto `stack`."""
    if _int_types.issuperset(map(type, items)):
        if items and max(map(int.bit_length, items)) > int_bits_max:
            raise LimitExceeded("integer too large to encode")
        return len(items)
    if _text_types.issuperset(map(type, items)):
        return len(items) + sum(map(len, items)) // bytes_per_gas
    stack.extend([(element, depth + 1) for element in items])
    return 0


def _weigh_keys(item: dict[Any, Any]) -> int:
    weight = len(item)
    for key in item:
        kind = type(key)
        if kind is str or kind is bytes:
            weight += len(key) // bytes_per_gas
        elif kind is not int or key.bit_length() > _dict_key_int_bits_max:
            raise InvalidValue("dict keys must be str, bytes or int of at most 60 bits")
    return weight


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


def encode_int(value: int) -> bytes:
    """Canonical bytes of an int (checked against int_bits_max)."""
    _check_int(value)
    return _pack_int(value)


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
    return encode_weighed(value, budget_elements)[0]


def encode_weighed(value: Any, budget_elements: int) -> tuple[bytes, int]:
    """`encode`, and the weight of the value (count_elements, or the number of entries of
    a flat dict): what a caller charges for the walks the encoding took."""
    try:
        return _encode(value, budget_elements)
    except UnicodeEncodeError:
        raise InvalidValue("str is not valid Unicode (lone surrogate)") from None


def _encode(value: Any, budget_elements: int) -> tuple[bytes, int]:
    kind = type(value)
    # Fast paths for the scalars and flat dicts that make up most storage values and events.
    if kind is int:
        _check_int(value)
        return _pack_int(value), 1
    if kind in _flat_scalars:
        return _pack(value), 1
    if kind is dict and len(value) < budget_elements:
        flat = _encode_flat_dict(value)
        if flat is not None:
            return flat, 1 + len(value)
    weight, has_dict = _walk(value, budget_elements, False)
    if not has_dict:
        packed: bytes = msgpack.packb(value, use_bin_type=True, default=_default)
        return packed, weight
    return _encode_with_dicts(value), weight


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
            if _scalar_types.issuperset(map(type, item)):
                parts.append(packer.pack(item))  # no dict inside: one C-level pack
                return
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


def decode_int_fast(data: bytes) -> int | None:
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


def _dict_from_pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Builds a decoded map, checking its keys *before* they are hashed: a big int key
    could be built to collide with the others (see vm/runtime.py, _check_key), and msgpack
    would insert it into a dict in O(n) per key."""
    for key, _ in pairs:
        kind = type(key)
        if kind is int:
            if key.bit_length() > _dict_key_int_bits_max:
                raise InvalidValue("dict keys must be str, bytes or int of at most 60 bits")
        elif kind is not str and kind is not bytes:
            raise InvalidValue("dict keys must be str, bytes or int of at most 60 bits")
    return dict(pairs)


def decode(data: bytes) -> Any:
    """Inverse of `encode` (tuples come back as lists). Raises InvalidValue on bad bytes
    or on values `encode` would refuse (floats)."""
    return decode_weighed(data)[0]


def decode_weighed(data: bytes) -> tuple[Any, int]:
    """`decode`, and the weight of the value (count_elements): what a caller charges for
    the Python-level walks a decoded value takes."""
    if data:
        number = decode_int_fast(data)
        if number is not None:
            return number, 1
    try:
        value = msgpack.unpackb(
            data, raw=False, strict_map_key=False, ext_hook=_ext_hook, use_list=True,
            object_pairs_hook=_dict_from_pairs,
        )
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise InvalidValue("not canonical msgpack") from None
    if type(value) is int:
        return value, 1
    return value, count_elements(value, len(data) + 1)  # rejects floats and odd dict keys
