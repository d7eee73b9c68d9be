"""The explorer's pages against a fake RPC: escaping, future receipt fields, status codes,
and the number of RPC reads per page (node/explorer/app.py lists them)."""

from __future__ import annotations

from typing import Any

import pytest

from node.config import ExplorerSection
from node.explorer import pages
from node.explorer.app import Explorer
from node.explorer.html import Safe, el, esc
from vm import codec as vm_codec

Json = Any
tip = 40
tx_hash = "aa" * 32
block_hash = "bb" * 32
address = "cc" * 32
evil = '<script>alert(1)</script>"onload="x'


def _block(shard: int, height: int) -> Json:
    txs = [{"hash": tx_hash, "sender": address, "contract": "", "method": "transfer",
            "args": "92c420" + "dd" * 32 + "05", "nonce": 1, "expiry_height": 9,
            "gas_limit": 0, "signature": "ee" * 64, "chain_id": "c"}] * (60 if height == 7
                                                                        else 1)
    return {"hash": block_hash, "chain_id": "c", "shard": shard, "height": height,
            "prev_hash": "00" * 32, "view": 0, "proposer": 0, "timestamp_ms": 1_700_000_000_000,
            "tx_root": "01" * 32, "app_height": height - 1, "state_root": "02" * 32,
            "receipts_root": "03" * 32, "tx_count": len(txs), "txs": txs,
            "executed_state_root": "04" * 32, "executed_receipts_root": "05" * 32,
            "certificate": {"view": 0, "height": height, "signers": [0]}}


def _receipt(**extra: Json) -> Json:
    return {"tx_hash": tx_hash, "status": 2, "status_name": "REVERT", "ok": False,
            "gas_used": 7, "error": evil,
            "events": [{"contract": address, "name": "Note", "data": vm_codec.encode(
                {"text": evil}, 100).hex()}],
            "result": "", "shard": 0, "height": 3, "position": 0, **extra}


class FakeRpc:
    """Answers JSON-RPC batches from canned data and counts batches and calls."""

    def __init__(self) -> None:
        self.batches = 0
        self.calls = 0

    async def __call__(self, batch: Json) -> Json:
        self.batches += 1
        self.calls += len(batch)
        return [{"jsonrpc": "2.0", "id": item["id"], "result": self.answer(
            item["method"], item["params"])} for item in batch]

    def answer(self, method: str, params: list[Json]) -> Json:
        if method == "agora_status":
            return {"chain_id": "c", "shard_count": 1, "node_index": 0, "txs_committed": 3,
                    "uptime_seconds": 1.0, "peers": [],
                    "shards": [{"shard": 0, "height": tip, "view": 0, "primary": 0,
                                "halted": False, "in_view_change": False}]}
        if method == "agora_validators":
            return [{"index": 0, "name": "node0", "public_key": "ab" * 32,
                     "p2p_address": "", "rpc_address": ""}]
        if method == "agora_mempool":
            return {"size_txs": 0, "size_bytes": 0, "in_flight_txs": 0,
                    "shard_sizes_txs": [0], "rejections": {}}
        if method == "agora_latestBlock":
            return _block(params[0], tip)
        if method == "agora_getBlock":
            return _block(params[0], params[1]) if 1 <= params[1] <= tip else None
        if method == "agora_getBlockByHash":
            return _block(0, 3) if params[0] == block_hash else None
        if method == "agora_getTransaction":
            return {**_block(0, 3)["txs"][0], "shard": 0, "height": 3, "position": 0} \
                if params[0] == tx_hash else None
        if method == "agora_getReceipt":
            return _receipt() if params[0] == tx_hash else None
        if method == "agora_getAccount":
            return {"address": params[0], "shard": 0, "balance": 0}
        if method == "agora_getState":
            return None
        if method == "agora_recentActivity":
            return {"address": params[0], "shard": 0, "is_contract": False,
                    "blocks_per_shard": 256, "complete": True,
                    "scanned": [{"shard": 0, "from_height": 1, "to_height": tip}],
                    "txs": [], "events": []}
        raise AssertionError(f"unexpected {method}")


async def _get(explorer: Any, path: str, method: str = "GET"
               ) -> tuple[int, dict[bytes, bytes], str]:
    """Serve one request through an ASGI app (the explorer or the whole RPC server)."""
    sent: list[Json] = []

    async def send(message: Json) -> None:
        sent.append(message)

    path, _, query = path.partition("?")
    await explorer({"type": "http", "method": method, "path": path, "headers": [],
                    "query_string": query.encode()}, None, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"].decode()


@pytest.fixture
def rpc() -> FakeRpc:
    return FakeRpc()


@pytest.fixture
def explorer(rpc: FakeRpc) -> Explorer:
    return Explorer(rpc, ExplorerSection(page_size_max=25), request_timeout_seconds=5.0)


def test_text_and_attributes_are_escaped_and_only_safe_markup_passes() -> None:
    markup = el("a", {"href": evil, "title": evil}, evil, Safe("<b>kept</b>"))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert '"onload="' not in markup and "&quot;onload=&quot;" in markup
    assert "<b>kept</b>" in markup
    assert esc(esc("<")) == "&lt;"  # escaping twice does not double-escape Safe text


def test_a_receipt_with_fee_and_cross_shard_legs_shows_them() -> None:
    tx = {**_block(0, 3)["txs"][0], "shard": 0, "height": 3, "position": 0}
    receipt = _receipt(fee=21, decision="COMMIT", legs=[
        {"shard": 0, "state": "PREPARED"}, {"shard": 1, "state": "APPLIED"}], epoch=5)
    page = pages.tx_page(tx, receipt)
    assert "Fee" in page and ">21<" in page
    assert "Cross-shard" in page and "COMMIT" in page and "APPLIED" in page
    assert "More receipt fields" in page and "epoch" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


def test_undecodable_and_large_values_are_bounded() -> None:
    from node.explorer.decode import decode_payload, render_value, value_items_max

    assert "not decodable" in render_value(decode_payload("ab" * 32, "c1c1"))
    assert "not decodable" in render_value(decode_payload("", "zz"))  # bad hex: empty bytes
    many = render_value(list(range(value_items_max + 10)))
    assert "… 10 more" in many and many.count("<li") == value_items_max + 1


@pytest.mark.parametrize("path, batches_max, calls_max", [
    ("/explorer", 2, 8),  # status once (shard count), then one batch
    ("/explorer/shard/0", 3, 2 + 25 + 1),
    ("/explorer/block/0/7", 3, 2 + 25 + 1),
    (f"/explorer/block/{block_hash}", 3, 3 + 1),
    (f"/explorer/tx/{tx_hash}", 1, 2),
    (f"/explorer/account/{address}", 2, 4),
    (f"/explorer/search?q={tx_hash}", 1, 2),
])
async def test_every_page_takes_a_bounded_number_of_reads(
        explorer: Explorer, rpc: FakeRpc, path: str, batches_max: int, calls_max: int) -> None:
    status, headers, body = await _get(explorer, path)
    assert status in (200, 303), body
    assert rpc.batches <= batches_max and rpc.calls <= calls_max, (rpc.batches, rpc.calls)
    assert b"script-src 'self'" in headers[b"content-security-policy"]


async def test_a_big_block_is_paged_and_the_page_links_onward(explorer: Explorer) -> None:
    status, _, body = await _get(explorer, "/explorer/block/0/7?page=1")
    assert status == 200 and "page 2 of 3" in body
    assert "/explorer/block/0/7?page=2" in body and "/explorer/block/0/7?page=0" in body
    status, _, _ = await _get(explorer, "/explorer/block/0/7?page=3")
    assert status == 404


@pytest.mark.parametrize("path, method, status, text", [
    ("/explorer/tx/" + "ff" * 32, "GET", 404, "No committed transaction"),
    ("/explorer/block/0/999", "GET", 404, "No finalized block at height 999"),
    ("/explorer/block/" + "ff" * 32, "GET", 404, "No finalized block at hash"),
    ("/explorer/shard/5", "GET", 404, "Shard 5 does not exist"),
    ("/explorer/tx/xyz", "GET", 400, "is not a 32-byte hex hash"),
    ("/explorer/shard/-1", "GET", 400, "non-negative integer"),
    ("/explorer/nothing", "GET", 404, "no such explorer page"),
    ("/explorer/search?q=%3Cscript%3E", "GET", 400, "Not a transaction hash"),
    ("/explorer/search?q=", "GET", 400, "Type a transaction hash"),
    ("/explorer?" + "x" * 600, "GET", 414, "at most 512 characters"),
    ("/explorer", "POST", 405, "read-only"),
    ("/explorer/static/../app.py", "GET", 404, "no such asset"),
])
async def test_bad_requests_get_clear_answers(explorer: Explorer, path: str, method: str,
                                              status: int, text: str) -> None:
    got, _, body = await _get(explorer, path, method)
    assert got == status and text.lower() in body.lower(), body
    assert "<script>" not in body


async def test_search_redirects_to_what_it_found(explorer: Explorer) -> None:
    for query, target in ((tx_hash.upper(), f"/explorer/tx/{tx_hash}"),
                          (f"0x{block_hash}", f"/explorer/block/{block_hash}"),
                          (address, f"/explorer/account/{address}"),
                          ("12", "/explorer/block/0/12")):
        status, headers, _ = await _get(explorer, f"/explorer/search?q={query}")
        assert (status, headers[b"location"].decode()) == (303, target)


async def test_static_assets_are_served_and_head_has_no_body(explorer: Explorer) -> None:
    status, headers, body = await _get(explorer, "/explorer/static/live.js")
    assert status == 200 and headers[b"content-type"].startswith(b"text/javascript")
    assert "agora_subscribe" in body
    status, headers, body = await _get(explorer, "/explorer", "HEAD")
    assert status == 200 and body == "" and int(headers[b"content-length"]) > 0


async def test_the_rpc_server_serves_the_mount_within_its_connection_limit(
        explorer: Explorer) -> None:
    from types import SimpleNamespace

    from node.config import RpcSection
    from node.rpc import RpcServer

    api = SimpleNamespace(status=None, validators=None, peers=None)
    server = RpcServer(api, RpcSection(port=0, connections_max=1))  # type: ignore[arg-type]
    server.mounts["/explorer"] = explorer
    status, _, body = await _get(server, f"/explorer/tx/{tx_hash}")
    assert status == 200 and tx_hash in body and server.active_connections == 0
    server.active_connections = 1  # the one allowed connection is busy
    status, _, _ = await _get(server, "/explorer")
    assert status == 503
    server.active_connections = 0
    status, _, body = await _get(server, "/explorers")
    assert status == 404 and "no such path" in body  # a prefix match is a whole segment
