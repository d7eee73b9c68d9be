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


def pack_trusted(value: Any) -> bytes:
    """``pack`` without the walk that refuses non-plain values, for values built by our
    own code from plain fields on a hot path (a receipt per tx). The caller owns the
    guarantee and a test that the bytes equal ``encode``'s; a float or a dict here would
    be encoded, not refused."""
    return _pack_plain(value)  # type: ignore[no-any-return]


def unpack(data: bytes, max_bytes: int = message_bytes_max_default, *,
           typed: bool = False) -> Any:
    """Decode canonical msgpack; raise DecodeError on anything else.

    ``typed``: the caller checks every value's exact type next (``from_plain``), so the
    walk that refuses non-plain values is skipped; the canonical re-encoding check stays.
    """
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
        if typed:
            again = _pack_plain(value)
        else:
            again = pack(value)
    except (ValueError, TypeError, OverflowError) as error:
        raise DecodeError(f"non-canonical value: {error}") from error
    if again != bytes(data):
        raise DecodeError("non-canonical encoding")
    return value


# -- typed structs -------------------------------------------------------------------------
#
# Encoders and decoders are compiled once per type (from the dataclass annotations) and
# cached: the hot path (a PRE-PREPARE of thousands of transactions) then costs a few
# function calls per field instead of re-reading type hints per value. A dataclass that
# declares an ``_encoded`` slot keeps its canonical bytes once computed (transactions), so
# a block is encoded by joining the cached bytes of its transactions. The bytes equal
# ``pack(to_plain(value))`` exactly: a msgpack array header followed by the encodings of
# its items.


def to_plain(value: Any) -> Any:
    """Turn a (nested) frozen dataclass into the tuple form that goes on the wire."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(to_plain(getattr(value, field.name)) for field in dataclasses.fields(value))
    if isinstance(value, (list, tuple)):
        return tuple(to_plain(item) for item in value)
    return value


def array_header(length: int) -> bytes:
    """The msgpack header of an array of ``length`` items."""
    if length < 16:
        return bytes((0x90 | length,))
    if length < 0x10000:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


def _encode_scalar(value: Any) -> bytes:
    kind = type(value)
    if kind is bytes or kind is str or kind is bool or value is None or (
            kind is int and int_min <= value <= int_max):
        return _pack_plain(value)  # type: ignore[no-any-return]
    _check_plain(value, "value")  # raises with the reason, or an IntEnum passes
    return _pack_plain(int(value))  # type: ignore[no-any-return]


# One Packer for every plain value (scalars, and the canonical re-encoding check in
# ``unpack``): msgpack.packb builds a new Packer per call, five times the cost of a call
# to an existing one. Sharing it across threads is safe: Packer.pack runs under the GIL
# from start to end for plain values (no callbacks into Python, no nogil section), and it
# resets its buffer before it returns. It packs lists and tuples with the same minimal
# array headers as ``array_header``, so its bytes are the canonical ones.
_pack_plain = msgpack.Packer(use_bin_type=True).pack


_encoders: dict[type, Any] = {}


def _encoder(kind: type) -> Any:
    encoder = _encoders.get(kind)
    if encoder is None:
        encoder = _encoders[kind] = _build_encoder(kind)
    return encoder


def _encode_any(value: Any) -> bytes:
    return _encoder(type(value))(value)  # type: ignore[no-any-return]


def _encode_sequence(value: Any) -> bytes:
    return array_header(len(value)) + b"".join([_encode_any(item) for item in value])


def _build_encoder(kind: type) -> Any:
    if kind in (list, tuple):
        return _encode_sequence
    if not dataclasses.is_dataclass(kind):
        return _encode_scalar
    names = [field.name for field in dataclasses.fields(kind)]
    header = array_header(len(names))

    def encode_struct(value: Any) -> bytes:
        return header + b"".join([_encode_any(getattr(value, name)) for name in names])

    if "_encoded" not in getattr(kind, "__slots__", ()):
        return encode_struct

    def encode_cached(value: Any) -> bytes:
        try:
            return value._encoded  # type: ignore[no-any-return]
        except AttributeError:
            data = encode_struct(value)
            object.__setattr__(value, "_encoded", data)
            return data

    return encode_cached


def encode(value: Any) -> bytes:
    """Canonical bytes of a dataclass value (or a plain value)."""
    return _encode_any(value)


_unsigned_names: dict[type, tuple[bytes, list[str]]] = {}


def encode_without_last_field(value: Any) -> bytes:
    """Canonical bytes of a dataclass's fields but the last (what a signature covers)."""
    cached = _unsigned_names.get(type(value))
    if cached is None:
        names = [field.name for field in dataclasses.fields(value)][:-1]
        cached = _unsigned_names[type(value)] = (array_header(len(names)), names)
    header, names = cached
    return header + b"".join([_encode_any(getattr(value, name)) for name in names])


_hints_cache: dict[type, list[tuple[str, Any]]] = {}


def _field_types(cls: type) -> list[tuple[str, Any]]:
    cached = _hints_cache.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = [(field.name, hints[field.name]) for field in dataclasses.fields(cls)]
        _hints_cache[cls] = cached
    return cached


_decoders: dict[Any, Any] = {}


def _decoder(cls: Any) -> Any:
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = _build_decoder(cls)
    return decoder


def _type_error(expected: str, value: Any) -> DecodeError:
    return DecodeError(f"expected {expected}, got {type(value).__name__}")


def _build_decoder(cls: Any) -> Any:  # noqa: C901 - one branch per kind of type
    origin = typing.get_origin(cls)
    if cls is Any:
        return lambda value: value
    if origin in (typing.Union, types.UnionType):
        non_none = [option for option in typing.get_args(cls) if option is not type(None)]
        if len(non_none) != 1 or type(None) not in typing.get_args(cls):
            raise TypeError(f"unsupported union {cls}")
        inner = _decoder(non_none[0])
        return lambda value: None if value is None else inner(value)
    if origin is tuple:
        return _tuple_decoder(typing.get_args(cls))
    if dataclasses.is_dataclass(cls):
        return _struct_decoder(cls)
    supertype = getattr(cls, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return _decoder(supertype)
    if cls in (bool, int, bytes, str):
        name = cls.__name__

        def scalar(value: Any) -> Any:
            if type(value) is not cls:  # exact: a bool is no int here, an ExtType no tuple
                raise _type_error(name, value)
            return value

        return scalar
    if isinstance(cls, type) and issubclass(cls, int):  # IntEnum

        def enum_value(value: Any) -> Any:
            if type(value) is not int:
                raise _type_error("int", value)
            try:
                return cls(value)
            except ValueError as error:
                raise DecodeError(str(error)) from error

        return enum_value
    raise TypeError(f"unsupported field type {cls!r}")


def _tuple_decoder(args: tuple[Any, ...]) -> Any:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _decoder(args[0])

        def sequence(value: Any) -> Any:
            if type(value) is not tuple:
                raise _type_error("a sequence", value)
            index = 0
            try:
                result = []
                for index, element in enumerate(value):
                    result.append(item(element))
                return tuple(result)
            except DecodeError as error:
                raise DecodeError(f"[{index}]: {error}") from None

        return sequence
    items = [_decoder(arg) for arg in args]

    def fixed(value: Any) -> Any:
        if type(value) is not tuple:
            raise _type_error("a sequence", value)
        if len(value) != len(items):
            raise DecodeError(f"expected {len(items)} items, got {len(value)}")
        return tuple(decode(element) for decode, element in zip(items, value))

    return fixed


def _struct_decoder(cls: Any) -> Any:
    fields = _field_types(cls)
    names = [name for name, _ in fields]
    decoders = [_decoder(hint) for _, hint in fields]
    count = len(fields)
    label = cls.__name__

    def struct(value: Any) -> Any:
        if type(value) is not tuple:
            raise _type_error(f"a {label} struct", value)
        if len(value) != count:
            raise DecodeError(f"{label}: expected {count} fields, got {len(value)}")
        index = 0
        try:
            arguments = []
            for index, decode in enumerate(decoders):
                arguments.append(decode(value[index]))
        except DecodeError as error:
            raise DecodeError(f"{label}.{names[index]}: {error}") from None
        try:
            return cls(*arguments)
        except (ValueError, TypeError) as error:
            raise DecodeError(f"{label}: {error}") from error

    return struct


def from_plain(cls: Any, value: Any, path: str = "") -> Any:
    """Build a value of type ``cls`` from its plain form, checking every type exactly."""
    try:
        return _decoder(cls)(value)
    except DecodeError as error:
        raise DecodeError(f"{path}: {error}" if path else str(error)) from None


def decode_struct(cls: type[T], data: bytes, max_bytes: int = message_bytes_max_default) -> T:
    """Decode canonical bytes into a value of dataclass ``cls``; DecodeError on bad input."""
    return typing.cast(T, from_plain(cls, unpack(data, max_bytes, typed=True)))
