"""Agora's SDK for app developers: typed clients (sync and async), contract proxies, the
JSON form of contract values, contract ABIs and an in-process contract test kit.

    from agora_sdk import Account, AgoraClient

    client = AgoraClient("http://127.0.0.1:8545")
    token = client.contract(address, "token.py", account=Account.load("key.hex"))
    receipt = token.transfer(to=friend, amount=5)      # builds, signs, sends, waits

Modules: ``client`` (AgoraClient, AsyncAgoraClient, Contract), ``types`` (Receipt, Block,
Event, AccountInfo), ``values`` (JSON form), ``abi`` (contract interfaces), ``testing``
(TestChain, and the ``agora_chain`` pytest fixture), ``ws`` (the WebSocket client).

The names below are imported on first use (PEP 562), so ``agora_sdk.values``, which the
node's RPC server uses, does not pull the client stack (httpx, anyio) into the node.
"""

from __future__ import annotations

import importlib
from typing import Any

_exports = {
    "Account": "node.client", "AccountInfo": "agora_sdk.types",
    "AgoraClient": "agora_sdk.client", "AsyncAgoraClient": "agora_sdk.client",
    "AsyncContract": "agora_sdk.client", "Block": "agora_sdk.types",
    "Contract": "agora_sdk.client", "Event": "agora_sdk.types",
    "Receipt": "agora_sdk.types", "RpcCallError": "node.client",
    "Simulation": "agora_sdk.types", "TransportError": "node.client",
}
__all__ = sorted(_exports)


def __getattr__(name: str) -> Any:
    module = _exports.get(name)
    if module is None:
        raise AttributeError(f"module 'agora_sdk' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
