"""The JSON form of contract values: arguments, results and event data as JSON.

Contract values travel and are signed as canonical msgpack (``vm/codec.py``, written down
in ``docs/spec.md``). Apps written in JavaScript or typed through a JSON API want JSON, so
every place that shows or takes a contract value (the RPC, the CLI, the SDK) also speaks
this JSON form, next to the canonical hex. The mapping (``docs/spec.md`` §2.3):

========================  ==============================  ================================
VM value                  JSON out (``to_json``)          JSON in (``from_json``)
========================  ==============================  ================================
None / bool / str         null / true,false / string      the same
int, |x| <= 2**53 - 1     number                          number, or ``{"$int": "123"}``
int beyond that           decimal string                  number, or ``{"$int": "…"}``
bytes                     ``"0x"`` + lowercase hex        ``"0x…"`` (even length), or
                                                          ``{"$bytes": "0x…"}``
list / tuple              array                           array (a list)
dict                      object; bytes keys ``"0x…"``,   object with string keys
                          int keys decimal strings
========================  ==============================  ================================

On input, a string that starts with ``0x`` and is even-length hex is bytes; to pass such
a string as text, write ``{"$str": "0x…"}``. An object with exactly one key starting with
``$`` is one of these tags, so object keys starting with ``$`` are reserved in the JSON
form (use the canonical hex for such values). Floats are refused: the VM has none.

Output is for reading (``"0x01"`` may have been bytes or a string): an app that must be
exact reads the canonical hex shown beside every JSON value.
"""

from __future__ import annotations

from typing import Any

from vm import codec as vm_codec
from vm.errors import VMError

Json = Any
json_safe_int_max = 2**53 - 1
values_elements_max = 100_000
_tags = ("$int", "$bytes", "$str")


class JsonValueError(ValueError):
    """A JSON value that has no contract value (a float, a bad tag, bad hex)."""


def to_json(value: Any) -> Json:
    """The JSON form of a decoded VM value (see the module docstring)."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -json_safe_int_max <= value <= json_safe_int_max else str(value)
    if kind is bytes:
        return "0x" + value.hex()
    if kind is list or kind is tuple:
        return [to_json(item) for item in value]
    if kind is dict:
        return {_key_json(key): to_json(item) for key, item in value.items()}
    raise JsonValueError(f"no JSON form for a value of type {kind.__name__}")


def _key_json(key: Any) -> str:
    if type(key) is bytes:
        return "0x" + key.hex()
    if type(key) is int:
        return str(key)
    if type(key) is str:
        return key
    raise JsonValueError(f"no JSON form for a dict key of type {type(key).__name__}")


def from_json(value: Json, where: str = "value") -> Any:
    """The VM value a JSON value stands for; JsonValueError naming ``where`` if none."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        raise JsonValueError(f"{where}: numbers must be integers (the VM has no floats)")
    if isinstance(value, str):
        data = _hex_bytes(value)
        return value if data is None else data
    if isinstance(value, list):
        return [from_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith("$"):
            return _from_tag(value, where)
        return {key: from_json(item, f"{where}.{key}") for key, item in value.items()}
    raise JsonValueError(f"{where}: {type(value).__name__} is not a JSON value")


def _from_tag(value: dict[str, Json], where: str) -> Any:
    ((tag, inner),) = value.items()
    if tag not in _tags:
        raise JsonValueError(f"{where}: unknown tag {tag!r} (known: {', '.join(_tags)})")
    if not isinstance(inner, str):
        raise JsonValueError(f"{where}: {tag} takes a string")
    if tag == "$str":
        return inner
    if tag == "$bytes":
        data = _hex_bytes(inner) if inner.startswith("0x") else None
        if data is None:
            raise JsonValueError(f"{where}: $bytes takes \"0x\" and an even number of hex "
                                 "digits")
        return data
    text = inner.strip()
    if not text.lstrip("-").isdigit() or len(text) > 1300 or not text.isascii():
        raise JsonValueError(f"{where}: $int takes a decimal integer string")
    return int(text)


def _hex_bytes(text: str) -> bytes | None:
    if not text.startswith("0x") or len(text) % 2:
        return None
    digits = text[2:]
    if not all(char in "0123456789abcdefABCDEF" for char in digits):
        return None
    return bytes.fromhex(digits)


def args_from_json(value: Json, where: str = "args") -> dict[str, Any]:
    """Named contract arguments from a JSON object."""
    if not isinstance(value, dict):
        raise JsonValueError(f"{where} must be a JSON object of named arguments")
    return {key: from_json(item, f"{where}.{key}") for key, item in value.items()}


def encode_json_args(value: Json, where: str = "args") -> bytes:
    """Canonical VM bytes of named arguments given in the JSON form."""
    try:
        return vm_codec.encode(args_from_json(value, where), values_elements_max)
    except VMError as error:
        raise JsonValueError(f"{where}: {error}") from None


def decode_to_json(data: bytes) -> Json:
    """The JSON form of canonical VM bytes (``b""`` -> null: no value)."""
    if not data:
        return None
    try:
        return to_json(vm_codec.decode(data))
    except VMError as error:
        raise JsonValueError(f"not a canonical VM value: {error}") from None
