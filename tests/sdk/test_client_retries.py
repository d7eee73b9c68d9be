"""The SDK clients retry idempotent calls after transport errors and never retry a call
that is not idempotent (httpx's MockTransport stands in for a flaky network)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio

from agora_sdk import AgoraClient, AsyncAgoraClient, TransportError
from agora_sdk import client as sdk_client


class Flaky:
    """Fails the first ``failures`` requests with a connection error, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body["method"])
        if len(self.requests) <= self.failures:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"],
                                         "result": {"chain_id": "c", "shard_count": 1}})


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk_client, "retry_pause_seconds", 0.0)


def _sync(flaky: Flaky, retries: int = 3) -> AgoraClient:
    return AgoraClient("http://node", retries=retries,
                       http=httpx.Client(transport=httpx.MockTransport(flaky)))


def test_an_idempotent_call_is_retried_until_it_succeeds() -> None:
    flaky = Flaky(failures=2)
    assert _sync(flaky).status()["chain_id"] == "c"
    assert flaky.requests == ["agora_status"] * 3


def test_retries_are_bounded() -> None:
    flaky = Flaky(failures=10)
    with pytest.raises(TransportError):
        _sync(flaky, retries=2).status()
    assert len(flaky.requests) == 3


def test_sending_a_transaction_is_not_retried() -> None:
    flaky = Flaky(failures=1)
    with pytest.raises(TransportError):
        _sync(flaky).call("agora_sendTransaction", "00")
    assert flaky.requests == ["agora_sendTransaction"]


async def test_the_async_client_retries_too() -> None:
    flaky = Flaky(failures=1)
    async with AsyncAgoraClient("http://node", http=httpx.AsyncClient(
            transport=httpx.MockTransport(flaky))) as client:
        with trio.fail_after(10):
            assert (await client.status())["shard_count"] == 1
            with pytest.raises(TransportError):
                flaky.failures, flaky.requests = 100, []
                await client.call("agora_sendTransaction", "00")
    assert flaky.requests == ["agora_sendTransaction"]


def test_a_batch_returns_results_and_errors_in_request_order() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        calls: list[dict[str, Any]] = json.loads(request.content)
        replies: list[dict[str, Any]] = []
        for call in reversed(calls):  # any order on the wire
            if call["method"] == "bad":
                replies.append({"jsonrpc": "2.0", "id": call["id"], "error": {
                    "code": -32601, "message": "no", "data": {"reason": "METHOD_NOT_FOUND"}}})
            else:
                replies.append({"jsonrpc": "2.0", "id": call["id"], "result": call["method"]})
        return httpx.Response(200, json=replies)

    client = AgoraClient("http://node", http=httpx.Client(transport=httpx.MockTransport(answer)))
    first, error, last = client.batch([("a", []), ("bad", []), ("c", [])])
    assert (first, last) == ("a", "c") and error.reason == "METHOD_NOT_FOUND"
