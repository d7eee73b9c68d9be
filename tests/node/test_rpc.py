"""JSON-RPC over real HTTP and WebSocket on 127.0.0.1, against a fake node."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from consensus.types import Signer, Transaction
from node.config import MempoolSection, RpcSection
from node.genesis import Balance, Genesis, Validator
from node.rpc import Code, RpcServer
from ledger.sharding import shard_of_account
from tests.node.fake_node import FakeNode
from tests.node.txs import CHAIN_ID, make_tx, signer
from tests.node.ws_client import WsClient

SHARDS = 2


def _in_shard(shard: int, skip: int = 0) -> Signer:
    matches = (signer(index) for index in range(1, 200)
               if shard_of_account(signer(index).public_key, SHARDS) == shard)
    for _ in range(skip):
        next(matches)
    return next(matches)


ALICE, BOB = _in_shard(0), _in_shard(0, skip=1)


def _genesis() -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, shard_count=SHARDS,
        validators=(Validator("v0", signer(999).public_key, "127.0.0.1:1", "127.0.0.1:2"),),
        balances=(Balance(ALICE.public_key, 1000),))


def _transfer(amount: int = 5, nonce: int = 0, **fields: Any) -> Transaction:
    return make_tx(ALICE, nonce=nonce, args=(BOB.public_key, amount), **fields)


@dataclasses.dataclass
class Harness:
    node: FakeNode
    server: RpcServer
    url: str
    http: httpx.AsyncClient
    ids: int = 0

    async def call(self, method: str, *params: Any) -> Any:
        self.ids += 1
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": list(params)}
        response = await self.http.post("/", json=body)
        assert response.status_code == 200
        return response.json()


async def _start(nursery: trio.Nursery, rpc: RpcSection | None = None,
                 mempool: MempoolSection | None = None) -> AsyncIterator[Harness]:
    node = FakeNode(_genesis(), mempool)
    server = RpcServer(node, rpc or RpcSection(port=0))
    binds = await nursery.start(server.serve)
    async with httpx.AsyncClient(base_url=binds[0], timeout=10) as http:
        yield Harness(node, server, binds[0], http)


@pytest.fixture
async def harness(nursery: trio.Nursery) -> AsyncIterator[Harness]:
    async for item in _start(nursery):
        yield item


async def test_status_and_simple_queries(harness: Harness) -> None:
    with trio.fail_after(10):
        status = await harness.call("agora_status")
        assert status["result"]["chain_id"] == CHAIN_ID
        validators = (await harness.call("agora_validators"))["result"]
        assert validators[0]["name"] == "v0"
        assert (await harness.call("agora_peers"))["result"] == []
        account = (await harness.call("agora_getAccount", ALICE.public_key.hex()))["result"]
        assert account["balance"] == 1000 and account["shard"] == 0
        block = (await harness.call("agora_latestBlock", 0))["result"]
        assert block["height"] == 0 and block["certificate"] is None
        health = await harness.http.get("/health")
        assert health.json() == {"status": "ok"}


async def test_send_transaction_then_receipt_block_and_state(harness: Harness) -> None:
    with trio.fail_after(10):
        tx = _transfer()
        response = await harness.call("agora_sendTransaction", "0x" + tx.encoded().hex())
        assert response["result"] == tx.hash().hex()
        mempool = (await harness.call("agora_mempool"))["result"]
        assert mempool["size_txs"] == 1
        assert (await harness.call("agora_getReceipt", tx.hash().hex()))["result"] is None
        block = harness.node.produce_block(0)
        receipt = (await harness.call("agora_getReceipt", tx.hash().hex()))["result"]
        assert receipt["ok"] and receipt["status_name"] == "OK" and receipt["height"] == 1
        got = (await harness.call("agora_getTransaction", tx.hash().hex()))["result"]
        assert got["sender"] == ALICE.public_key.hex() and got["position"] == 0
        by_height = (await harness.call("agora_getBlock", 0, 1))["result"]
        assert by_height["txs"] == [tx.hash().hex()]
        by_hash = (await harness.call("agora_getBlockByHash", block.block.hash().hex(),
                                      True))["result"]
        assert by_hash["txs"][0]["hash"] == tx.hash().hex()
        key = b"bal/" + BOB.public_key
        state = (await harness.call("agora_getState", 0, key.hex()))["result"]
        assert int(state, 16) == 5
        assert (await harness.call("agora_getBlock", 0, 99))["result"] is None


async def test_send_and_wait_returns_the_receipt(harness: Harness,
                                                 nursery: trio.Nursery) -> None:
    nursery.start_soon(harness.node.run_producer)
    with trio.fail_after(10):
        tx = _transfer(7)
        response = await harness.call("agora_sendTransactionAndWait", tx.encoded().hex(), 5)
        assert response["result"]["tx_hash"] == tx.hash().hex()
        account = (await harness.call("agora_getAccount", BOB.public_key.hex()))["result"]
        assert account["balance"] == 7


async def test_send_and_wait_times_out_with_the_hash(harness: Harness) -> None:
    with trio.fail_after(10):
        tx = _transfer()
        response = await harness.call("agora_sendTransactionAndWait", tx.encoded().hex(), 0.05)
        error = response["error"]
        assert error["code"] == Code.TIMEOUT
        assert error["data"] == {"reason": "TIMEOUT", "tx_hash": tx.hash().hex()}


@pytest.mark.parametrize(("make", "code", "reason"), [
    (lambda: dataclasses.replace(_transfer(), signature=b"\x01" * 64).encoded().hex(),
     Code.BAD_SIGNATURE, "BAD_SIGNATURE"),
    (lambda: _transfer(chain_id="elsewhere").encoded().hex(), Code.WRONG_CHAIN, "WRONG_CHAIN"),
    (lambda: _transfer(expiry_height=0).encoded().hex(), Code.EXPIRED, "EXPIRED"),
    (lambda: "93010203", Code.MALFORMED, "MALFORMED"),
    (lambda: "not hex", Code.INVALID_PARAMS, "INVALID_PARAMS"),
])
async def test_rejected_transactions_get_clear_errors(harness: Harness, make: Any, code: Code,
                                                       reason: str) -> None:
    with trio.fail_after(10):
        response = await harness.call("agora_sendTransaction", make())
        assert response["error"]["code"] == code
        assert response["error"]["data"]["reason"] == reason
        assert response["error"]["message"]
        assert harness.node.mempool.info().size_txs == 0


async def test_duplicate_and_full_mempool(nursery: trio.Nursery) -> None:
    config = MempoolSection(capacity_txs=1, shard_capacity_txs=1, sender_capacity_txs=1)
    async for harness in _start(nursery, mempool=config):
        with trio.fail_after(10):
            first = _transfer().encoded().hex()
            assert "result" in await harness.call("agora_sendTransaction", first)
            duplicate = await harness.call("agora_sendTransaction", first)
            assert duplicate["error"]["data"]["reason"] == "DUPLICATE"
            full = await harness.call("agora_sendTransaction", _transfer(nonce=2).encoded().hex())
            assert full["error"]["code"] == Code.MEMPOOL_FULL
            assert "retry later" in full["error"]["message"]


async def test_protocol_errors(harness: Harness) -> None:
    with trio.fail_after(10):
        post = harness.http.post
        parse = (await post("/", content=b"{not json")).json()
        assert parse["error"]["code"] == Code.PARSE_ERROR and parse["id"] is None
        nan = (await post("/", content=b'{"jsonrpc":"2.0","id":1,"method":"x","params":[NaN]}'))
        assert nan.json()["error"]["code"] == Code.PARSE_ERROR
        unknown = await harness.call("agora_nope")
        assert unknown["error"]["code"] == Code.METHOD_NOT_FOUND
        wrong_type = await harness.call("agora_getBlock", "zero", 1)
        assert wrong_type["error"]["code"] == Code.INVALID_PARAMS
        too_many = await harness.call("agora_status", 1)
        assert too_many["error"]["code"] == Code.INVALID_PARAMS
        missing = await harness.call("agora_getBlock", 0)
        assert missing["error"]["code"] == Code.INVALID_PARAMS
        bad_shard = await harness.call("agora_getBlock", 7, 0)
        assert bad_shard["error"]["code"] == Code.INVALID_PARAMS
        no_version = (await post("/", json={"id": 3, "method": "agora_status"})).json()
        assert no_version["error"]["code"] == Code.INVALID_REQUEST and no_version["id"] == 3
        named = (await post("/", json={"jsonrpc": "2.0", "id": "a", "method": "agora_getBlock",
                                       "params": {"shard": 0, "height": 0}})).json()
        assert named["result"]["height"] == 0 and named["id"] == "a"
        subscribe = await harness.call("agora_subscribe", "newBlocks", 0)
        assert subscribe["error"]["code"] == Code.METHOD_NOT_FOUND
        vm = await harness.call("agora_call", "11" * 32, "price")
        assert vm["error"]["code"] == Code.NOT_AVAILABLE
        assert "VM" in vm["error"]["message"]
        assert (await harness.http.get("/")).status_code == 405
        assert (await harness.call("agora_status"))["result"]["chain_id"] == CHAIN_ID


async def test_batches_follow_the_spec(harness: Harness) -> None:
    with trio.fail_after(10):
        post = harness.http.post
        empty = (await post("/", json=[])).json()  # a batch is answered with an array
        assert [item["error"]["code"] for item in empty] == [Code.INVALID_REQUEST]
        junk = (await post("/", json=[1, 2])).json()
        assert [item["error"]["code"] for item in junk] == [Code.INVALID_REQUEST] * 2
        tx = _transfer()
        mixed = await post("/", json=[
            {"jsonrpc": "2.0", "id": 1, "method": "agora_status"},
            {"jsonrpc": "2.0", "method": "agora_sendTransaction", "params": [tx.encoded().hex()]},
            {"jsonrpc": "2.0", "id": 2, "method": "agora_nope"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "id": 3, "method": "agora_mempool"},
        ])
        replies = mixed.json()
        assert [item["id"] for item in replies] == [1, 2, None, 3]
        assert replies[1]["error"]["code"] == Code.METHOD_NOT_FOUND
        assert replies[2]["error"]["code"] == Code.INVALID_REQUEST
        assert replies[3]["result"]["size_txs"] == 1  # the notification ran, in order
        only_notifications = await post("/", json=[
            {"jsonrpc": "2.0", "method": "agora_status"},
            {"jsonrpc": "2.0", "method": "agora_nope"}])
        assert only_notifications.status_code == 204 and only_notifications.content == b""
        single = await post("/", json={"jsonrpc": "2.0", "method": "agora_status"})
        assert single.status_code == 204


async def test_limits_on_body_batch_and_connections(nursery: trio.Nursery) -> None:
    config = RpcSection(port=0, body_bytes_max=200, batch_length_max=2, connections_max=1)
    async for harness in _start(nursery, rpc=config):
        with trio.fail_after(10):
            big = await harness.http.post("/", content=b"[" + b" " * 500 + b"]")
            assert big.status_code == 413
            assert big.json()["error"]["data"]["reason"] == "BODY_TOO_LARGE"

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b" " * 100

            chunked = await harness.http.post("/", content=chunks())
            assert chunked.status_code == 413
            request = {"jsonrpc": "2.0", "id": 1, "method": "agora_status"}
            batch = (await harness.http.post("/", json=[request] * 3)).json()
            assert [item["error"]["code"] for item in batch] == [Code.BATCH_TOO_LARGE]

            harness.server.active_connections = 1  # as if another client held the slot
            busy = await harness.http.post("/", json=request)
            assert busy.status_code == 503
            assert busy.json()["error"]["data"]["reason"] == "TOO_MANY_CONNECTIONS"
            harness.server.active_connections = 0
            assert (await harness.call("agora_status"))["result"]["chain_id"] == CHAIN_ID


async def test_websocket_calls_and_block_subscription(harness: Harness) -> None:
    with trio.fail_after(10):
        client = await WsClient.connect(harness.url)
        await client.send_json({"jsonrpc": "2.0", "id": 1, "method": "agora_subscribe",
                                "params": ["newBlocks", 0]})
        subscription = (await client.receive_json())["result"]
        harness.node.produce_block(0)
        harness.node.produce_block(0)
        for height in (1, 2):
            note = await client.receive_json()
            assert note["method"] == "agora_subscription"
            assert note["params"]["subscription"] == subscription
            assert note["params"]["result"]["height"] == height
        await client.send_json({"jsonrpc": "2.0", "id": 2, "method": "agora_unsubscribe",
                                "params": [subscription]})
        assert (await client.receive_json())["result"] is True
        await client.send_json([{"jsonrpc": "2.0", "id": 3, "method": "agora_status"}])
        assert (await client.receive_json())[0]["result"]["chain_id"] == CHAIN_ID
        await client.close()


async def test_websocket_receipt_subscription(harness: Harness) -> None:
    with trio.fail_after(10):
        client = await WsClient.connect(harness.url)
        tx = _transfer()
        await client.send_json({"jsonrpc": "2.0", "id": 1, "method": "agora_sendTransaction",
                                "params": [tx.encoded().hex()]})
        assert (await client.receive_json())["result"] == tx.hash().hex()
        await client.send_json({"jsonrpc": "2.0", "id": 2, "method": "agora_subscribe",
                                "params": {"kind": "receipt", "target": tx.hash().hex()}})
        assert "result" in await client.receive_json()
        harness.node.produce_block(0)
        note = await client.receive_json()
        assert note["params"]["result"]["tx_hash"] == tx.hash().hex()
        await client.send_json({"jsonrpc": "2.0", "id": 3, "method": "agora_subscribe",
                                "params": ["weather", 1]})
        assert (await client.receive_json())["error"]["code"] == Code.INVALID_PARAMS
        await client.close()


async def test_websocket_limits(nursery: trio.Nursery) -> None:
    config = RpcSection(port=0, ws_subscriptions_max=1, connections_max=1)
    async for harness in _start(nursery, rpc=config):
        with trio.fail_after(10):
            client = await WsClient.connect(harness.url)
            request = {"jsonrpc": "2.0", "id": 1, "method": "agora_subscribe",
                       "params": ["newBlocks", 1]}
            await client.send_json(request)
            assert "result" in await client.receive_json()
            await client.send_json(request)
            assert (await client.receive_json())["error"]["code"] == Code.SUBSCRIPTION_LIMIT
            second = await WsClient.connect(harness.url)
            assert await second.receive_json() is None
            assert second.closed is not None and second.closed.code == 1013
            await second.close()
            await client.close()


async def test_a_failing_node_method_is_an_internal_error_and_serving_goes_on(
        harness: Harness) -> None:
    async def broken() -> Any:
        raise RuntimeError("disk on fire")

    calls: list[tuple[str, str]] = []
    harness.server.on_request = lambda method, outcome: calls.append((method, outcome))
    harness.server.methods["agora_peers"] = dataclasses.replace(
        harness.server.methods["agora_peers"], handler=broken)
    with trio.fail_after(10):
        response = await harness.call("agora_peers")
        assert response["error"]["code"] == Code.INTERNAL_ERROR
        assert "disk" not in response["error"]["message"]  # no internals leak to clients
        assert (await harness.call("agora_status"))["result"]["chain_id"] == CHAIN_ID
        await harness.call("made_up_method")
    assert calls == [("agora_peers", "INTERNAL_ERROR"), ("agora_status", "ok"),
                     ("unknown", "METHOD_NOT_FOUND")]


async def test_send_and_wait_is_idempotent(harness: Harness, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        tx = _transfer(3)
        first = await harness.call("agora_sendTransactionAndWait", tx.encoded().hex(), 0.05)
        assert first["error"]["data"]["reason"] == "TIMEOUT"
        nursery.start_soon(harness.node.run_producer)
        harness.node.produce_block(0)
        retry = await harness.call("agora_sendTransactionAndWait", tx.encoded().hex(), 5)
        assert retry["result"]["tx_hash"] == tx.hash().hex()
        plain = await harness.call("agora_sendTransaction", tx.encoded().hex())
        assert plain["error"]["data"]["reason"] == "ALREADY_COMMITTED"


async def test_a_vanished_subscriber_is_cleaned_up(harness: Harness,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(10):
        client = await WsClient.connect(harness.url)
        await client.send_json({"jsonrpc": "2.0", "id": 1, "method": "agora_subscribe",
                                "params": ["newBlocks", 0]})
        assert "result" in await client.receive_json()
        assert harness.server.active_connections == 1
        await client.close()  # no close handshake: the TCP connection just goes away
        while harness.server.active_connections:
            await trio.testing.wait_all_tasks_blocked()
            harness.node.produce_block(0)
        assert (await harness.call("agora_status"))["result"]["chain_id"] == CHAIN_ID
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
