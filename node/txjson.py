"""Transactions as JSON objects (docs/spec.md §3.2): for simulation and for reading.

A signed transaction travels as the hex of its canonical bytes; an *unsigned* one (to
simulate it, or to show what will be signed) may be given as an object::

    {"chain_id"?: str, "sender": "0x…32 bytes", "nonce"?: int, "expiry_height"?: int,
     "gas_limit"?: int, "contract"?: "0x…" ("" or absent: the native ledger),
     "method": str, "args"?: "0x…canonical bytes" | "args_json"?: JSON form}

``args_json`` is an object of named arguments (the contract VM's encoding) for contract
calls and an array of positional arguments (the consensus codec) for the native ledger.
Missing numbers are 0; the signature is 64 zero bytes (unsigned).
"""

from __future__ import annotations

from typing import Any

from agora_sdk.values import JsonValueError, encode_json_args, from_json
from consensus import codec
from consensus.types import Transaction

Json = Any
unsigned_signature = b"\x00" * 64
_fields = ("chain_id", "sender", "nonce", "expiry_height", "gas_limit", "contract", "method",
           "args", "args_json")


def transaction_from_json(value: dict[str, Json], chain_id: str, where: str = "tx"
                          ) -> Transaction:
    """An unsigned transaction from its object form; JsonValueError naming the field."""
    for key in sorted(value):
        if key not in _fields:
            raise JsonValueError(f"{where} has no field {key!r} (fields: {', '.join(_fields)})")
    contract = _hex(value.get("contract", ""), f"{where}.contract")
    if "args" in value and "args_json" in value:
        raise JsonValueError(f"{where}: give args or args_json, not both")
    if "args_json" in value:
        args = _args_json(value["args_json"], contract, f"{where}.args_json")
    else:
        args = _hex(value.get("args", "0x80" if contract else "0x90"), f"{where}.args")
    method = value.get("method")
    if not isinstance(method, str):
        raise JsonValueError(f"{where}.method must be a string")
    sender = _hex(value.get("sender"), f"{where}.sender")
    if len(sender) != 32:
        raise JsonValueError(f"{where}.sender must be a 32-byte address")
    chain = value.get("chain_id", chain_id)
    if not isinstance(chain, str):
        raise JsonValueError(f"{where}.chain_id must be a string")
    return Transaction(chain, sender, _uint(value, "nonce", where),
                       _uint(value, "expiry_height", where), _uint(value, "gas_limit", where),
                       contract, method, args, unsigned_signature)


def transaction_to_json(tx: Transaction) -> dict[str, Json]:
    """The object form of a transaction, plus its signature and hash."""
    return {"chain_id": tx.chain_id, "sender": "0x" + tx.sender.hex(), "nonce": tx.nonce,
            "expiry_height": tx.expiry_height, "gas_limit": tx.gas_limit,
            "contract": "0x" + tx.contract.hex(), "method": tx.method,
            "args": "0x" + tx.args.hex(), "signature": "0x" + tx.signature.hex(),
            "hash": "0x" + tx.hash().hex()}


def _args_json(value: Json, contract: bytes, where: str) -> bytes:
    if contract:
        return encode_json_args(value, where)
    if not isinstance(value, list):
        raise JsonValueError(f"{where} must be an array for the native ledger")
    try:
        return codec.pack(tuple(from_json(item, f"{where}[{index}]")
                                for index, item in enumerate(value)))
    except ValueError as error:
        raise JsonValueError(f"{where}: {error}") from None


def _hex(value: Json, where: str) -> bytes:
    if not isinstance(value, str):
        raise JsonValueError(f"{where} must be a hex string")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise JsonValueError(f"{where} must be a hex string") from None


def _uint(value: dict[str, Json], key: str, where: str) -> int:
    number = value.get(key, 0)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**63:
        raise JsonValueError(f"{where}.{key} must be an integer in 0..2**63-1")
    return number
