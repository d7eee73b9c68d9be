"""Agora's SDK for app developers: typed clients (sync and async), contract proxies, the
JSON form of contract values, contract ABIs and an in-process contract test kit.

    from agora_sdk import Account, AgoraClient

    client = AgoraClient("http://127.0.0.1:8545")
    token = client.contract(address, "token.py", account=Account.load("key.hex"))
    receipt = token.transfer(to=friend, amount=5)      # builds, signs, sends, waits

Modules: ``client`` (AgoraClient, AsyncAgoraClient, Contract), ``types`` (Receipt, Block,
Event, AccountInfo), ``values`` (JSON form), ``abi`` (contract interfaces), ``testing``
(TestChain, and the ``agora_chain`` pytest fixture), ``ws`` (the WebSocket client).
"""

from agora_sdk.client import (
    AccountInfo,
    AgoraClient,
    AsyncAgoraClient,
    AsyncContract,
    Block,
    Contract,
    Event,
    Receipt,
    RpcCallError,
    Simulation,
    TransportError,
)
from node.client import Account

__all__ = ["Account", "AccountInfo", "AgoraClient", "AsyncAgoraClient", "AsyncContract",
           "Block", "Contract", "Event", "Receipt", "RpcCallError", "Simulation",
           "TransportError"]
