"""The Python client against a real RPC server (in a background trio thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from node.client import Account, AgoraClient, RpcCallError, TransportError
from node.config import RpcSection
from node.genesis import Balance, Genesis, Validator
from node.rpc import Code, RpcServer
from ledger.sharding import shard_of_account
from tests.node.fake_node import FakeNode
from tests.node.txs import CHAIN_ID, signer

SHARDS = 2


def _account_in_shard(shard: int, start: int) -> Account:
    for index in range(start, start + 500):
        account = Account.from_seed(index.to_bytes(32, "big"))
        if shard_of_account(account.address, SHARDS) == shard:
            return account
    raise AssertionError("no account found")


ALICE = _account_in_shard(0, 1)
BOB = _account_in_shard(0, 1000)
ISSUER = _account_in_shard(0, 2000)


@pytest.fixture
def url() -> Iterator[str]:
    genesis = Genesis(
        chain_id=CHAIN_ID, shard_count=SHARDS,
        validators=(Validator("v0", signer(999).public_key, "127.0.0.1:1", "127.0.0.1:2"),),
        balances=(Balance(ALICE.address, 1000),), issuers=(ISSUER.address,))
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        node = FakeNode(genesis)
        server = RpcServer(node, RpcSection(port=0, submit_wait_timeout_seconds_max=5))
        async with trio.open_nursery() as nursery:
            box["url"] = (await nursery.start(server.serve))[0]
            nursery.start_soon(node.run_producer)
            box["token"] = trio.lowlevel.current_trio_token()
            box["cancel"] = nursery.cancel_scope.cancel
            ready.set()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    assert ready.wait(10), "server did not start"
    yield box["url"]
    trio.from_thread.run_sync(box["cancel"], trio_token=box["token"])
    thread.join(10)


def test_accounts_round_trip_through_key_files(tmp_path: Path) -> None:
    account = Account.generate()
    account.save(tmp_path / "a.key")
    assert Account.load(tmp_path / "a.key") == account
    assert Account.from_seed(account.seed).address == account.address
    assert account.seed.hex() not in repr(account)  # the secret never lands in logs


def test_transfer_end_to_end(url: str) -> None:
    with AgoraClient(url, timeout_seconds=10) as client:
        tx = client.build_transfer(ALICE, BOB.address, 25)
        assert tx.has_valid_signature() and tx.chain_id == CHAIN_ID
        assert tx.expiry_height == 100  # latest height 0 + default window
        receipt = client.submit_and_wait(tx, timeout_seconds=5)
        assert receipt["ok"] and receipt["tx_hash"] == tx.hash().hex()
        assert client.balance(BOB.address) == 25
        assert client.get_receipt(tx.hash())["height"] == receipt["height"]  # type: ignore[index]
        block = client.get_block(0, receipt["height"], full=True)
        assert block is not None and block["txs"][0]["hash"] == tx.hash().hex()
        assert client.get_block_by_hash(bytes.fromhex(block["hash"]))["height"] == block["height"]  # type: ignore[index]
        assert client.get_transaction(tx.hash())["sender"] == ALICE.address.hex()  # type: ignore[index]
        assert client.get_state(0, b"bal/" + BOB.address) == (25).to_bytes(8, "big")
        assert client.validators()[0]["name"] == "v0"
        assert client.mempool()["size_txs"] == 0


def test_submit_then_poll_and_failed_receipts(url: str) -> None:
    with AgoraClient(url) as client:
        mint = client.build_mint(ALICE, ALICE.address, 5)  # not an issuer
        receipt = client.submit_and_wait(mint)
        assert not receipt["ok"] and receipt["status_name"] == "NOT_ISSUER"
        issued = client.submit_and_wait(client.build_mint(ISSUER, BOB.address, 9))
        assert issued["ok"]
        tx_hash = client.submit(client.build_transfer(BOB, ALICE.address, 1))
        assert len(tx_hash) == 32


def test_errors_carry_code_and_reason(url: str) -> None:
    with AgoraClient(url) as client:
        tx = client.build_transfer(ALICE, BOB.address, 1, nonce=5)
        client.submit_and_wait(tx)
        with pytest.raises(RpcCallError) as caught:
            client.submit(tx)
        assert caught.value.code == Code.ALREADY_COMMITTED
        assert caught.value.reason == "ALREADY_COMMITTED"
        forged = client.build_transfer(ALICE, BOB.address, 1, chain_id="elsewhere",
                                       expiry_height=10)
        with pytest.raises(RpcCallError, match="WRONG_CHAIN"):
            client.submit(forged)
        with pytest.raises(RpcCallError) as unknown:
            client.call("agora_nope")
        assert unknown.value.code == Code.METHOD_NOT_FOUND


def test_unreachable_server_is_a_transport_error() -> None:
    with AgoraClient("http://127.0.0.1:1", timeout_seconds=2) as client, \
            pytest.raises(TransportError):
        client.status()
