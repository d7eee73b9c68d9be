"""The OpenRPC document of the node's JSON-RPC API, generated from the method table.

``rpc.discover`` returns it; ``docs/openrpc.json`` is the same document checked in (a test
regenerates it and compares, so the file cannot drift from the server). Regenerate with
``python -m node.openrpc > docs/openrpc.json``.

Params take their schema from their parser (``node/rpc.py``: ``p_shard`` is an integer in
0..2**32-1 ...), results a named schema from ``result_schemas``, and every method lists
the standard errors plus its own application errors (``Method.errors``).
"""

from __future__ import annotations

import json
from typing import Any

from node import rpc

Json = Any
openrpc_version = "1.3.2"
api_version = "1.1.0"

_hex = {"type": "string", "pattern": "^(0x)?([0-9a-fA-F]{2})*$"}
_hash = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"}
_uint64 = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_param_schemas: dict[Any, Json] = {
    rpc.p_shard: {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    rpc.p_height: _uint64,
    rpc.p_optional_height: {"oneOf": [_uint64, {"type": "null"}]},
    rpc.p_digest: _hash,
    rpc.p_optional_digest: {"oneOf": [_hash, {"type": "null"}]},
    rpc.p_bytes: _hex,
    rpc.p_str: {"type": "string"},
    rpc.p_bool: {"type": "boolean"},
    rpc.p_seconds: {"type": "number", "exclusiveMinimum": 0},
    rpc.p_any: {},
    rpc.p_object: {"type": "object"},
    rpc.p_args: {"oneOf": [_hex, {"type": "object"}]},
    rpc.p_tx: {"oneOf": [_hex, {"type": "object"}]},
    rpc.p_format: {"enum": ["hex", "json"]},
}
_event = {"type": "object", "required": [
    "shard", "height", "tx_position", "event_position", "tx_hash", "contract", "name",
    "data", "data_json"]}
_receipt = {"type": "object", "required": [
    "tx_hash", "status", "status_name", "ok", "gas_used", "error", "events", "result",
    "result_json"]}
result_schemas: dict[str, Json] = {
    "Status": {"type": "object", "required": ["chain_id", "shard_count"]},
    "Hash": _hash,
    "Receipt": _receipt,
    "ReceiptOrNull": {"oneOf": [_receipt, {"type": "null"}]},
    "TransactionOrNull": {"oneOf": [{"type": "object"}, {"type": "null"}]},
    "BlockOrNull": {"oneOf": [{"type": "object", "required": ["hash", "shard", "height"]},
                              {"type": "null"}]},
    "Account": {"type": "object", "required": ["address", "shard", "balance"]},
    "HexOrNull": {"oneOf": [_hex, {"type": "null"}]},
    "Objects": {"type": "array", "items": {"type": "object"}},
    "Object": {"type": "object"},
    "CallResult": {"oneOf": [_hex, {"type": "object", "required": ["result", "result_json"]}]},
    "Simulation": {**_receipt, "required": [*_receipt["required"], "shard", "height",
                                             "gas_limit", "signed"]},
    "EventsPage": {"type": "object", "required": ["events", "cursor"], "properties": {
        "events": {"type": "array", "items": _event},
        "cursor": {"oneOf": [{"type": "string"}, {"type": "null"}]}}},
    "Event": _event,
    "SubscriptionId": {"type": "string"},
    "Bool": {"type": "boolean"},
    "OpenRpc": {"type": "object", "required": ["openrpc", "methods"]},
}
_standard_errors = (rpc.Code.INVALID_PARAMS, rpc.Code.INTERNAL_ERROR)


def openrpc_document(methods: dict[str, rpc.Method]) -> dict[str, Json]:
    """The OpenRPC document of ``methods`` (an ``RpcServer.methods`` table)."""
    return {
        "openrpc": openrpc_version,
        "info": {"title": "Agora JSON-RPC", "version": api_version,
                 "description": "A permissioned BFT ledger for virtual-goods marketplaces. "
                 "Bytes are hex; values of contracts also come in a JSON form "
                 "(docs/spec.md). Errors carry data.reason; INVALID_PARAMS errors also "
                 "data.param."},
        "methods": [_method(name, method) for name, method in sorted(methods.items())],
        "components": {
            "schemas": {name: result_schemas[name] for name in sorted(result_schemas)},
            "errors": {code.name: {"code": int(code), "message": code.name}
                       for code in sorted(rpc.Code, key=int)},
        },
    }


def _method(name: str, method: rpc.Method) -> dict[str, Json]:
    assert method.result in result_schemas, f"{name}: no schema {method.result!r}"
    entry: dict[str, Json] = {
        "name": name, "summary": method.summary, "paramStructure": "either",
        "params": [_param(param) for param in method.params],
        "result": {"name": "result", "schema": {"$ref": f"#/components/schemas/"
                                                        f"{method.result}"}},
        "errors": [{"$ref": f"#/components/errors/{code.name}"}
                   for code in (*_standard_errors, *method.errors)],
    }
    if method.websocket_only:
        entry["x-transport"] = "websocket"
    return entry


def _param(param: rpc.Param) -> dict[str, Json]:
    schema = _param_schemas[param.parse]
    entry: dict[str, Json] = {"name": param.name, "description": param.description,
                              "required": param.default is rpc._required, "schema": schema}
    return entry


def _document_of_a_server() -> dict[str, Json]:
    """The document as a server with the default config serves it."""
    from node.config import RpcSection

    class _NoNode:  # the method table only binds the API's methods, never calls them
        def __getattr__(self, name: str) -> Any:
            return None

    server = rpc.RpcServer(_NoNode(), RpcSection())  # type: ignore[arg-type]
    return openrpc_document(server.methods)


def render() -> str:
    return json.dumps(_document_of_a_server(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
