"""End-to-end refusals: rogue peers over real TCP, and bad RPC input over real HTTP."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import nacl.signing
import pytest
import trio

from network.config import NetworkConfig
from network.faults import FaultInjector, FaultKind, FrameFault
from network.peer_manager import PeerManager
from node.client import Account
from node.genesis import load_genesis
from node.keys import load_seed
from node.setup import free_port_block
from tests.e2e.cluster import TestCluster, running_cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _refusals(cluster: TestCluster, index: int) -> dict[str, int]:
    return cluster.client(index).status()["peer_refusals"]


async def _dial_node0_as(cluster: TestCluster, impostor_index: int,
                         key: nacl.signing.SigningKey, wrapper: FaultInjector | None) -> None:
    """Run a PeerManager claiming to be validator ``impostor_index`` and let it talk to
    node0 until a payload was sent through the wrapper (or for a bounded time)."""
    genesis = load_genesis(cluster.local.directory / "genesis.json")
    validators = dict(enumerate(genesis.validator_keys))
    validators[impostor_index] = bytes(key.verify_key)
    addresses = {}
    for index, validator in enumerate(genesis.validators):
        host, _, port = validator.p2p_address.rpartition(":")
        addresses[index] = (host, int(port))
    # Never dialled by us, but bound by the impostor: a free port (port 1 clashed with
    # other test runs binding it at the same time).
    addresses[impostor_index] = ("127.0.0.1", free_port_block(1))
    manager = PeerManager(NetworkConfig(reconnect_backoff_initial_seconds=0.05,
                                        reconnect_backoff_max_seconds=0.2),
                          key, impostor_index, genesis.chain_id, validators, addresses,
                          stream_wrapper=wrapper, genesis_hash=genesis.hash())
    with trio.move_on_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run)
            for _ in range(50):
                manager.send(0, b"hello from a rogue peer")
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()


def test_a_peer_with_an_unknown_key_and_a_peer_that_tampers_are_refused(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        wait_until(lambda: min(cluster.heights()) >= 2, 30, "first blocks")
        stranger = nacl.signing.SigningKey.generate()
        trio.run(_dial_node0_as, cluster, 3, stranger, None)
        wait_until(lambda: _refusals(cluster, 0).get("unknown_identity", 0) >= 1, 20,
                   "node0 refuses the unknown key")

        # Validator 3's real key, but every frame after the handshake is tampered with.
        cluster.local.kill(3, signal.SIGTERM)
        real_key = nacl.signing.SigningKey(load_seed(
            cluster.local.homes[3] / "node_key.hex"))
        tamper = FaultInjector([FrameFault(FaultKind.TAMPER, index) for index in
                                range(2, 40)], streams_to_fault=100, only_peer=0)
        trio.run(_dial_node0_as, cluster, 3, real_key, tamper)
        assert tamper.applied, "the fault injector never got to tamper"
        wait_until(lambda: _refusals(cluster, 0).get("tampered_frame", 0) >= 1, 20,
                   "node0 refuses the tampered frame")
        # The cluster keeps finalizing blocks with three validators.
        before = max(cluster.heights(0, [0, 1, 2]))
        wait_until(lambda: min(cluster.heights(0, [0, 1, 2])) > before, 30, "progress")


def _post(cluster: TestCluster, body: bytes | str, index: int = 0) -> httpx.Response:
    return httpx.post(cluster.local.rpc_urls[index], content=body,
                      headers={"content-type": "application/json"}, timeout=10.0)


def _error_of(response: httpx.Response) -> dict:
    reply = response.json()
    assert "error" in reply, reply
    return reply["error"]


def test_malformed_rpc_input_gets_clear_errors_and_changes_nothing(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        client = cluster.client(0)
        wait_until(lambda: min(cluster.heights()) >= 1, 30, "first block")
        recipient = Account.generate().address
        good = client.build_transfer(cluster.faucet, recipient, 5, nonce=1)
        state_before = client.get_account(recipient)

        assert _error_of(_post(cluster, b"{not json"))["code"] == -32700
        assert _error_of(_post(cluster, json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "agora_nope", "params": []})))["code"] == -32601
        assert _error_of(_post(cluster, json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "agora_getBlock",
             "params": ["zero", {}]})))["code"] == -32602
        (empty_batch,) = _post(cluster, b"[]").json()  # a batch is answered with an array
        assert empty_batch["error"]["code"] == -32600

        tampered = good.encoded()[:-1] + bytes([good.encoded()[-1] ^ 1])
        bad_signature = _error_of(_post(cluster, json.dumps(
            {"jsonrpc": "2.0", "id": 2, "method": "agora_sendTransaction",
             "params": [tampered.hex()]})))
        assert "signature" in bad_signature["message"].lower()

        wrong_chain = client.build_transfer(cluster.faucet, recipient, 5, nonce=2,
                                            chain_id="another-chain")
        error = _error_of(_post(cluster, json.dumps(
            {"jsonrpc": "2.0", "id": 3, "method": "agora_sendTransaction",
             "params": [wrong_chain.encoded().hex()]})))
        assert "chain" in error["message"].lower()

        expired = client.build_transfer(cluster.faucet, recipient, 5, nonce=3,
                                        expiry_height=0)
        error = _error_of(_post(cluster, json.dumps(
            {"jsonrpc": "2.0", "id": 4, "method": "agora_sendTransaction",
             "params": [expired.encoded().hex()]})))
        assert "expir" in error["message"].lower()

        oversize = _post(cluster, b'{"jsonrpc": "2.0", "pad": "' + b"x" * (2 * 1024 * 1024)
                         + b'"}')
        assert oversize.status_code == 413 or _error_of(oversize)

        assert client.submit(good) == good.hash()
        duplicate = _error_of(_post(cluster, json.dumps(
            {"jsonrpc": "2.0", "id": 5, "method": "agora_sendTransaction",
             "params": [good.encoded().hex()]})))
        assert "duplicate" in json.dumps(duplicate).lower() or \
            "already" in duplicate["message"].lower()

        # Only the good transfer changed anything, and the node keeps serving.
        receipt = wait_until(lambda: client.get_receipt(good.hash()), 30, "good tx committed")
        assert receipt["ok"]
        assert client.get_account(recipient)["balance"] == state_before["balance"] + 5
        height = client.status()["shards"][0]["height"]
        wait_until(lambda: client.status()["shards"][0]["height"] > height, 30,
                   "the node still finalizes blocks")


async def _subscribe_and_send(url: str, tx_hex: str, tx_hash_hex: str) -> tuple[list, dict]:
    from tests.node.ws_client import WsClient

    with trio.fail_after(60):
        client = await WsClient.connect(url)
        await client.send_json({"jsonrpc": "2.0", "id": 1, "method": "agora_subscribe",
                                "params": ["newBlocks", 0]})
        assert "result" in await client.receive_json()
        await client.send_json({"jsonrpc": "2.0", "id": 2, "method": "agora_sendTransaction",
                                "params": [tx_hex]})
        await client.send_json({"jsonrpc": "2.0", "id": 3, "method": "agora_subscribe",
                                "params": {"kind": "receipt", "target": tx_hash_hex}})
        blocks, receipt = [], None
        while receipt is None or len(blocks) < 2:
            message = await client.receive_json()
            if message.get("method") != "agora_subscription":
                continue
            result = message["params"]["result"]
            if "tx_hash" in result:
                receipt = result
            else:
                blocks.append(result)
        await client.close()
        return blocks, receipt


def test_websocket_subscriptions_deliver_new_blocks_and_a_receipt_from_a_real_node(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        client = cluster.client(2)
        tx = client.build_transfer(cluster.faucet, Account.generate().address, 3, nonce=7)
        blocks, receipt = trio.run(_subscribe_and_send, cluster.local.rpc_urls[2],
                                   tx.encoded().hex(), tx.hash().hex())
        heights = [block["height"] for block in blocks]
        assert heights == sorted(heights) and len(set(heights)) == len(heights)
        assert receipt["tx_hash"] == tx.hash().hex() and receipt["ok"]
