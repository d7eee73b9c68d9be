"""The names a contract may use: builtins, host functions, methods per type, ctx fields.

The validator checks names against these sets at deploy time; the runtime (vm/runtime.py)
binds exactly these names and dispatches methods through per-type tables with the same
keys, so a name accepted here always has a metered implementation there (a test checks
the two agree).
"""

from __future__ import annotations

# Builtins with metered wrappers; all take sized inputs and check caps before building.
builtin_names = frozenset(
    {
        "len", "range", "min", "max", "sum", "sorted", "abs", "list", "dict", "tuple",
        "str", "int", "bool", "bytes", "enumerate", "zip", "reversed", "any", "all",
    }
)  # fmt: skip

# Host functions (the contract's only way to reach the world outside its frame).
host_names = frozenset({"require", "revert", "emit", "call", "try_call", "sha256"})

# Decorators the VM understands; nothing else may decorate a function.
decorator_names = frozenset({"export", "view"})

# Storage declarations at module level: `balances = Map()`, `owner = Value()`.
storage_kinds = frozenset({"Map", "Value"})

ctx_fields = frozenset({"sender", "address", "height", "time", "tx_hash", "origin"})

# Safe, bounded methods per receiver type (runtime.py holds the metered implementations).
methods_by_type: dict[str, frozenset[str]] = {
    "str": frozenset(
        {
            "lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith",
            "endswith", "find", "count", "replace", "join", "encode", "isdigit",
            "isalpha", "isalnum", "zfill", "ljust", "rjust",
        }
    ),
    "bytes": frozenset(
        {"hex", "startswith", "endswith", "find", "count", "decode", "join"}
    ),
    "list": frozenset(
        {
            "append", "pop", "insert", "extend", "index", "count", "reverse", "sort",
            "copy", "clear", "remove",
        }
    ),
    "dict": frozenset(
        {"get", "keys", "values", "items", "pop", "setdefault", "copy", "clear", "update"}
    ),
    "tuple": frozenset({"count", "index"}),
    "int": frozenset({"bit_length", "to_bytes"}),
    "Map": frozenset({"get", "set", "contains", "delete"}),
    "Value": frozenset({"get", "set"}),
}  # fmt: skip

method_names = frozenset().union(*methods_by_type.values())

reserved_names = builtin_names | host_names | decorator_names | storage_kinds | {"ctx"}
