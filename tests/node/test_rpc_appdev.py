"""The app developer's RPC (#19) over real HTTP and WebSocket on 127.0.0.1, against the
fake node (real mempool, executor and ChainStore): events, simulation, JSON values,
OpenRPC, CORS, param errors, timeouts and batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from consensus.types import Transaction
from node.config import RpcSection
from node.openrpc import render
from node.rpc import Code, RpcServer, decode_cursor, encode_cursor
from tests.node.fake_node import FakeNode
from tests.node.test_rpc import (  # noqa: F401  (harness: the shared fixture)
    ALICE,
    BOB,
    Harness,
    _genesis,
    _start,
    _transfer,
    harness,
)
from tests.node.ws_client import WsClient

REPO = Path(__file__).resolve().parents[2]
NATIVE = ""


def _commit_transfers(node: FakeNode, amounts: list[int], nonce_base: int = 0) -> None:
    """One block per amount, each with one native transfer (one Transfer event)."""
    for index, amount in enumerate(amounts):
        node.mempool.add(_transfer(amount, nonce=nonce_base + index))
        node.produce_block(0)


async def _events(harness: Harness, **filter: Any) -> dict[str, Any]:
    reply = await harness.call("agora_getEvents", filter)
    assert "result" in reply, reply
    result: dict[str, Any] = reply["result"]
    return result


async def test_get_events_pages_through_every_event_once_in_order(harness: Harness) -> None:
    with trio.fail_after(10):
        _commit_transfers(harness.node, [1, 2, 3, 4, 5])
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await _events(harness, contract=NATIVE, name="Transfer", shard=0,
                                 limit=2, cursor=cursor)
            assert len(page["events"]) <= 2
            seen += page["events"]
            cursor = page["cursor"]
            if cursor is None:
                break
        assert [event["height"] for event in seen] == [1, 2, 3, 4, 5]
        assert [event["data_json"][2] for event in seen] == [1, 2, 3, 4, 5]
        first = seen[0]
        assert first["data_json"][:2] == ["0x" + ALICE.public_key.hex(),
                                          "0x" + BOB.public_key.hex()]
        receipt = (await harness.call("agora_getReceipt", first["tx_hash"]))["result"]
        assert receipt["events"][0]["data"] == first["data"]
        assert (first["tx_position"], first["event_position"]) == (0, 0)
        # Height bounds and a name that matches nothing.
        middle = await _events(harness, shard=0, from_height=2, to_height=3)
        assert [event["height"] for event in middle["events"]] == [2, 3]
        assert (await _events(harness, shard=0, name="Mint"))["events"] == []
        # Without contract or shard: every shard (shard 1 has none).
        assert len((await _events(harness))["events"]) == 5


async def test_event_filter_errors_name_the_field(harness: Harness) -> None:
    cases = [
        ({"shard": 7}, "filter.shard"), ({"limit": 0}, "filter.limit"),
        ({"limit": 10**6}, "filter.limit"), ({"cursor": "bogus"}, "filter.cursor"),
        ({"contract": "0x12"}, "filter.contract"), ({"colour": 1}, "filter.colour"),
        ({"from_height": 5, "to_height": 2}, "filter.to_height"), ({"name": 3}, "filter.name"),
    ]
    with trio.fail_after(10):
        for filter, field in cases:
            reply = await harness.call("agora_getEvents", filter)
            assert reply["error"]["code"] == Code.INVALID_PARAMS, (filter, reply)
            assert reply["error"]["data"]["param"] == field, (filter, reply)
            assert field in reply["error"]["message"]
        missing = await harness.call("agora_getEvents")
        assert missing["error"]["data"]["param"] == "filter"


async def test_every_invalid_params_error_names_its_param(harness: Harness) -> None:
    calls = [
        ("agora_getBlock", ["x", 1]), ("agora_getBlock", [0, -1]), ("agora_getBlock", [9, 1]),
        ("agora_getReceipt", ["zz"]), ("agora_getAccount", ["00"]),
        ("agora_getState", [0, "q"]), ("agora_sendTransactionAndWait", ["00", -1]),
        ("agora_call", ["00" * 32, "m", {"a": 1.5}]), ("agora_call", ["00" * 32, 5]),
        ("agora_latestBlock", []), ("agora_status", [1]), ("agora_simulate", [5]),
        ("agora_simulate", [{"method": "transfer"}]),
    ]
    with trio.fail_after(10):
        for method, params in calls:
            reply = await harness.call(method, *params)
            assert reply["error"]["code"] == Code.INVALID_PARAMS, (method, params, reply)
            assert reply["error"]["data"].get("param"), (method, params, reply)


def test_cursors_are_opaque_and_round_trip() -> None:
    assert decode_cursor("c", encode_cursor(3, (10, 2, 1))) == (3, (10, 2, 1))
    assert decode_cursor("c", encode_cursor(1, None)) == (1, None)


async def _ws_call(client: WsClient, request_id: int, method: str, *params: Any) -> Any:
    await client.send_json({"jsonrpc": "2.0", "id": request_id, "method": method,
                            "params": list(params)})
    while True:
        message = await client.receive_json()
        if message.get("id") == request_id:
            return message


async def _notifications(client: WsClient, count: int) -> list[Any]:
    results = []
    while len(results) < count:
        message = await client.receive_json()
        assert message is not None, "the server closed the session"
        if message.get("method") == "agora_subscription":
            results.append(message["params"]["result"])
    return results


async def test_events_subscription_replays_then_goes_live_without_gap_or_duplicate(
        harness: Harness) -> None:
    with trio.fail_after(15):
        _commit_transfers(harness.node, [1, 2, 3])
        client = await WsClient.connect(harness.url)
        reply = await _ws_call(client, 1, "agora_subscribe", "events",
                               {"contract": NATIVE, "shard": 0, "name": "Transfer"}, 2)
        assert isinstance(reply["result"], str), reply
        replayed = await _notifications(client, 2)
        # Blocks finalized while the subscription switches from replay to live.
        _commit_transfers(harness.node, [4, 5], nonce_base=10)
        live = await _notifications(client, 2)
        amounts = [event["data_json"][2] for event in replayed + live]
        assert amounts == [2, 3, 4, 5]
        assert [event["height"] for event in replayed + live] == [2, 3, 4, 5]
        await client.close()


async def test_new_blocks_subscription_takes_from_height(harness: Harness) -> None:
    with trio.fail_after(10):
        _commit_transfers(harness.node, [1, 2, 3])
        client = await WsClient.connect(harness.url)
        await _ws_call(client, 1, "agora_subscribe", "newBlocks", 0, 1)
        blocks = await _notifications(client, 3)
        assert [block["height"] for block in blocks] == [1, 2, 3]
        bad = await _ws_call(client, 2, "agora_subscribe", "events", {"shard": 5})
        assert bad["error"]["data"]["param"] == "target.shard"
        await client.close()


async def test_an_events_subscription_without_contract_or_shard_follows_every_shard(
        nursery: trio.Nursery) -> None:
    from consensus.types import Signer
    from node.genesis import Balance, Genesis, Validator
    from tests.node.test_rpc import _in_shard
    from tests.node.txs import CHAIN_ID, make_tx, signer

    carol: Signer = _in_shard(1)
    genesis = Genesis(
        chain_id=CHAIN_ID, shard_count=2,
        validators=(Validator("v0", signer(999).public_key, "127.0.0.1:1", "127.0.0.1:2"),),
        balances=(Balance(ALICE.public_key, 1000), Balance(carol.public_key, 1000)))
    node = FakeNode(genesis)
    server = RpcServer(node, RpcSection(port=0))
    (url,) = await nursery.start(server.serve)
    with trio.fail_after(15):
        node.mempool.add(make_tx(ALICE, args=(BOB.public_key, 1)))
        node.produce_block(0)
        client = await WsClient.connect(url)
        await _ws_call(client, 1, "agora_subscribe", "events", {"name": "Transfer"}, 1)
        node.mempool.add(make_tx(carol, args=(_in_shard(1, skip=1).public_key, 2)))
        node.produce_block(1)
        node.mempool.add(make_tx(ALICE, nonce=1, args=(BOB.public_key, 3)))
        node.produce_block(0)
        events = await _notifications(client, 3)
        by_shard = {shard: [event["data_json"][2] for event in events
                            if event["shard"] == shard] for shard in (0, 1)}
        assert by_shard == {0: [1, 3], 1: [2]}
        await client.close()


async def test_a_subscriber_that_stops_reading_is_told_and_closed(harness: Harness) -> None:
    """Drives the real ASGI app with a client whose socket never drains."""
    config = RpcSection(port=0, ws_queue_messages_max=2, ws_subscriber_stall_seconds=0.2)
    server = RpcServer(harness.node, config)
    to_server_send, to_server = trio.open_memory_channel[dict](10)
    sent: list[dict[str, Any]] = []
    stalled = trio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        text = message.get("text", "")
        if '"agora_subscription"' in text and '"result"' in text:
            await stalled.wait()  # the client stops reading after the first notification

    _commit_transfers(harness.node, [1, 2, 3, 4, 5, 6, 7, 8])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server, {"type": "websocket", "headers": []}, to_server.receive,
                               send)
            await to_server_send.send({"type": "websocket.connect"})
            await to_server_send.send({"type": "websocket.receive", "text": json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "agora_subscribe",
                 "params": ["newBlocks", 0, 1]})})
            while not any(item.get("type") == "websocket.close" for item in sent):
                await trio.sleep(0.01)
                if any("SUBSCRIBER_TOO_SLOW" in item.get("text", "") for item in sent):
                    stalled.set()  # let the notice and the close go out
            nursery.cancel_scope.cancel()
    notice = next(json.loads(item["text"]) for item in sent
                  if "SUBSCRIBER_TOO_SLOW" in item.get("text", ""))
    assert notice["params"]["error"]["code"] == Code.SUBSCRIBER_TOO_SLOW
    assert "from_height" in notice["params"]["error"]["message"]
    assert sent[-1] == {"type": "websocket.close", "code": 1008, "reason": "subscriber too slow"}


async def test_a_stalled_shard_does_not_end_a_subscription(harness: Harness) -> None:
    calls = 0
    original = harness.node.wait_block

    async def slow_then_fine(shard: int, height: int) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise trio.TooSlowError  # what LocalNodeApi.wait_block raises after 60 s
        return await original(shard, height)

    harness.node.wait_block = slow_then_fine  # type: ignore[method-assign]
    with trio.fail_after(10):
        client = await WsClient.connect(harness.url)
        await _ws_call(client, 1, "agora_subscribe", "newBlocks", 0)
        _commit_transfers(harness.node, [1])
        (block,) = await _notifications(client, 1)
        assert block["height"] == 1 and calls >= 3
        await client.close()


def _unsigned(tx: Transaction) -> Transaction:
    import dataclasses

    return dataclasses.replace(tx, signature=b"\x00" * 64)


async def test_simulate_runs_a_tx_without_committing_it(harness: Harness) -> None:
    with trio.fail_after(10):
        before = (await harness.call("agora_getAccount", BOB.public_key.hex()))["result"]
        signed = _transfer(7)
        result = (await harness.call("agora_simulate", signed.encoded().hex()))["result"]
        assert result["ok"] and result["signed"] and result["height"] == 1
        assert result["events"][0]["name"] == "Transfer"
        assert result["events"][0]["data_json"][2] == 7
        unsigned = (await harness.call("agora_simulate", _unsigned(signed).encoded().hex()))
        assert unsigned["result"]["ok"] and not unsigned["result"]["signed"]
        as_object = (await harness.call("agora_simulate", {
            "sender": "0x" + ALICE.public_key.hex(), "method": "transfer",
            "args_json": ["0x" + BOB.public_key.hex(), 9]}))["result"]
        assert as_object["ok"] and as_object["events"][0]["data_json"][2] == 9
        too_much = (await harness.call("agora_simulate", {
            "sender": "0x" + ALICE.public_key.hex(), "method": "transfer",
            "args_json": ["0x" + BOB.public_key.hex(), 10**9]}))["result"]
        assert not too_much["ok"] and too_much["status_name"] == "INSUFFICIENT_BALANCE"
        forged = _transfer(7, nonce=5)
        import dataclasses

        forged = dataclasses.replace(forged, signature=b"\x01" * 64)
        bad = (await harness.call("agora_simulate", forged.encoded().hex()))["result"]
        assert bad["status_name"] == "BAD_SIGNATURE"
        # Nothing was committed or queued.
        after = (await harness.call("agora_getAccount", BOB.public_key.hex()))["result"]
        assert after == before
        assert harness.node.mempool.info().size_txs == 0
        assert (await harness.call("agora_latestBlock", 0))["result"]["height"] == 0


async def test_rpc_discover_serves_the_checked_in_openrpc_document(harness: Harness) -> None:
    with trio.fail_after(10):
        document = (await harness.call("rpc.discover"))["result"]
    checked_in = json.loads((REPO / "docs" / "openrpc.json").read_text())
    assert document == checked_in, "regenerate: python -m node.openrpc > docs/openrpc.json"
    assert render() == (REPO / "docs" / "openrpc.json").read_text()
    names = {method["name"] for method in document["methods"]}
    assert names == set(harness.server.methods)
    get_block = next(item for item in document["methods"] if item["name"] == "agora_getBlock")
    assert [param["name"] for param in get_block["params"]] == ["shard", "height", "full"]
    assert get_block["params"][2]["required"] is False


async def test_cors_allows_only_the_configured_origins(nursery: trio.Nursery) -> None:
    config = RpcSection(port=0, cors_allowed_origins=("https://shop.example",))
    async for harness in _start(nursery, rpc=config):
        with trio.fail_after(10):
            request = {"jsonrpc": "2.0", "id": 1, "method": "agora_status"}
            good = await harness.http.post("/", json=request,
                                           headers={"origin": "https://shop.example"})
            assert good.headers["access-control-allow-origin"] == "https://shop.example"
            evil = await harness.http.post("/", json=request,
                                           headers={"origin": "https://evil.example"})
            assert "access-control-allow-origin" not in evil.headers
            preflight = await harness.http.options("/", headers={
                "origin": "https://shop.example", "access-control-request-method": "POST"})
            assert preflight.status_code == 204
            assert "POST" in preflight.headers["access-control-allow-methods"]
            denied = await harness.http.options("/", headers={"origin": "https://evil.example"})
            assert denied.status_code == 403
            good_ws = await WsClient.connect(harness.url, origin="https://shop.example")
            reply = await _ws_call(good_ws, 1, "agora_status")
            assert reply["result"]["shard_count"] == 2
            await good_ws.close()
            evil_ws = await WsClient.connect(harness.url, origin="https://evil.example")
            assert await evil_ws.receive_json() is None
            assert evil_ws.closed is not None and evil_ws.closed.code == 1008
            await evil_ws.close()
    async for harness in _start(nursery):  # the default: no CORS headers at all
        plain = await harness.http.post("/", json={"jsonrpc": "2.0", "id": 1,
                                                   "method": "agora_status"},
                                        headers={"origin": "https://shop.example"})
        assert "access-control-allow-origin" not in plain.headers


async def test_a_timed_out_request_keeps_its_id_also_inside_a_batch(
        nursery: trio.Nursery) -> None:
    async for harness in _start(nursery, rpc=RpcSection(port=0, request_timeout_seconds=0.2,
                                                         submit_wait_timeout_seconds_max=0.1)):
        async def hang() -> Any:
            await trio.sleep_forever()

        import dataclasses

        harness.server.methods["agora_peers"] = dataclasses.replace(
            harness.server.methods["agora_peers"], handler=hang)
        with trio.fail_after(10):
            single = await harness.call("agora_peers")
            assert single["id"] == harness.ids and single["error"]["data"]["reason"] == "TIMEOUT"
            batch = (await harness.http.post("/", json=[
                {"jsonrpc": "2.0", "id": "a", "method": "agora_status"},
                {"jsonrpc": "2.0", "id": "b", "method": "agora_peers"},
                {"jsonrpc": "2.0", "id": "c", "method": "agora_status"}])).json()
            assert [item["id"] for item in batch] == ["a", "b", "c"]
            assert "result" in batch[0]
            assert batch[1]["error"]["data"]["reason"] == "TIMEOUT"
            assert batch[2]["error"]["data"]["reason"] == "TIMEOUT"  # past the deadline


async def test_call_takes_json_args_and_can_answer_in_json(harness: Harness) -> None:
    with trio.fail_after(10):
        reply = await harness.call("agora_call", "00" * 32, "balance_of", {"who": "0x00"},
                                   None, "json")
        # The fake node has no VM queries; the args were accepted (not INVALID_PARAMS).
        assert reply["error"]["code"] == Code.NOT_AVAILABLE
        bad = await harness.call("agora_call", "00" * 32, "m", {"x": {"$int": "1.5"}})
        assert bad["error"]["data"]["param"] == "args"
        assert "$int" in bad["error"]["message"]


def test_the_fake_node_is_only_a_test_double() -> None:
    # The harness's node must be the shared fake with a real ChainStore behind it.
    node = FakeNode(_genesis())
    assert node.store.last_height(0) == 0
