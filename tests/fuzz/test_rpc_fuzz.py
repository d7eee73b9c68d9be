"""Fuzzing the JSON-RPC surface of a real node (#17 point 7).

One real validator process (1 validator, 2 shards, real LevelDB and HTTP server on
127.0.0.1) gets at least 50,000 generated requests in JSON-RPC batches: every method of
the server's own method table with parameters drawn from garbage and from values shaped
like real ones (hashes, addresses, shard numbers, canonical-looking hex), plus malformed
envelopes (wrong versions, ids, params of the wrong kind, non-objects, nesting). What must
hold, for every single request:

* the reply is a JSON-RPC 2.0 response with the request's id, a result or an error;
* an error's code is one the spec or Agora's own table defines, and never -32603 (an
  internal error is an unhandled exception in the node);
* the node keeps running, its log has no traceback, and its resident memory grows by at
  most ``rss_growth_bytes_max`` over the whole run.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.config import RpcSection
from node.rpc import Code, RpcServer
from node.setup import LocalCluster, free_port_block

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

requests_min = 50_000
batch_length = 100
rss_growth_bytes_max = 64 * 1024 * 1024
allowed_codes = {int(code) for code in Code} - {int(Code.INTERNAL_ERROR)}


class _AnyApi:
    """Only for reading the method table's names: every attribute is a no-op callable."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def method_names() -> list[str]:
    """Every method the server dispatches (HTTP and WebSocket-only ones alike)."""
    return sorted(RpcServer(_AnyApi(), RpcSection()).methods)  # type: ignore[arg-type]


def _hex_of(size: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=size, max_size=size).map(bytes.hex)


json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
                | st.integers(-3, 40) | st.text(max_size=40)
                | _hex_of(32) | _hex_of(64) | st.sampled_from(["0x", "0x00", "zz", "80", ""])
                | st.binary(max_size=300).map(bytes.hex))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=8)


def request_strategy(names: list[str]) -> st.SearchStrategy[Any]:
    method = st.sampled_from(names) | st.text(max_size=20)
    params = (st.lists(json_values, max_size=5)
              | st.dictionaries(st.sampled_from(["shard", "height", "hash", "tx", "address",
                                                 "key", "contract", "method", "args",
                                                 "sender", "full", "timeout", "kind",
                                                 "target", "subscription", "x"]),
                                json_values, max_size=4)
              | json_scalars)
    well_formed = st.fixed_dictionaries({"jsonrpc": st.just("2.0"), "method": method,
                                         "params": params})
    odd = st.fixed_dictionaries({"jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
                                 "method": method | json_scalars},
                                optional={"params": json_values})
    return well_formed | odd | json_values


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _check_reply(sent: list[Any], reply: Any) -> None:
    assert isinstance(reply, list), reply
    by_id: dict[Any, dict[str, Any]] = {}
    for item in reply:
        assert isinstance(item, dict) and item.get("jsonrpc") == "2.0", item
        assert ("result" in item) != ("error" in item), item
        if "error" in item:
            error = item["error"]
            assert isinstance(error.get("message"), str), item
            assert error.get("code") in allowed_codes, item
        by_id.setdefault(item.get("id"), item)
    for request in sent:
        if isinstance(request, dict) and "id" in request:
            assert request["id"] in by_id, (request, reply[:3])


def test_fifty_thousand_generated_rpc_requests_get_only_spec_errors(tmp_path: Path) -> None:
    base = free_port_block(3)
    cluster = LocalCluster(tmp_path / "cluster", 1, 2, fresh=True, p2p_port=base,
                           rpc_port=base + 1, metrics_port=base + 2)
    names = method_names()
    ids = itertools.count(1)
    sent_total = 0
    try:
        cluster.start()
        cluster.wait_ready(timeout_seconds=60)
        pid = cluster.processes[0].pid
        url = cluster.rpc_urls[0]
        http = httpx.Client(timeout=60.0)
        http.post(url, json={"jsonrpc": "2.0", "id": 0, "method": "agora_status"})
        rss_before = _rss_bytes(pid)

        @settings(max_examples=requests_min // batch_length, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(request_strategy(names), min_size=batch_length,
                        max_size=batch_length))
        def one_batch(batch: list[Any]) -> None:
            nonlocal sent_total
            sent = [dict(item, id=next(ids)) if isinstance(item, dict) else item
                    for item in batch]
            response = http.post(url, json=sent)
            assert response.status_code == 200, response.text[:500]
            _check_reply(sent, response.json())
            sent_total += len(sent)

        one_batch()
        http.close()
        cluster.check_alive()
        rss_after = _rss_bytes(pid)
    finally:
        cluster.stop()
    log = (cluster.homes[0] / "node.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert sent_total >= requests_min
    assert rss_after - rss_before <= rss_growth_bytes_max, (rss_before, rss_after)
