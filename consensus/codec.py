"""Canonical msgpack encoding for everything that is hashed, signed, stored or sent.

Rules (the invariants this module owns):

- Structs are msgpack arrays of their fields in declaration order; there are no maps on
  the wire, so no key-order question ever arises.
- Allowed scalar types: ``int`` (64-bit signed range plus ``uint64``), ``bytes`` (bin),
  ``str`` (UTF-8), ``bool`` and ``None``. Floats are refused when encoding and decoding.
- Decoding is strict: the input must be exactly one msgpack object of at most
  ``max_bytes`` bytes, and re-encoding the decoded value must give back the same bytes.
  That last check rejects every non-minimal encoding (a small int sent as int64, a
  str8 where a fixstr fits …), so one value has exactly one encoding and a hash of the
  bytes is a hash of the value.
- Typed decoding (``decode_struct``) walks the dataclass annotations and rejects wrong
  types, wrong arities and oversize sequences with a :class:`DecodeError` that names the
  path of the offending field.

One hash function everywhere: SHA-256 (``digest``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from typing import Any, TypeVar

import msgpack

from consensus.errors import DecodeError

message_bytes_max_default = 16 * 1024 * 1024
sequence_items_max = 100_000
# The deepest real value (a NEW-VIEW's nested certificates and blocks) is about 10 levels.
nesting_depth_max = 32
int_min = -(2**63)
int_max = 2**64 - 1

T = TypeVar("T")


def digest(data: bytes) -> bytes:
    """The project's one hash function: SHA-256."""
    return hashlib.sha256(data).digest()


def _check_plain(value: Any, path: str, depth: int = 0) -> None:
    """Refuse anything that is not a canonical plain value (recursively, depth-capped).

    Exact type checks for sequences on purpose: ``msgpack.ExtType`` is a tuple subclass
    and must never pass for a struct. (A bool was handled before the int check.)
    """
    kind = type(value)
    if value is None or kind in (bool, bytes, str):
        return
    if isinstance(value, int):  # an IntEnum encodes as its int
        if not int_min <= value <= int_max:
            raise ValueError(f"{path}: integer out of the 64-bit range")
        return
    if kind in (list, tuple):
        if depth >= nesting_depth_max:
            raise ValueError(f"{path}: nested deeper than {nesting_depth_max} levels")
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]", depth + 1)
        return
    raise ValueError(f"{path}: type {kind.__name__} cannot be encoded canonically")


def pack(value: Any) -> bytes:
    """Encode a plain value (ints, bytes, str, bool, None, lists/tuples of them)."""
    _check_plain(value, "value")
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes, max_bytes: int = message_bytes_max_default) -> Any:
    """Decode canonical msgpack; raise DecodeError on anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("input is not bytes")
    if len(data) > max_bytes:
        raise DecodeError(f"input of {len(data)} bytes exceeds the limit of {max_bytes}")
    if len(data) == 0:
        raise DecodeError("input is empty")
    try:
        value = msgpack.unpackb(
            bytes(data),
            raw=False,
            use_list=False,
            strict_map_key=True,
            max_array_len=sequence_items_max,
            max_map_len=0,
            max_ext_len=0,
        )
    except msgpack.ExtraData as error:
        raise DecodeError("trailing bytes after the value") from error
    except (ValueError, TypeError, msgpack.UnpackException, UnicodeDecodeError) as error:
        raise DecodeError(f"malformed msgpack: {error}") from error
    try:
        again = pack(value)
    except ValueError as error:
        raise DecodeError(f"non-canonical value: {error}") from error
    if again != bytes(data):
        raise DecodeError("non-canonical encoding")
    return value


# -- typed structs -------------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """Turn a (nested) frozen dataclass into the tuple form that goes on the wire."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(to_plain(getattr(value, field.name)) for field in dataclasses.fields(value))
    if isinstance(value, (list, tuple)):
        return tuple(to_plain(item) for item in value)
    return value


def encode(value: Any) -> bytes:
    """Canonical bytes of a dataclass value (or a plain value)."""
    return pack(to_plain(value))


_hints_cache: dict[type, list[tuple[str, Any]]] = {}


def _field_types(cls: type) -> list[tuple[str, Any]]:
    cached = _hints_cache.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = [(field.name, hints[field.name]) for field in dataclasses.fields(cls)]
        _hints_cache[cls] = cached
    return cached


def from_plain(cls: Any, value: Any, path: str = "") -> Any:
    """Build a value of type ``cls`` from its plain form, checking every type."""
    path = path or getattr(cls, "__name__", str(cls))
    origin = typing.get_origin(cls)
    if cls is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(cls)
        if value is None and type(None) in options:
            return None
        non_none = [option for option in options if option is not type(None)]
        if len(non_none) != 1:
            raise TypeError(f"{path}: unsupported union {cls}")
        return from_plain(non_none[0], value, path)
    if origin is tuple:
        args = typing.get_args(cls)
        if not isinstance(value, tuple):
            raise DecodeError(f"{path}: expected a sequence, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
        if len(args) != len(value):
            raise DecodeError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(from_plain(arg, item, f"{path}[{i}]") for i, (arg, item) in
                     enumerate(zip(args, value)))
    if dataclasses.is_dataclass(cls):
        fields = _field_types(cls)
        if not isinstance(value, tuple):
            raise DecodeError(f"{path}: expected a struct, got {type(value).__name__}")
        if len(value) != len(fields):
            raise DecodeError(f"{path}: expected {len(fields)} fields, got {len(value)}")
        kwargs = {
            name: from_plain(hint, item, f"{path}.{name}")
            for (name, hint), item in zip(fields, value)
        }
        try:
            return cls(**kwargs)
        except (ValueError, TypeError) as error:
            raise DecodeError(f"{path}: {error}") from error
    supertype = getattr(cls, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return from_plain(supertype, value, path)
    if cls is bool:
        if not isinstance(value, bool):
            raise DecodeError(f"{path}: expected bool, got {type(value).__name__}")
        return value
    if cls is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"{path}: expected int, got {type(value).__name__}")
        return value
    if cls in (bytes, str):
        if not isinstance(value, cls):
            raise DecodeError(f"{path}: expected {cls.__name__}, got {type(value).__name__}")
        return value
    if isinstance(cls, type) and issubclass(cls, int):  # IntEnum
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"{path}: expected int, got {type(value).__name__}")
        try:
            return cls(value)
        except ValueError as error:
            raise DecodeError(f"{path}: {error}") from error
    raise TypeError(f"{path}: unsupported field type {cls!r}")


def decode_struct(cls: type[T], data: bytes, max_bytes: int = message_bytes_max_default) -> T:
    """Decode canonical bytes into a value of dataclass ``cls``; DecodeError on bad input."""
    return typing.cast(T, from_plain(cls, unpack(data, max_bytes)))
