"""The typed SDK against a real node process (one validator, one shard, on 127.0.0.1):
sync and async clients (trio and asyncio), contract proxies, gas estimation, events, and
an events subscription that survives a node restart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from agora_sdk import Account, AgoraClient, AsyncAgoraClient, Contract
from agora_sdk import client as sdk_client
from agora_sdk.types import Event
from tests.e2e.cluster import TestCluster, running_cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
TOKEN = Path(__file__).resolve().parents[2] / "vm" / "templates" / "token.py"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    with running_cluster(tmp_path_factory.mktemp("sdk") / "cluster", validators=1,
                         shards=1) as running:
        yield running


@pytest.fixture(scope="module")
def token(cluster: TestCluster) -> Contract:
    client = AgoraClient(cluster.local.rpc_urls[0])
    return client.deploy(cluster.faucet, TOKEN, token_name="Gold", amount=10**30)


def test_a_contract_proxy_builds_signs_sends_and_waits(cluster: TestCluster,
                                                       token: Contract) -> None:
    client = token.client
    friend = Account.generate()
    receipt = token.transfer(to=friend.address, amount=2**70, account=cluster.faucet)
    assert receipt.ok and receipt.result is True and receipt.height
    (event,) = receipt.events
    assert event.name == "Transfer" and event.data["amount"] == 2**70
    assert event.data["to"] == friend.address and isinstance(event.data["to"], bytes)
    assert receipt.raw["events"][0]["data_json"]["amount"] == str(2**70)  # JSON form
    assert token.balance_of(who=friend.address) == 2**70
    # The gas limit came from a simulation plus a margin, not from a fixed default.
    tx = client.get_transaction(receipt.tx_hash)
    assert tx is not None and receipt.gas_used < tx["gas_limit"] < 2_000_000
    simulated = client.simulate(client.build_contract_call(
        cluster.faucet, token.address, "transfer", {"to": friend.address, "amount": 1}))
    assert simulated.receipt.ok and simulated.signed and simulated.receipt.gas_used > 0
    assert token.balance_of(who=friend.address) == 2**70  # the simulation changed nothing


def test_call_takes_json_args_and_answers_in_json_on_a_real_node(cluster: TestCluster,
                                                                 token: Contract) -> None:
    import httpx

    body = {"jsonrpc": "2.0", "id": 1, "method": "agora_call", "params": {
        "contract": token.address.hex(), "method": "balance_of",
        "args": {"who": "0x" + cluster.faucet.address.hex()}, "format": "json"}}
    reply = httpx.post(cluster.local.rpc_urls[0], json=body, timeout=10).json()["result"]
    balance = token.balance_of(who=cluster.faucet.address)
    assert reply["result_json"] == str(balance)  # beyond 2**53: a decimal string
    from vm import codec as vm_codec

    assert vm_codec.decode(bytes.fromhex(reply["result"])) == balance  # the exact hex
    body["params"]["args"] = {"who": 1.5}
    error = httpx.post(cluster.local.rpc_urls[0], json=body, timeout=10).json()["error"]
    assert error["data"] == {"reason": "INVALID_PARAMS", "param": "args"}


def test_typed_reads_batches_and_event_pages(cluster: TestCluster, token: Contract) -> None:
    client = token.client
    friend = Account.generate()
    for amount in (1, 2, 3):
        assert token.transfer(to=friend.address, amount=amount, account=cluster.faucet).ok
    events = [event for event in client.iter_events(contract=token.address, name="Transfer")
              if event.data["to"] == friend.address]
    assert [event.data["amount"] for event in events] == [1, 2, 3]
    first, cursor = client.get_events(contract=token.address, limit=1)
    assert len(first) == 1 and cursor is not None
    block = client.block(0, events[0].height)
    assert block is not None and events[0].tx_hash in block.tx_hashes
    status, missing, account = client.batch([
        ("agora_status", []), ("agora_getReceipt", ["00" * 32]),
        ("agora_getBlock", [99, 1])])
    assert status["chain_id"] == "agora-local" and missing is None
    assert account.reason == "INVALID_PARAMS"  # an error inside a batch, not raised
    assert client.account(cluster.faucet.address).balance > 0


async def _async_story(url: str, faucet: Account, token: bytes) -> list[Event]:
    async with AsyncAgoraClient(url) as client:
        proxy = client.contract(token, TOKEN, account=faucet)
        friend = Account.generate()
        receipt = await proxy.transfer(to=friend.address, amount=5)
        assert receipt.ok and receipt.events[0].data["amount"] == 5
        assert await proxy.balance_of(who=friend.address) == 5
        page, _cursor = await client.get_events(contract=token, name="Transfer", limit=2)
        assert len(page) == 2 and all(event.name == "Transfer" for event in page)
        status, block = await client.batch([("agora_status", []),
                                            ("agora_getBlock", [0, receipt.height])])
        assert receipt.tx_hash.hex() in block["txs"] and status["shard_count"] == 1
        seen = []
        async for event in client.subscribe_events(contract=token, name="Transfer",
                                                   from_height=receipt.height):
            seen.append(event)
            if event.data["to"] == friend.address:
                break
        return seen


def test_the_async_client_works_under_trio_and_asyncio(cluster: TestCluster,
                                                       token: Contract) -> None:
    url = cluster.local.rpc_urls[0]
    under_trio = trio.run(_async_story, url, cluster.faucet, token.address)
    under_asyncio = asyncio.run(_async_story(url, cluster.faucet, token.address))
    for seen in (under_trio, under_asyncio):
        assert seen[-1].data["amount"] == 5


def test_agora_contract_events_reads_and_follows(cluster: TestCluster, token: Contract) -> None:
    import json

    from click.testing import CliRunner

    from node.cli import main

    friend = Account.generate()
    assert token.transfer(to=friend.address, amount=11, account=cluster.faucet).ok
    url, address = cluster.local.rpc_urls[0], token.address.hex()
    listed = CliRunner().invoke(main, ["contract", "events", "--rpc", url, "--contract",
                                       address, "--name", "Transfer"])
    assert listed.exit_code == 0, listed.output
    lines = [json.loads(line) for line in listed.output.splitlines()]
    assert lines[-1]["data_json"]["amount"] == 11 and lines[-1]["name"] == "Transfer"
    followed = CliRunner().invoke(main, ["contract", "events", "--rpc", url, "--contract",
                                         address, "--follow", "--count", "2"])
    assert followed.exit_code == 0, followed.output
    assert [json.loads(line)["height"] for line in followed.output.splitlines()] == [
        line["height"] for line in lines[:2]]


def test_an_events_subscription_survives_a_node_restart(
        cluster: TestCluster, token: Contract, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs last in this module: it restarts the node. A sync subscriber (a thread) and an
    async one (trio, in another thread) both see every event once, in order."""
    client = token.client
    friend = Account.generate()
    start = client.latest(0)
    assert start is not None
    received: list[Event] = []
    received_async: list[Event] = []
    connects: list[str] = []
    connect = sdk_client.SyncWebSocket.connect.__func__  # type: ignore[attr-defined]

    def counting_connect(cls: type, url: str, timeout_seconds: float) -> Any:
        connects.append(url)
        return connect(cls, url, timeout_seconds)

    monkeypatch.setattr(sdk_client.SyncWebSocket, "connect", classmethod(counting_connect))

    def subscribe() -> None:
        watcher = AgoraClient(cluster.local.rpc_urls[0], timeout_seconds=10)
        for event in watcher.subscribe_events(contract=token.address, name="Transfer",
                                              from_height=start.height):
            if event.data["to"] == friend.address:
                received.append(event)
                print(f"event amount={event.data['amount']} height={event.height} "
                      f"position={event.position}")  # shown with pytest -s
            if len(received) == 6:
                return

    async def subscribe_async() -> None:
        async with AsyncAgoraClient(cluster.local.rpc_urls[0], timeout_seconds=10) as watcher:
            async for event in watcher.subscribe_events(
                    contract=token.address, name="Transfer", from_height=start.height):
                if event.data["to"] == friend.address:
                    received_async.append(event)
                if len(received_async) == 6:
                    return

    threads = [threading.Thread(target=subscribe, daemon=True),
               threading.Thread(target=trio.run, args=(subscribe_async,), daemon=True)]
    for thread in threads:
        thread.start()
    for amount in (1, 2, 3):
        assert token.transfer(to=friend.address, amount=amount, account=cluster.faucet).ok
    wait_until(lambda: len(received) == len(received_async) == 3, 30,
               "three events before the restart")
    cluster.local.kill(0)
    print("node0 killed (SIGKILL)")
    cluster.local.start([0])
    cluster.local.wait_ready(timeout_seconds=60)
    print("node0 restarted")
    for amount in (4, 5, 6):
        assert token.transfer(to=friend.address, amount=amount, account=cluster.faucet).ok
    wait_until(lambda: len(received) == len(received_async) == 6, 60,
               "three more events after the restart")
    for thread in threads:
        thread.join(timeout=10)
    assert len(connects) >= 2  # the sync subscriber did reconnect
    for seen in (received, received_async):
        assert [event.data["amount"] for event in seen] == [1, 2, 3, 4, 5, 6]
        positions = [event.position for event in seen]
        assert positions == sorted(set(positions))  # in order, no duplicate
