"""The typed Agora SDK: ``AgoraClient`` (sync) and ``AsyncAgoraClient`` (trio or asyncio).

Both return typed results (``agora_sdk.types``: ``Receipt``, ``Block``, ``Event``,
``AccountInfo``, ``Simulation``) with contract values decoded exactly, and add to the
plain JSON-RPC:

* ``batch(calls)``: one HTTP request, results (or ``RpcCallError``) in order;
* retries of idempotent calls (reads, ``agora_sendTransactionAndWait``) after transport
  errors, ``retries`` times with a doubling pause;
* events: ``get_events`` (one page), ``iter_events`` (every page), and
  ``subscribe_events`` (WebSocket; replay from ``from_height`` then live) which, after a
  lost connection or a node restart, reconnects and resumes from the last height it saw,
  skipping what it already yielded (no gap, no duplicate);
* ``contract(address, abi)``: a :class:`Contract` proxy whose methods build, sign, send
  and wait (``token.transfer(to=..., amount=...)``) and whose views query;
* gas: without a ``gas_limit`` a contract call is simulated first (``estimate_gas``).

The sync ``AgoraClient`` extends ``node.client.AgoraClient``, so every existing builder
(``build_transfer``, ``build_deploy``...) and dict-returning method stays as it was.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Self

import anyio
import httpx

from agora_sdk.abi import ContractAbi, contract_abi
from agora_sdk.types import AccountInfo, Block, Event, Receipt, Simulation, decode_value
from agora_sdk.ws import AsyncWebSocket, SyncWebSocket, WebSocketClosed
from consensus.types import Transaction
from ledger.contracts import encode_args
from ledger.sharding import home_shard, shard_of_account
from node import client as base
from node.client import Account, RpcCallError, TransportError, gas_with_margin

default_retries = 3
retry_pause_seconds = 0.2
subscription_idle_seconds = 30.0  # a receive waits this long, then checks the connection
reconnect_pause_seconds_max = 5.0
reconnect_attempts_max = 60  # consecutive failed reconnects before giving up
idempotent_methods = frozenset({
    "agora_status", "agora_getTransaction", "agora_getReceipt", "agora_getBlock",
    "agora_getBlockByHash", "agora_latestBlock", "agora_getAccount", "agora_getState",
    "agora_validators", "agora_peers", "agora_mempool", "agora_call", "agora_simulate",
    "agora_getEvents", "agora_sendTransactionAndWait", "rpc.discover"})

__all__ = ["AccountInfo", "Account", "AgoraClient", "AsyncAgoraClient", "AsyncContract",
           "Block", "Contract", "Event", "Receipt", "RpcCallError", "Simulation",
           "TransportError"]


def _reply_result(url: str, reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise TransportError(f"{url}: unexpected reply {reply!r:.200}")
    if "error" in reply:
        error = reply["error"]
        raise RpcCallError(error.get("code", 0), error.get("message", ""), error.get("data"))
    if "result" not in reply:
        raise TransportError(f"{url}: reply has neither result nor error")
    return reply["result"]


def _batch_results(url: str, requests: list[dict[str, Any]], replies: Any) -> list[Any]:
    if not isinstance(replies, list):
        replies = [replies]
    by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
    results: list[Any] = []
    for request in requests:
        try:
            results.append(_reply_result(url, by_id.get(request["id"])))
        except RpcCallError as error:
            results.append(error)
    return results


def _event_filter(contract: bytes | None, name: str | None, shard: int | None,
                  **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {key: value for key, value in extra.items() if value is not None}
    if contract is not None:
        found["contract"] = contract.hex()
    if name is not None:
        found["name"] = name
    if shard is not None:
        found["shard"] = shard
    return found


class _Resume:
    """Where a subscription is, per shard: the last position it yielded (skipped when a
    reconnect replays it), and the height to resubscribe from so that nothing is missed.

    ``from_height=None`` (live only) is pinned at the first subscription to the next
    height of the chain as ``agora_status`` reports it, so that events finalized while
    the connection is down are replayed rather than lost."""

    def __init__(self, contract: bytes | None, shard: int | None,
                 from_height: int | None) -> None:
        self.contract = contract
        self.shard = shard
        self.initial = from_height
        self.shard_count = 0
        self.last: dict[int, tuple[int, int, int]] = {}

    def resolve(self, status: dict[str, Any]) -> None:
        """Pin ``from_height`` (once) from the node's status."""
        self.shard_count = int(status["shard_count"])
        if self.initial is not None:
            return
        heights = {item["shard"]: item["height"] for item in status["shards"]}
        shard = self.shard
        if shard is None and self.contract:
            shard = shard_of_account(self.contract, self.shard_count)
        if shard is not None and shard in heights:
            self.initial = heights[shard] + 1
        else:
            self.initial = min(heights.values(), default=0) + 1

    def fresh(self, event: Event) -> bool:
        shard = event.shard or 0
        last = self.last.get(shard)
        if last is not None and event.position <= last:
            return False
        self.last[shard] = event.position
        return True

    def from_height(self) -> int | None:
        single = self.shard is not None or bool(self.contract)
        if self.last and (single or len(self.last) == self.shard_count):
            return min(position[0] for position in self.last.values())
        return self.initial


class AgoraClient(base.AgoraClient):
    """The typed, synchronous client (see the module docstring)."""

    def __init__(self, url: str, *, timeout_seconds: float = base.default_timeout_seconds,
                 http: httpx.Client | None = None, retries: int = default_retries) -> None:
        super().__init__(url, timeout_seconds=timeout_seconds, http=http)
        self.retries = retries
        self.timeout_seconds = timeout_seconds

    # -- transport --------------------------------------------------------------------

    def call(self, method: str, *params: Any, timeout_seconds: float | None = None) -> Any:
        attempts = 1 + (self.retries if method in idempotent_methods else 0)
        for attempt in range(attempts):
            try:
                return super().call(method, *params, timeout_seconds=timeout_seconds)
            except TransportError:
                if attempt + 1 == attempts:
                    raise
                time.sleep(retry_pause_seconds * 2**attempt)
        raise AssertionError("unreachable")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one request; each result, or the RpcCallError it got."""
        requests = [{"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                     "params": list(params)} for method, params in calls]
        try:
            replies = self._http.post(self.url, json=requests).json()
        except (httpx.HTTPError, ValueError) as error:
            raise TransportError(f"{self.url}: {error}") from error
        return _batch_results(self.url, requests, replies)

    # -- typed reads ------------------------------------------------------------------

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        raw = self.get_receipt(tx_hash)
        return None if raw is None else Receipt.from_json(raw)

    def block(self, shard: int, height: int) -> Block | None:
        raw = self.get_block(shard, height)
        return None if raw is None else Block.from_json(raw)

    def latest(self, shard: int) -> Block | None:
        raw = self.latest_block(shard)
        return None if raw is None else Block.from_json(raw)

    def account(self, address: bytes) -> AccountInfo:
        return AccountInfo.from_json(self.get_account(address))

    def simulate(self, tx: Transaction) -> Simulation:
        return Simulation.from_json(self.call("agora_simulate", tx.encoded().hex()))

    def send(self, tx: Transaction, timeout_seconds: float | None = None) -> Receipt:
        """Send a signed tx and wait for its typed receipt."""
        return Receipt.from_json(self.submit_and_wait(tx, timeout_seconds))

    # -- events -----------------------------------------------------------------------

    def get_events(self, *, contract: bytes | None = None, name: str | None = None,
                   shard: int | None = None, from_height: int | None = None,
                   to_height: int | None = None, limit: int | None = None,
                   cursor: str | None = None) -> tuple[list[Event], str | None]:
        """One page of finalized events and the cursor of the next (None: done)."""
        page = self.call("agora_getEvents", _event_filter(
            contract, name, shard, from_height=from_height, to_height=to_height,
            limit=limit, cursor=cursor))
        return [Event.from_json(item) for item in page["events"]], page["cursor"]

    def iter_events(self, **filter: Any) -> Iterator[Event]:
        """Every finalized event that matches, page after page."""
        cursor = None
        while True:
            events, cursor = self.get_events(**filter, cursor=cursor)
            yield from events
            if cursor is None:
                return

    def subscribe_events(self, *, contract: bytes | None = None, name: str | None = None,
                         shard: int | None = None, from_height: int | None = None
                         ) -> Iterator[Event]:
        """Events as they are finalized (from ``from_height`` first); survives node
        restarts by reconnecting and resuming from the last height it yielded."""
        resume = _Resume(contract, shard, from_height)
        resume.resolve(self.status())
        target = _event_filter(contract, name, shard)
        failures = 0
        while True:
            try:
                socket = SyncWebSocket.connect(self.url, self.timeout_seconds)
            except OSError:
                failures += 1
                if failures > reconnect_attempts_max:
                    raise
                time.sleep(min(reconnect_pause_seconds_max, retry_pause_seconds * failures))
                continue
            try:
                subscription = self._ws_subscribe(socket, "events", target,
                                                  resume.from_height())
                failures = 0
                while True:
                    try:
                        message = socket.receive_json(subscription_idle_seconds)
                    except TimeoutError:
                        continue
                    event = _notification_event(message, subscription)
                    if event is not None and resume.fresh(event):
                        yield event
            except (WebSocketClosed, OSError):
                failures += 1
                if failures > reconnect_attempts_max:
                    raise
                time.sleep(min(reconnect_pause_seconds_max, retry_pause_seconds * failures))
            finally:
                socket.close()

    def _ws_subscribe(self, socket: SyncWebSocket, kind: str, target: Any,
                      from_height: int | None) -> str:
        request_id = next(self._ids)
        socket.send_json({"jsonrpc": "2.0", "id": request_id, "method": "agora_subscribe",
                          "params": [kind, target, from_height]})
        while True:
            message = socket.receive_json(self.timeout_seconds)
            if message.get("id") == request_id:
                return str(_reply_result(self.url, message))

    # -- contracts --------------------------------------------------------------------

    def contract(self, address: bytes, abi: ContractAbi | str | Path,
                 account: Account | None = None) -> Contract:
        return Contract(self, address, _abi(abi), account)

    def deploy(self, account: Account, source: str | Path, *, shard: int | None = None,
               gas_limit: int | None = None, **init_args: Any) -> Contract:
        """Deploy, wait, and return a proxy for the new contract (raises if it failed)."""
        text = _source_text(source)
        tx = self.build_deploy(account, text, init_args, shard=shard, gas_limit=gas_limit)
        receipt = self.send(tx)
        if not receipt.ok:
            raise RpcCallError(0, f"deploy failed: {receipt.status_name}: {receipt.error}",
                               {"reason": receipt.status_name})
        return Contract(self, tx.contract, contract_abi(text), account)


def _notification_event(message: Any, subscription: str) -> Event | None:
    if not isinstance(message, dict) or message.get("method") != "agora_subscription":
        return None
    params = message.get("params", {})
    if params.get("subscription") != subscription:
        return None
    if "error" in params:  # too slow: the server closes next; resume from the last height
        raise WebSocketClosed(str(params["error"].get("message")))
    return Event.from_json(params["result"])


def _abi(abi: ContractAbi | str | Path) -> ContractAbi:
    return abi if isinstance(abi, ContractAbi) else contract_abi(_source_text(abi))


def _source_text(source: str | Path) -> str:
    if isinstance(source, Path) or (source.endswith(".py") and "\n" not in source):
        return Path(source).read_text(encoding="utf-8")
    return source


class Contract:
    """``token.transfer(to=..., amount=...)`` builds, signs, sends and waits (a Receipt);
    ``token.balance_of(who=...)`` runs the @view and returns the value."""

    def __init__(self, client: AgoraClient, address: bytes, abi: ContractAbi,
                 account: Account | None = None) -> None:
        self.client = client
        self.address = address
        self.abi = abi
        self.account = account

    def with_account(self, account: Account) -> Contract:
        return Contract(self.client, self.address, self.abi, account)

    def transact(self, method: str, *, account: Account | None = None,
                 gas_limit: int | None = None, **args: Any) -> Receipt:
        signer = account or self.account
        if signer is None:
            raise ValueError(f"{method} is a transaction: give account= (or with_account)")
        tx = self.client.build_contract_call(signer, self.address, method, args,
                                             gas_limit=gas_limit)
        return self.client.send(tx)

    def view(self, method: str, *, sender: bytes | None = None, **args: Any) -> Any:
        return self.client.view(self.address, method, args, sender)

    def events(self, name: str | None = None, from_height: int = 0) -> list[Event]:
        return list(self.client.iter_events(contract=self.address, name=name,
                                            from_height=from_height))

    def subscribe(self, name: str | None = None, from_height: int | None = None
                  ) -> Iterator[Event]:
        return self.client.subscribe_events(contract=self.address, name=name,
                                            from_height=from_height)

    def __getattr__(self, name: str) -> Any:
        method = self.abi.method(name)
        if method is None or name.startswith("_"):
            raise AttributeError(f"the contract has no @export or @view method {name!r}")
        if method.kind == "view":
            return lambda sender=None, **args: self.view(name, sender=sender, **args)
        return lambda account=None, gas_limit=None, **args: self.transact(
            name, account=account, gas_limit=gas_limit, **args)


class AsyncAgoraClient:
    """The typed client for async code, under trio or asyncio (httpx and anyio)."""

    def __init__(self, url: str, *, timeout_seconds: float = base.default_timeout_seconds,
                 retries: int = default_retries, http: httpx.AsyncClient | None = None
                 ) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds)
        self._ids = itertools.count(1)
        self._chain: tuple[str, int] | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport --------------------------------------------------------------------

    async def call(self, method: str, *params: Any, timeout_seconds: float | None = None
                   ) -> Any:
        attempts = 1 + (self.retries if method in idempotent_methods else 0)
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                "params": list(params)}
        timeout: Any = httpx.USE_CLIENT_DEFAULT if timeout_seconds is None else timeout_seconds
        for attempt in range(attempts):
            try:
                response = await self._http.post(self.url, json=body, timeout=timeout)
                return _reply_result(self.url, response.json())
            except (httpx.HTTPError, ValueError) as error:
                if attempt + 1 == attempts:
                    raise TransportError(f"{self.url}: {error}") from error
                await anyio.sleep(retry_pause_seconds * 2**attempt)
        raise AssertionError("unreachable")

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        requests = [{"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                     "params": list(params)} for method, params in calls]
        try:
            replies = (await self._http.post(self.url, json=requests)).json()
        except (httpx.HTTPError, ValueError) as error:
            raise TransportError(f"{self.url}: {error}") from error
        return _batch_results(self.url, requests, replies)

    # -- chain facts and reads ----------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("agora_status")
        return result

    async def chain(self) -> tuple[str, int]:
        if self._chain is None:
            status = await self.status()
            self._chain = (status["chain_id"], status["shard_count"])
        return self._chain

    async def receipt(self, tx_hash: bytes) -> Receipt | None:
        raw = await self.call("agora_getReceipt", tx_hash.hex())
        return None if raw is None else Receipt.from_json(raw)

    async def block(self, shard: int, height: int) -> Block | None:
        raw = await self.call("agora_getBlock", shard, height)
        return None if raw is None else Block.from_json(raw)

    async def latest(self, shard: int) -> Block | None:
        raw = await self.call("agora_latestBlock", shard)
        return None if raw is None else Block.from_json(raw)

    async def account(self, address: bytes) -> AccountInfo:
        return AccountInfo.from_json(await self.call("agora_getAccount", address.hex()))

    async def view(self, contract: bytes, method: str, args: dict[str, Any] | None = None,
                   sender: bytes | None = None) -> Any:
        params: list[Any] = [contract.hex(), method, encode_args(dict(args or {})).hex()]
        if sender is not None:
            params.append(sender.hex())
        return decode_value(await self.call("agora_call", *params))

    async def simulate(self, tx: Transaction) -> Simulation:
        return Simulation.from_json(await self.call("agora_simulate", tx.encoded().hex()))

    # -- transactions -----------------------------------------------------------------

    async def build_raw(self, account: Account, contract: bytes, method: str, args: bytes,
                        *, nonce: int | None = None, expiry_height: int | None = None,
                        expiry_blocks: int = base.default_expiry_blocks,
                        gas_limit: int | None = 0) -> Transaction:
        """A signed tx; ``gas_limit=None`` simulates it first for an estimate."""
        chain_id, shard_count = await self.chain()
        unsigned = Transaction(chain_id, account.address,
                               secrets.randbits(63) if nonce is None else nonce, 0,
                               gas_limit or 0, contract, method, args, b"\x00" * 64)
        if expiry_height is None:
            latest = await self.call("agora_latestBlock", home_shard(unsigned, shard_count))
            expiry_height = (0 if latest is None else latest["height"]) + expiry_blocks
        unsigned = dataclasses.replace(unsigned, expiry_height=expiry_height)
        if gas_limit is None:
            used = (await self.simulate(unsigned)).receipt.gas_used
            unsigned = dataclasses.replace(unsigned, gas_limit=gas_with_margin(used))
        return account.sign(unsigned)

    async def build_transfer(self, account: Account, to: bytes, amount: int) -> Transaction:
        from consensus import codec

        return await self.build_raw(account, b"", "transfer", codec.pack((to, amount)))

    async def build_contract_call(self, account: Account, contract: bytes, method: str,
                                  args: dict[str, Any] | None = None, *,
                                  gas_limit: int | None = None) -> Transaction:
        return await self.build_raw(account, contract, method, encode_args(dict(args or {})),
                                    gas_limit=gas_limit)

    async def send(self, tx: Transaction, timeout_seconds: float | None = None) -> Receipt:
        params: list[Any] = [tx.encoded().hex()]
        if timeout_seconds is not None:
            params.append(timeout_seconds)
        http_timeout = None if timeout_seconds is None else timeout_seconds + 10
        raw = await self.call("agora_sendTransactionAndWait", *params,
                              timeout_seconds=http_timeout)
        return Receipt.from_json(raw)

    # -- events -----------------------------------------------------------------------

    async def get_events(self, *, contract: bytes | None = None, name: str | None = None,
                         shard: int | None = None, from_height: int | None = None,
                         to_height: int | None = None, limit: int | None = None,
                         cursor: str | None = None) -> tuple[list[Event], str | None]:
        page = await self.call("agora_getEvents", _event_filter(
            contract, name, shard, from_height=from_height, to_height=to_height,
            limit=limit, cursor=cursor))
        return [Event.from_json(item) for item in page["events"]], page["cursor"]

    async def subscribe_events(self, *, contract: bytes | None = None,
                               name: str | None = None, shard: int | None = None,
                               from_height: int | None = None) -> AsyncIterator[Event]:
        """Async iterator of events (replay, then live); reconnects and resumes from the
        last height after a lost connection or a node restart."""
        resume = _Resume(contract, shard, from_height)
        resume.resolve(await self.status())
        target = _event_filter(contract, name, shard)
        failures = 0
        while True:
            try:
                socket = await AsyncWebSocket.connect(self.url, self.timeout_seconds)
            except (OSError, TimeoutError, WebSocketClosed):
                failures += 1
                if failures > reconnect_attempts_max:
                    raise
                await anyio.sleep(min(reconnect_pause_seconds_max,
                                      retry_pause_seconds * failures))
                continue
            try:
                subscription = await self._ws_subscribe(socket, target, resume.from_height())
                failures = 0
                while True:
                    try:
                        message = await socket.receive_json(subscription_idle_seconds)
                    except TimeoutError:
                        continue
                    event = _notification_event(message, subscription)
                    if event is not None and resume.fresh(event):
                        yield event
            except (WebSocketClosed, OSError):
                failures += 1
                if failures > reconnect_attempts_max:
                    raise
                await anyio.sleep(min(reconnect_pause_seconds_max,
                                      retry_pause_seconds * failures))
            finally:
                with anyio.CancelScope(shield=True):
                    await socket.aclose()

    async def _ws_subscribe(self, socket: AsyncWebSocket, target: Any,
                            from_height: int | None) -> str:
        request_id = next(self._ids)
        await socket.send_json({"jsonrpc": "2.0", "id": request_id,
                                "method": "agora_subscribe",
                                "params": ["events", target, from_height]})
        while True:
            message = await socket.receive_json(self.timeout_seconds)
            if message.get("id") == request_id:
                return str(_reply_result(self.url, message))

    # -- contracts --------------------------------------------------------------------

    def contract(self, address: bytes, abi: ContractAbi | str | Path,
                 account: Account | None = None) -> AsyncContract:
        return AsyncContract(self, address, _abi(abi), account)


class AsyncContract:
    """The async :class:`Contract`: ``await token.transfer(to=..., amount=...)``."""

    def __init__(self, client: AsyncAgoraClient, address: bytes, abi: ContractAbi,
                 account: Account | None = None) -> None:
        self.client = client
        self.address = address
        self.abi = abi
        self.account = account

    async def transact(self, method: str, *, account: Account | None = None,
                       gas_limit: int | None = None, **args: Any) -> Receipt:
        signer = account or self.account
        if signer is None:
            raise ValueError(f"{method} is a transaction: give account=")
        tx = await self.client.build_contract_call(signer, self.address, method, args,
                                                   gas_limit=gas_limit)
        return await self.client.send(tx)

    async def view(self, method: str, *, sender: bytes | None = None, **args: Any) -> Any:
        return await self.client.view(self.address, method, args, sender)

    def __getattr__(self, name: str) -> Any:
        method = self.abi.method(name)
        if method is None or name.startswith("_"):
            raise AttributeError(f"the contract has no @export or @view method {name!r}")
        if method.kind == "view":
            return lambda sender=None, **args: self.view(name, sender=sender, **args)
        return lambda account=None, gas_limit=None, **args: self.transact(
            name, account=account, gas_limit=gas_limit, **args)
