"""JSON-RPC 2.0 over HTTP and WebSocket subscriptions, served by hypercorn's trio worker.

The RPC layer talks to the node only through :class:`NodeApi`, so it is tested against a
fake node and wired to the real one in ``node/node.py``.

Wire conventions (stable; clients depend on them):

* Bytes (hashes, addresses, keys, signatures, args, state keys and values) are lowercase
  hex strings without a prefix; an optional ``0x`` is accepted on input.
  ``agora_sendTransaction`` takes the hex of the canonical msgpack bytes of a signed
  ``Transaction`` (``tx.encoded().hex()``): hex rather than base64 because every other
  byte string in the API is hex and it is trivial to read in logs.
* Integers are JSON numbers (balances stay below 2**63; JavaScript clients should parse
  them as big integers). Something that does not exist is ``null``, not an error.
* Params may be positional (an array, in the documented order) or named (an object).
* ``agora_sendTransactionAndWait(tx, timeout?)`` is idempotent: resending a tx that is
  already pending or committed waits for (or returns) its receipt instead of failing, so
  a client may simply retry after a ``TIMEOUT``.

Methods (params in positional order; ``?`` marks optional ones):

==================================  ===================================  =================
method                              params                               result
==================================  ===================================  =================
agora_status                        -                                    node/chain status
agora_sendTransaction               tx (hex)                             tx hash
agora_sendTransactionAndWait        tx (hex), timeout? (s, capped)       receipt
agora_getTransaction                hash                                 tx + location|null
agora_getReceipt                    hash                                 receipt|null
agora_getBlock                      shard, height, full? (bool)          block|null
agora_getBlockByHash                hash, full?                          block|null
agora_latestBlock                   shard, full?                         block|null
agora_getAccount                    address                              {address, shard,
                                                                         balance}
agora_getState                      shard, key (hex)                     value (hex)|null
agora_validators / agora_peers      -                                    list
agora_mempool                       -                                    sizes, rejections
agora_call                          contract, method, args? (hex of the  return value (hex
                                    VM encoding of a map), sender?       of its VM encoding)
agora_subscribe (WebSocket)         kind, target                         subscription id
agora_unsubscribe (WebSocket)       subscription                         bool
==================================  ===================================  =================

``agora_recentActivity(address, blocks?)`` (an address's recent txs and a contract's recent
events, a bounded scan) is added to ``methods`` by node/explorer/history.py.

Transport (JSON-RPC 2.0 §4-§6 and the usual HTTP mapping):

* ``POST /``: one request or a batch. An empty batch is one ``-32600`` error; every member
  of a batch is answered on its own (valid or not); notifications (no ``id``) are run but
  get no response, and a request or batch of only notifications gets HTTP 204. A batch
  longer than ``rpc.batch_length_max`` is refused as a whole. JSON-RPC errors use HTTP 200
  except when the request could not be considered at all: 413 (body over
  ``rpc.body_bytes_max``; a ``Content-Length`` over it is refused before the body is read
  and a chunked body is read only up to the limit) and 503 (over ``rpc.connections_max``
  concurrent requests and WebSocket sessions). The limit counts what holds resources
  here: a request being served or a live WebSocket session. An idle keep-alive TCP
  connection costs only a socket and hypercorn closes it after
  ``rpc.keep_alive_timeout_seconds``; hypercorn offers no accept-level cap.
* ``GET /health``: ``{"status": "ok"}``.
* ``GET /explorer/...``: the block explorer's pages (node/explorer/), when mounted.
* WebSocket on ``/``: the same methods, plus ``agora_subscribe(kind, target)`` with kind
  ``"newBlocks"`` (target: shard) or ``"receipt"`` (target: tx hash), and
  ``agora_unsubscribe(id)``. Notifications are
  ``{"jsonrpc": "2.0", "method": "agora_subscription",
  "params": {"subscription": id, "result": ...}}``. A receipt subscription sends one
  notification and ends. Block subscriptions pull from the node (``wait_block``) height by
  height, so a slow subscriber never makes the node buffer anything: it just falls behind.

Errors: the standard codes, and application codes in the server range, each with
``data.reason`` (see :class:`Code`). A bad request changes nothing and the server keeps
serving; an unexpected exception inside a method is logged with its traceback and
answered with ``-32603``.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from consensus.errors import ClientError, DecodeError
from consensus.types import Block, CommitCertificate, Transaction, decode_transaction
from node.config import RpcSection
from ledger.types import Receipt, Status
from node.mempool import MempoolInfo, RejectReason, TxRejected

logger = logging.getLogger(__name__)

Json = Any
digest_bytes = 32
jsonrpc_version = "2.0"


class Code(enum.IntEnum):
    """JSON-RPC error codes. Application codes never change meaning once published."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    MEMPOOL_FULL = -32001
    BAD_SIGNATURE = -32002
    WRONG_CHAIN = -32003
    EXPIRED = -32004
    EXPIRY_TOO_FAR = -32005
    DUPLICATE = -32006
    ALREADY_COMMITTED = -32007
    OVERSIZE = -32008
    MALFORMED = -32009
    WRONG_SHARD = -32010
    TIMEOUT = -32011
    NOT_AVAILABLE = -32012
    BODY_TOO_LARGE = -32013
    TOO_MANY_CONNECTIONS = -32014
    BATCH_TOO_LARGE = -32015
    SUBSCRIPTION_LIMIT = -32016
    CALL_FAILED = -32017


class RpcError(ClientError):
    """A request the server answers with a JSON-RPC error object."""

    def __init__(self, code: Code, message: str, reason: str | None = None,
                 data: dict[str, Json] | None = None) -> None:
        self.code = code
        self.message = message
        self.data = {"reason": reason or code.name, **(data or {})}
        super().__init__(f"{code.name} ({int(code)}): {message}")

    def to_json(self) -> dict[str, Json]:
        return {"code": int(self.code), "message": self.message, "data": self.data}


class NotAvailable(RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(Code.NOT_AVAILABLE, message)


def invalid_params(message: str) -> RpcError:
    return RpcError(Code.INVALID_PARAMS, message)


def call_not_available() -> NotAvailable:
    """What ``NodeApi.call`` raises until the contract VM lands."""
    return NotAvailable("read-only contract calls are not available until the VM lands")


# -- the node as the RPC layer sees it -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxInfo:
    tx: Transaction
    shard: int
    height: int
    position: int


@dataclass(frozen=True, slots=True)
class ReceiptInfo:
    receipt: Receipt
    shard: int
    height: int
    position: int


@dataclass(frozen=True, slots=True)
class BlockInfo:
    block: Block
    certificate: CommitCertificate | None  # None for the genesis block
    # This node's (state root, receipts root) after executing the block, if known.
    roots: tuple[bytes, bytes] | None = None


class NodeApi(Protocol):
    """Everything the RPC server needs from a node.

    Unknown items are ``None``; a bad argument the RPC layer cannot check (an unknown
    shard) raises ``RpcError`` (e.g. ``invalid_params(...)``); an admission failure raises
    ``TxRejected``; any other ``ClientError`` becomes ``-32602``. ``status()`` must hold at
    least ``chain_id`` (str) and ``shard_count`` (int): ``AgoraClient`` reads them.
    ``wait_receipt`` returns None when ``timeout_seconds`` pass first; ``wait_block``
    waits (cancellably) until ``height`` of ``shard`` is finalized. ``call`` raises
    ``call_not_available()`` until the VM lands.
    """

    async def status(self) -> dict[str, Json]: ...

    async def submit_tx(self, tx: Transaction) -> bytes: ...

    async def wait_receipt(self, tx_hash: bytes, timeout_seconds: float
                           ) -> ReceiptInfo | None: ...

    async def get_tx(self, tx_hash: bytes) -> TxInfo | None: ...

    async def get_receipt(self, tx_hash: bytes) -> ReceiptInfo | None: ...

    async def get_block(self, shard: int, height: int) -> BlockInfo | None: ...

    async def get_block_by_hash(self, block_hash: bytes) -> BlockInfo | None: ...

    async def latest_block(self, shard: int) -> BlockInfo | None: ...

    async def wait_block(self, shard: int, height: int) -> BlockInfo: ...

    async def get_account(self, address: bytes) -> dict[str, Json]: ...

    async def get_state(self, shard: int, key: bytes) -> bytes | None: ...

    async def validators(self) -> list[dict[str, Json]]: ...

    async def peers(self) -> list[dict[str, Json]]: ...

    async def mempool_info(self) -> MempoolInfo: ...

    async def call(self, contract: bytes, method: str, args: bytes,
                   sender: bytes | None) -> bytes: ...


# -- JSON renderings -----------------------------------------------------------------------


def tx_json(tx: Transaction) -> dict[str, Json]:
    return {
        "hash": tx.hash().hex(), "chain_id": tx.chain_id, "sender": tx.sender.hex(),
        "nonce": tx.nonce, "expiry_height": tx.expiry_height, "gas_limit": tx.gas_limit,
        "contract": tx.contract.hex(), "method": tx.method, "args": tx.args.hex(),
        "signature": tx.signature.hex(),
    }


def tx_info_json(info: TxInfo) -> dict[str, Json]:
    return {**tx_json(info.tx), "shard": info.shard, "height": info.height,
            "position": info.position}


def receipt_json(info: ReceiptInfo) -> dict[str, Json]:
    receipt = info.receipt
    try:
        status_name = Status(receipt.status).name
    except ValueError:
        status_name = f"STATUS_{receipt.status}"
    return {
        "tx_hash": receipt.tx_hash.hex(), "status": receipt.status, "status_name": status_name,
        "ok": receipt.status == Status.OK, "gas_used": receipt.gas_used,
        "error": receipt.error,
        "events": [{"contract": event.contract.hex(), "name": event.name,
                    "data": event.data.hex()} for event in receipt.events],
        "result": receipt.result.hex(), "shard": info.shard, "height": info.height,
        "position": info.position,
    }


def block_json(info: BlockInfo, full_txs: bool = False) -> dict[str, Json]:
    header = info.block.header
    certificate = info.certificate
    return {
        "hash": info.block.hash().hex(), "chain_id": header.chain_id, "shard": header.shard,
        "height": header.height, "prev_hash": header.prev_hash.hex(), "view": header.view,
        "proposer": header.proposer, "timestamp_ms": header.timestamp_ms,
        "tx_root": header.tx_root.hex(), "app_height": header.app_height,
        "state_root": header.state_root.hex(), "receipts_root": header.receipts_root.hex(),
        "tx_count": len(info.block.txs),
        "txs": [tx_json(tx) if full_txs else tx.hash().hex() for tx in info.block.txs],
        "executed_state_root": None if info.roots is None else info.roots[0].hex(),
        "executed_receipts_root": None if info.roots is None else info.roots[1].hex(),
        "certificate": None if certificate is None else {
            "view": certificate.view, "height": certificate.height,
            "signers": [item.replica for item in certificate.signatures]},
    }


def mempool_json(info: MempoolInfo) -> dict[str, Json]:
    return {"size_txs": info.size_txs, "size_bytes": info.size_bytes,
            "in_flight_txs": info.in_flight_txs, "shard_sizes_txs": list(info.shard_sizes_txs),
            "rejections": dict(info.rejections)}


# -- parameters ----------------------------------------------------------------------------

_required = object()


def _int(name: str, value: Json, low: int = 0, high: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid_params(f"{name} must be an integer in {low}..{high}")
    return value


def _hex(name: str, value: Json, length: int | None = None) -> bytes:
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            data = bytes.fromhex(text)
        except ValueError:
            data = None
        if data is not None and (length is None or len(data) == length):
            return data
    size = f"{length}-byte " if length else ""
    raise invalid_params(f"{name} must be a {size}hex string")


def p_shard(name: str, value: Json) -> int:
    return _int(name, value, 0, 2**32 - 1)


def p_height(name: str, value: Json) -> int:
    return _int(name, value)


def p_digest(name: str, value: Json) -> bytes:
    return _hex(name, value, digest_bytes)


def p_bytes(name: str, value: Json) -> bytes:
    return _hex(name, value)


def p_optional_digest(name: str, value: Json) -> bytes | None:
    return None if value is None else p_digest(name, value)


def p_str(name: str, value: Json) -> str:
    if not isinstance(value, str):
        raise invalid_params(f"{name} must be a string")
    return value


def p_bool(name: str, value: Json) -> bool:
    if not isinstance(value, bool):
        raise invalid_params(f"{name} must be true or false")
    return value


def p_seconds(name: str, value: Json) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value <= 0):
        raise invalid_params(f"{name} must be a positive number of seconds")
    return float(value)


def p_any(name: str, value: Json) -> Json:
    return value


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    parse: Callable[[str, Json], Any]
    default: Any = _required


@dataclass(frozen=True, slots=True)
class Method:
    handler: Callable[..., Awaitable[Json]]
    params: tuple[Param, ...]
    websocket_only: bool = False


def bind_params(method_name: str, params: tuple[Param, ...], raw: Json) -> dict[str, Any]:
    """Positional or named params -> parsed keyword arguments; -32602 on any mismatch."""
    if raw is None:
        raw = []
    if isinstance(raw, list):
        if len(raw) > len(params):
            raise invalid_params(f"{method_name} takes at most {len(params)} params, "
                                 f"got {len(raw)}")
        given = {param.name: value for param, value in zip(params, raw)}
    else:
        known = {param.name for param in params}
        unknown = sorted(key for key in raw if key not in known)
        if unknown:
            raise invalid_params(f"{method_name} has no param {unknown[0]!r}")
        given = dict(raw)
    bound = {}
    for param in params:
        if param.name in given:
            bound[param.name] = param.parse(param.name, given[param.name])
        elif param.default is _required:
            raise invalid_params(f"{method_name} needs param {param.name!r}")
        else:
            bound[param.name] = param.default
    return bound


# -- the server ----------------------------------------------------------------------------


def _response(request_id: Json, result: Json) -> dict[str, Json]:
    return {"jsonrpc": jsonrpc_version, "id": request_id, "result": result}


def _error_response(request_id: Json, error: RpcError) -> dict[str, Json]:
    return {"jsonrpc": jsonrpc_version, "id": request_id, "error": error.to_json()}


def _from_rejection(error: TxRejected) -> RpcError:
    code = Code[error.reason.name] if error.reason.name in Code.__members__ else Code.MALFORMED
    return RpcError(code, error.message, error.reason.value)


def _check_request(request: dict[str, Json]) -> None:
    """Raise INVALID_REQUEST unless ``request`` is a JSON-RPC 2.0 Request object."""
    if request.get("jsonrpc") != jsonrpc_version:
        raise RpcError(Code.INVALID_REQUEST, 'jsonrpc must be "2.0"')
    if not isinstance(request.get("method"), str):
        raise RpcError(Code.INVALID_REQUEST, "method must be a string")
    params = request.get("params")
    if params is not None and not isinstance(params, (list, dict)):
        raise RpcError(Code.INVALID_REQUEST, "params must be an array or an object")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes | str) -> Json:
    """Strict JSON (no NaN/Infinity); RpcError PARSE_ERROR otherwise."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RpcError(Code.PARSE_ERROR, f"invalid JSON: {error}") from None


@dataclass(slots=True)
class _Session:
    """One WebSocket connection: its outbound queue and live subscriptions."""

    nursery: trio.Nursery
    outbound: trio.MemorySendChannel[str]
    subscriptions: dict[str, trio.CancelScope] = dataclasses.field(default_factory=dict)


class RpcServer:
    """The ASGI app (``await server(scope, receive, send)``) and its hypercorn runner."""

    def __init__(self, api: NodeApi, config: RpcSection,
                 on_request: Callable[[str, str], None] | None = None) -> None:
        self.api = api
        self.config = config
        # (method, outcome) hook, e.g. NodeMetrics.rpc_requests; outcome "ok" or a reason.
        self.on_request = on_request or (lambda method, outcome: None)
        self.active_connections = 0
        self._subscription_ids = itertools.count(1)
        self.methods: dict[str, Method] = self._method_table()
        # Other HTTP apps on this port by path prefix (node/explorer/ mounts "/explorer"):
        # ASGI callables, counted against connections_max like RPC requests.
        self.mounts: dict[str, Callable[[dict[str, Json], Any, Any], Awaitable[None]]] = {}

    # -- running ----------------------------------------------------------------------

    def hypercorn_config(self) -> HypercornConfig:
        config = HypercornConfig()
        config.bind = [f"{self.config.host}:{self.config.port}"]
        config.accesslog = None
        config.graceful_timeout = 1.0
        config.keep_alive_timeout = self.config.keep_alive_timeout_seconds
        config.websocket_max_message_size = self.config.ws_message_bytes_max
        return config

    async def serve(self, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Serve until cancelled; ``task_status.started`` gets the bound URLs."""
        app: Any = self  # hypercorn's ASGI types are narrower than the dicts we use
        await serve(app, self.hypercorn_config(), task_status=task_status, mode="asgi")

    async def __call__(self, scope: dict[str, Json], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    # -- HTTP -------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Json], receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/health" and method == "GET":
            await _send_json(send, 200, {"status": "ok"})
            return
        mounted = next((app for prefix, app in self.mounts.items()
                        if path == prefix or path.startswith(prefix + "/")), None)
        if mounted is not None:
            await self._mounted(mounted, scope, receive, send)
            return
        if path != "/":
            await _send_json(send, 404, {"error": f"no such path {path!r}; POST JSON-RPC to /"})
            return
        if method != "POST":
            await _send_json(send, 405, {"error": "use POST for JSON-RPC"},
                             [(b"allow", b"POST")])
            return
        if self.active_connections >= self.config.connections_max:
            error = RpcError(Code.TOO_MANY_CONNECTIONS, "server is at its limit of "
                             f"{self.config.connections_max} connections; retry later")
            await _send_json(send, 503, _error_response(None, error))
            return
        self.active_connections += 1
        try:
            body = await self._read_body(scope, receive)
            if body is None:
                error = RpcError(Code.BODY_TOO_LARGE, "request body exceeds "
                                 f"{self.config.body_bytes_max} bytes")
                # The unread rest of the body makes the connection unusable: say so, so
                # that clients do not send their next request down it.
                await _send_json(send, 413, _error_response(None, error),
                                 [(b"connection", b"close")])
                return
            reply = await self._handle_body(body, None)
        finally:
            self.active_connections -= 1
        if reply is None:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            await _send_json(send, 200, reply)

    async def _mounted(self, app: Any, scope: dict[str, Json], receive: Any, send: Any) -> None:
        if self.active_connections >= self.config.connections_max:
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/plain"), (b"retry-after", b"1")]})
            await send({"type": "http.response.body", "body": b"too many connections\n"})
            return
        self.active_connections += 1
        try:
            await app(scope, receive, send)
        finally:
            self.active_connections -= 1

    async def _read_body(self, scope: dict[str, Json], receive: Any) -> bytes | None:
        """The body, or None if it is over the limit (not read past the limit)."""
        limit = self.config.body_bytes_max
        for name, value in scope["headers"]:
            if name.lower() == b"content-length" and value.isdigit() and int(value) > limit:
                return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _handle_body(self, body: bytes | str, session: _Session | None) -> Json:
        try:
            payload = parse_json(body)
        except RpcError as error:
            self.on_request("unknown", error.data["reason"])
            return _error_response(None, error)
        with trio.move_on_after(self.config.request_timeout_seconds) as scope:
            return await self.handle_payload(payload, session)
        assert scope.cancelled_caught
        timeout = RpcError(Code.INTERNAL_ERROR, "request took longer than "
                           f"{self.config.request_timeout_seconds} s", reason="TIMEOUT")
        return _error_response(None, timeout)

    # -- JSON-RPC ---------------------------------------------------------------------

    async def handle_payload(self, payload: Json, session: _Session | None = None) -> Json:
        """The response to a parsed request or batch, or None if nothing is to be sent."""
        if not isinstance(payload, list):
            return await self._handle_one(payload, session)
        if not payload:
            return _error_response(None, RpcError(Code.INVALID_REQUEST, "empty batch"))
        if len(payload) > self.config.batch_length_max:
            return _error_response(None, RpcError(
                Code.BATCH_TOO_LARGE, f"batch of {len(payload)} requests exceeds the limit "
                f"of {self.config.batch_length_max}"))
        responses = []
        for item in payload:  # in order: a batch may submit a tx and then read it
            response = await self._handle_one(item, session)
            if response is not None:
                responses.append(response)
        return responses or None

    async def _handle_one(self, request: Json, session: _Session | None) -> Json:
        if not isinstance(request, dict):
            return _error_response(None, RpcError(Code.INVALID_REQUEST,
                                                  "a request must be a JSON object"))
        request_id = request.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int, type(None))):
            return _error_response(None, RpcError(Code.INVALID_REQUEST,
                                                  "id must be a string, an integer or null"))
        name = request.get("method")
        # Only known names become metric labels: arbitrary client strings would let a
        # client grow the metrics without bound.
        label = name if isinstance(name, str) and name in self.methods else "unknown"
        try:
            _check_request(request)
        except RpcError as error:
            # Not a valid Request object, so not a notification either: always answered.
            self.on_request(label, error.data["reason"])
            return _error_response(request_id, error)
        is_notification = "id" not in request
        try:
            result = await self._call(request["method"], request.get("params"), session)
        except RpcError as error:
            self.on_request(label, error.data["reason"])
            return None if is_notification else _error_response(request_id, error)
        self.on_request(label, "ok")
        return None if is_notification else _response(request_id, result)

    async def _call(self, name: str, params: Json, session: _Session | None) -> Json:
        method = self.methods.get(name)
        if method is None or (method.websocket_only and session is None):
            where = " (WebSocket only)" if method is not None else ""
            raise RpcError(Code.METHOD_NOT_FOUND, f"no method {name[:64]!r}{where}")
        arguments = bind_params(name, method.params, params)
        if method.websocket_only:
            arguments["session"] = session
        try:
            return await method.handler(**arguments)
        except TxRejected as error:
            raise _from_rejection(error) from None
        except RpcError:
            raise
        except ClientError as error:
            raise invalid_params(str(error)) from None
        except Exception:
            # The RPC boundary is where recovery is real: log the bug, answer, keep serving.
            logger.exception("rpc method=%s failed", name)
            raise RpcError(Code.INTERNAL_ERROR, "internal error") from None

    def _method_table(self) -> dict[str, Method]:
        shard, height, digest = (Param("shard", p_shard), Param("height", p_height),
                                 Param("hash", p_digest))
        return {
            "agora_status": Method(self.api.status, ()),
            "agora_sendTransaction": Method(self._send_transaction, (Param("tx", p_str),)),
            "agora_sendTransactionAndWait": Method(self._send_and_wait, (
                Param("tx", p_str), Param("timeout", p_seconds, None))),
            "agora_getTransaction": Method(self._get_transaction, (digest,)),
            "agora_getReceipt": Method(self._get_receipt, (digest,)),
            "agora_getBlock": Method(self._get_block, (shard, height,
                                                       Param("full", p_bool, False))),
            "agora_getBlockByHash": Method(self._get_block_by_hash, (
                digest, Param("full", p_bool, False))),
            "agora_latestBlock": Method(self._latest_block, (shard, Param("full", p_bool, False))),
            "agora_getAccount": Method(self._get_account, (Param("address", p_digest),)),
            "agora_getState": Method(self._get_state, (shard, Param("key", p_bytes))),
            "agora_validators": Method(self.api.validators, ()),
            "agora_peers": Method(self.api.peers, ()),
            "agora_mempool": Method(self._mempool, ()),
            "agora_call": Method(self._contract_call, (
                Param("contract", p_digest), Param("method", p_str),
                Param("args", p_bytes, b"\x80"), Param("sender", p_optional_digest, None))),
            "agora_subscribe": Method(self._subscribe, (Param("kind", p_str),
                                                        Param("target", p_any)),
                                      websocket_only=True),
            "agora_unsubscribe": Method(self._unsubscribe, (Param("subscription", p_str),),
                                        websocket_only=True),
        }

    # -- methods ----------------------------------------------------------------------

    def _decode_tx(self, text: str) -> Transaction:
        data = _hex("tx", text)
        try:
            return decode_transaction(data)
        except DecodeError as error:
            raise RpcError(Code.MALFORMED, f"tx is not a canonical transaction: {error}",
                           RejectReason.MALFORMED.value) from None

    async def _send_transaction(self, tx: str) -> Json:
        return (await self.api.submit_tx(self._decode_tx(tx))).hex()

    async def _send_and_wait(self, tx: str, timeout: float | None) -> Json:
        cap = self.config.submit_wait_timeout_seconds_max
        timeout = cap if timeout is None else min(timeout, cap)
        transaction = self._decode_tx(tx)
        try:
            tx_hash = await self.api.submit_tx(transaction)
        except TxRejected as error:
            # Retrying after a timeout must be safe: a tx that is already pending or
            # committed is waited for (or its receipt returned), not reported as an error.
            if error.reason not in (RejectReason.DUPLICATE, RejectReason.ALREADY_COMMITTED):
                raise
            tx_hash = transaction.hash()
        info = await self.api.wait_receipt(tx_hash, timeout)
        if info is None:
            raise RpcError(Code.TIMEOUT, f"tx {tx_hash.hex()} was accepted but not committed "
                           f"within {timeout:g} s; poll agora_getReceipt",
                           data={"tx_hash": tx_hash.hex()})
        return receipt_json(info)

    async def _get_transaction(self, hash: bytes) -> Json:
        info = await self.api.get_tx(hash)
        return None if info is None else tx_info_json(info)

    async def _get_receipt(self, hash: bytes) -> Json:
        info = await self.api.get_receipt(hash)
        return None if info is None else receipt_json(info)

    async def _get_block(self, shard: int, height: int, full: bool) -> Json:
        info = await self.api.get_block(shard, height)
        return None if info is None else block_json(info, full)

    async def _get_block_by_hash(self, hash: bytes, full: bool) -> Json:
        info = await self.api.get_block_by_hash(hash)
        return None if info is None else block_json(info, full)

    async def _latest_block(self, shard: int, full: bool) -> Json:
        info = await self.api.latest_block(shard)
        return None if info is None else block_json(info, full)

    async def _get_account(self, address: bytes) -> Json:
        return await self.api.get_account(address)

    async def _get_state(self, shard: int, key: bytes) -> Json:
        value = await self.api.get_state(shard, key)
        return None if value is None else value.hex()

    async def _mempool(self) -> Json:
        return mempool_json(await self.api.mempool_info())

    async def _contract_call(self, contract: bytes, method: str, args: bytes,
                             sender: bytes | None) -> Json:
        return (await self.api.call(contract, method, args, sender)).hex()

    # -- WebSocket --------------------------------------------------------------------

    async def _websocket(self, receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        if self.active_connections >= self.config.connections_max:
            # 1013 "try again later"; accepted first so the client can read the reason.
            await send({"type": "websocket.close", "code": 1013,
                        "reason": "too many connections; retry later"})
            return
        self.active_connections += 1
        try:
            await self._websocket_session(receive, send)
        finally:
            self.active_connections -= 1

    async def _websocket_session(self, receive: Any, send: Any) -> None:
        outbound, to_client = trio.open_memory_channel[str](self.config.ws_queue_messages_max)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_websocket_writer, to_client, send)
            session = _Session(nursery, outbound)
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break  # websocket.disconnect
                body = message.get("text") or message.get("bytes") or b""
                reply = await self._handle_body(body, session)
                if reply is not None:
                    await outbound.send(json.dumps(reply))
            nursery.cancel_scope.cancel()

    async def _subscribe(self, kind: str, target: Json, session: _Session) -> Json:
        if len(session.subscriptions) >= self.config.ws_subscriptions_max:
            raise RpcError(Code.SUBSCRIPTION_LIMIT, "this connection already has "
                           f"{self.config.ws_subscriptions_max} subscriptions")
        if kind == "newBlocks":
            shard = p_shard("target", target)
            latest = await self.api.latest_block(shard)
            start = 1 if latest is None else latest.block.header.height + 1  # 0: genesis, no block
            run = self._blocks_feed(shard, start)
        elif kind == "receipt":
            run = self._receipt_feed(p_digest("target", target))
        else:
            raise invalid_params('kind must be "newBlocks" or "receipt"')
        subscription = format(next(self._subscription_ids), "x")
        scope = trio.CancelScope()
        session.subscriptions[subscription] = scope
        session.nursery.start_soon(self._run_subscription, session, subscription, scope, run)
        return subscription

    async def _unsubscribe(self, subscription: str, session: _Session) -> Json:
        scope = session.subscriptions.pop(subscription, None)
        if scope is None:
            return False
        scope.cancel()
        return True

    async def _run_subscription(self, session: _Session, subscription: str,
                                scope: trio.CancelScope,
                                feed: Callable[[Callable[[Json], Awaitable[None]]],
                                               Awaitable[None]]) -> None:
        async def emit(result: Json) -> None:
            notification = {"jsonrpc": jsonrpc_version, "method": "agora_subscription",
                            "params": {"subscription": subscription, "result": result}}
            await session.outbound.send(json.dumps(notification))

        with scope:
            await feed(emit)
        session.subscriptions.pop(subscription, None)

    def _blocks_feed(self, shard: int, height: int) -> Any:
        async def feed(emit: Callable[[Json], Awaitable[None]]) -> None:
            next_height = height
            while True:
                await emit(block_json(await self.api.wait_block(shard, next_height)))
                next_height += 1

        return feed

    def _receipt_feed(self, tx_hash: bytes) -> Any:
        async def feed(emit: Callable[[Json], Awaitable[None]]) -> None:
            while True:
                info = await self.api.wait_receipt(
                    tx_hash, self.config.submit_wait_timeout_seconds_max)
                if info is not None:
                    await emit(receipt_json(info))
                    return

        return feed


async def _websocket_writer(to_client: trio.MemoryReceiveChannel[str], send: Any) -> None:
    async for text in to_client:
        await send({"type": "websocket.send", "text": text})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send_json(send: Any, status: int, value: Json,
                     extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(value).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
