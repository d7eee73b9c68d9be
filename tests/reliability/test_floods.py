"""Floods (#17 point 8): a real 4-validator cluster under a mempool flood at 10x its
capacity, slow-loris HTTP connections, oversize bodies and a WebSocket subscription flood
with consumers that never read, all at once, while an honest client keeps sending
transfers. What must hold: every honest transfer finalizes (retrying only on the
documented, retryable MEMPOOL_FULL), status keeps answering, no node dies or logs a
traceback. The figures (honest latency under the flood) are printed for RESULTS.md."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from node.client import Account, AgoraClient, RpcCallError
from node.setup import LocalCluster, free_port_block
from tests.node.ws_client import WsClient
from tests.reliability.bank import account_balance_initial
from node.genesis import Balance

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

mempool_capacity_txs = 2000
flood_accounts = 20
flood_txs = 10 * mempool_capacity_txs
slow_loris_sockets = 60
ws_sessions = 20
honest_transfers = 25
honest_deadline_seconds = 60.0  # per transfer, retries included
mempool_full_code = -32001


def _account(label: bytes, index: int) -> Account:
    return Account.from_seed(hashlib.sha256(b"agora-flood-%s-%d" % (label, index)).digest())


def _patch_configs(cluster: LocalCluster) -> None:
    """A small mempool, so that 10x its capacity is quick to send."""
    for home in cluster.homes:
        path = home / "config.toml"
        text = path.read_text()
        for name in ("capacity_txs", "shard_capacity_txs"):
            lines = [f"{name} = {mempool_capacity_txs}" if line.startswith(f"{name} = ")
                     else line for line in text.splitlines()]
            assert f"{name} = {mempool_capacity_txs}" in lines, text
            text = "\n".join(lines) + "\n"
        path.write_text(text)


async def _mempool_flood(urls: list[str], txs: list[Any], sent: list[int]) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        for start in range(0, len(txs), 100):
            body = [{"jsonrpc": "2.0", "id": n, "method": "agora_sendTransaction",
                     "params": [tx.encoded().hex()]}
                    for n, tx in enumerate(txs[start:start + 100])]
            try:
                await http.post(urls[(start // 100) % len(urls)], json=body)
            except httpx.HTTPError:
                pass  # a refused or dropped flood request is the point, not a failure
            sent[0] += len(body)


async def _slow_loris(port: int, stop: trio.Event) -> None:
    streams = []
    for _ in range(slow_loris_sockets):
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            streams.append(stream)
        except OSError:
            break
    while not stop.is_set():
        for stream in streams:
            try:
                await stream.send_all(b"X")  # one byte of a header that never ends
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the server hung up on it: good
        with trio.move_on_after(1.0):
            await stop.wait()
    for stream in streams:
        await stream.aclose()


async def _oversize(url: str, stop: trio.Event, count: list[int]) -> None:
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    async with httpx.AsyncClient(timeout=10.0) as http:
        while not stop.is_set():
            try:
                response = await http.post(url, content=big,
                                           headers={"content-type": "application/json"})
                assert response.status_code == 413, response.status_code
            except httpx.HTTPError:
                pass  # the server may close the connection mid-body: also a refusal
            count[0] += 1


async def _subscription_flood(url: str, stop: trio.Event, opened: list[int]) -> None:
    clients = []
    for _ in range(ws_sessions):
        try:
            client = await WsClient.connect(url)
        except OSError:
            break
        clients.append(client)
        opened[0] += 1
        for n in range(80):  # past ws_subscriptions_max (64): some are refused
            await client.send_json({"jsonrpc": "2.0", "id": n, "method": "agora_subscribe",
                                    "params": ["newBlocks", 0]})
    await stop.wait()  # never read: the server must bound what it queues for us
    for client in clients:
        with trio.move_on_after(2):
            try:
                await client.close()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # already closed by the server for not keeping up


def _honest_transfer(client: AgoraClient, sender: Account, to: bytes) -> tuple[float, int]:
    """Seconds until the transfer finalized, and MEMPOOL_FULL retries it needed."""
    began = time.monotonic()
    tx = client.build_transfer(sender, to, 1)
    retries = 0
    while True:
        assert time.monotonic() - began < honest_deadline_seconds, "honest tx starved"
        try:
            receipt = client.submit_and_wait(tx, timeout_seconds=20.0)
            assert receipt["ok"], receipt
            return time.monotonic() - began, retries
        except RpcCallError as error:
            if error.code != mempool_full_code:
                raise
            retries += 1
            time.sleep(0.2)


async def test_honest_transfers_finalize_through_every_flood_at_once(tmp_path: Path) -> None:
    honest = _account(b"honest", 0)
    flooders = [_account(b"flooder", i) for i in range(flood_accounts)]
    base = free_port_block(12)
    cluster = LocalCluster(
        tmp_path / "cluster", 4, 1, fresh=True, p2p_port=base, rpc_port=base + 4,
        metrics_port=base + 8,
        consensus_overrides={"tick_interval_ms": 20, "view_change_timeout_ticks": 100,
                             "request_timeout_ticks": 25, "empty_block_interval_ms": 300},
        extra_balances=tuple(Balance(account.address, account_balance_initial)
                             for account in [honest, *flooders]))
    _patch_configs(cluster)
    try:
        cluster.start()
        cluster.wait_ready(timeout_seconds=90)
        client = AgoraClient(cluster.rpc_urls[0], timeout_seconds=30.0)
        block = client.latest_block(0)
        latest = 0 if block is None else block["height"]
        txs = [client.build_transfer(flooders[i % flood_accounts], honest.address, 1,
                                     expiry_height=latest + 900, nonce=i)
               for i in range(flood_txs)]
        latencies: list[float] = []
        retries_total = 0
        sent, oversize, opened = [0], [0], [0]
        stop = trio.Event()
        rpc_port = base + 4
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_mempool_flood, cluster.rpc_urls, txs, sent)
            nursery.start_soon(_slow_loris, rpc_port, stop)
            nursery.start_soon(_oversize, cluster.rpc_urls[1], stop, oversize)
            nursery.start_soon(_subscription_flood, cluster.rpc_urls[2], stop, opened)
            for n in range(honest_transfers):
                node_client = AgoraClient(cluster.rpc_urls[n % 4], timeout_seconds=30.0)
                latency, retries = await trio.to_thread.run_sync(
                    _honest_transfer, node_client, honest, flooders[0].address)
                node_client.close()
                latencies.append(latency)
                retries_total += retries
                status = await trio.to_thread.run_sync(client.status)
                assert status["shards"][0]["height"] > latest
            stop.set()
        cluster.check_alive()
    finally:
        cluster.stop()
    for home in cluster.homes:
        log = (home / "node.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
    figures = {"flood_txs_sent": sent[0], "oversize_requests": oversize[0],
               "ws_sessions": opened[0], "slow_loris_sockets": slow_loris_sockets,
               "honest_transfers": len(latencies), "mempool_full_retries": retries_total,
               "honest_latency_median_s": round(statistics.median(latencies), 3),
               "honest_latency_max_s": round(max(latencies), 3)}
    print("flood figures:", json.dumps(figures))
    assert len(latencies) == honest_transfers
