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
* Contract values (event data, call results, arguments) are the hex of their canonical
  bytes, and beside it their JSON form (``data_json``, ``result_json``; ``agora_call``
  takes ``args`` as an object too): see agora_sdk/values.py and docs/spec.md.
* Params may be positional (an array, in the documented order) or named (an object).
* ``agora_sendTransactionAndWait(tx, timeout?)`` is idempotent: resending a tx that is
  already pending or committed waits for (or returns) its receipt instead of failing, so
  a client may simply retry after a ``TIMEOUT``.

Methods (params in positional order; ``?`` marks optional ones). ``rpc.discover`` returns
the same table as an OpenRPC document (node/openrpc.py, checked in as docs/openrpc.json):

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
agora_call                          contract, method, args? (hex or      return value (hex;
                                    JSON object), sender?, format?       {result,
                                    ("hex" or "json")                    result_json})
agora_simulate                      tx (hex, signed or zero signature;   receipt fields +
                                    or an unsigned tx object)            height, gas_limit
agora_getEvents                     filter {contract?, name?, shard?,    {events, cursor}
                                    from_height?, to_height?, limit?,
                                    cursor?}
agora_subscribe (WebSocket)         kind, target, from_height?           subscription id
agora_unsubscribe (WebSocket)       subscription                         bool
rpc.discover                        -                                    OpenRPC document
==================================  ===================================  =================

``agora_recentActivity(address, blocks?)`` (an address's recent txs and a contract's recent
events, a bounded scan) is added to ``methods`` by node/explorer/history.py.

Transport (JSON-RPC 2.0 §4-§6 and the usual HTTP mapping):

* ``POST /``: one request or a batch. A batch is always answered with an array, also
  when it is empty or longer than ``rpc.batch_length_max`` (one error inside the array;
  JSON-RPC 2.0 would answer an empty batch with a bare error object, but clients that
  sent an array expect one back); every member of a batch is answered on its own (valid
  or not); notifications (no ``id``) are run but get no response, and a request or batch
  of only notifications gets HTTP 204. JSON-RPC errors use HTTP 200
  except when the request could not be considered at all: 413 (body over
  ``rpc.body_bytes_max``; a ``Content-Length`` over it is refused before the body is read
  and a chunked body is read only up to the limit) and 503 (over ``rpc.connections_max``
  concurrent requests and WebSocket sessions). The limit counts what holds resources
  here: a request being served or a live WebSocket session. An idle keep-alive TCP
  connection costs only a socket and hypercorn closes it after
  ``rpc.keep_alive_timeout_seconds``; hypercorn offers no accept-level cap.
* A request (or a whole batch) has ``rpc.request_timeout_seconds``; a request that does
  not finish in time (or, in a batch, starts after the deadline) gets a ``TIMEOUT``
  error with its own id.
* CORS: a request whose ``Origin`` is in ``rpc.cors_allowed_origins`` (or any, with
  ``"*"``) gets ``Access-Control-Allow-Origin``; ``OPTIONS /`` answers preflights (403
  for other origins). With the default (empty) list no CORS header is ever sent. When the
  list is set, a WebSocket whose ``Origin`` it does not allow is closed (1008): browsers
  do not apply CORS to WebSockets, so the check is the server's.
* ``GET /health``: ``{"status": "ok"}`` (liveness). ``GET /ready``: 200 when ready, else
  503, with JSON naming each failing check (node/health.py).
* ``GET /explorer/...``: the block explorer's pages (node/explorer/), when mounted.
* WebSocket on ``/``: the same methods, plus ``agora_subscribe(kind, target,
  from_height?)`` with kind ``"newBlocks"`` (target: shard), ``"receipt"`` (target: tx
  hash) or ``"events"`` (target: a filter ``{contract?, name?, shard?}``; without a
  contract or a shard it follows every shard, each in order), and
  ``agora_unsubscribe(id)``. Notifications are
  ``{"jsonrpc": "2.0", "method": "agora_subscription",
  "params": {"subscription": id, "result": ...}}``. A receipt subscription sends one
  notification and ends. Block and event subscriptions pull from the node height by
  height from ``from_height`` (default: the next height), reading finalized blocks and
  the event index, so replay and live are one loop with one position that only moves
  forward: no gap and no duplicate at the switch, and the node buffers nothing for a
  subscriber. A shard that stalls only makes a subscription wait. The session's outbound
  queue holds ``rpc.ws_queue_messages_max`` messages; a subscriber that leaves it full
  for ``rpc.ws_subscriber_stall_seconds`` gets a ``SUBSCRIBER_TOO_SLOW`` error
  notification and the connection is closed (1008): it resubscribes with
  ``from_height`` to resume.

Errors: the standard codes, and application codes in the server range, each with
``data.reason`` (see :class:`Code`); an ``INVALID_PARAMS`` error also has ``data.param``
naming the parameter (or field, ``filter.limit``) at fault. A bad request changes nothing
and the server keeps serving; an unexpected exception inside a method is logged with its
traceback and answered with ``-32603``.
"""

from __future__ import annotations

import base64
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

from agora_sdk.values import JsonValueError, decode_to_json, encode_json_args
from consensus.errors import ClientError, DecodeError
from consensus.types import Block, CommitCertificate, Transaction, decode_transaction
from ledger.sharding import shard_of_account
from ledger.types import Receipt, ReceiptEvent, Status
from node.config import RpcSection
from node.logs import hypercorn_error_logger
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
    INSUFFICIENT_FEE = -32018
    GAS_LIMIT_TOO_HIGH = -32019
    SUBSCRIBER_TOO_SLOW = -32020


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


def invalid_params(message: str, param: str | None = None) -> RpcError:
    """A -32602 error; ``param`` (also in ``data.param``) names the parameter at fault."""
    return RpcError(Code.INVALID_PARAMS, message, data=None if param is None else
                    {"param": param})


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
    fee: int = 0  # native units paid: gas_used x the genesis gas price (ledger/fees.py)


@dataclass(frozen=True, slots=True)
class BlockInfo:
    block: Block
    certificate: CommitCertificate | None  # None for the genesis block
    # This node's (state root, receipts root) after executing the block, if known.
    roots: tuple[bytes, bytes] | None = None


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One finalized event, with where it is."""

    shard: int
    height: int
    tx_position: int
    event_position: int
    tx_hash: bytes
    event: ReceiptEvent


@dataclass(frozen=True, slots=True)
class EventsPage:
    """``NodeApi.get_events``: events found, and where to resume (None: range done)."""

    events: tuple[EventInfo, ...]
    resume_after: tuple[int, int, int] | None
    to_height: int  # the last height the page covers (the request's, clipped to the chain)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A filter for events of one shard."""

    shard: int
    contract: bytes | None
    name: str | None
    from_height: int
    to_height: int


@dataclass(frozen=True, slots=True)
class SimulationInfo:
    receipt: Receipt
    shard: int
    height: int  # the height the tx was simulated at (latest + 1)
    gas_limit: int  # the gas limit it ran with
    signed: bool


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

    async def readiness(self) -> tuple[bool, dict[str, Json]]: ...

    async def call(self, contract: bytes, method: str, args: bytes,
                   sender: bytes | None) -> bytes: ...

    async def shard_count(self) -> int: ...

    async def get_events(self, query: EventQuery, after: tuple[int, int, int] | None,
                         limit: int, scan_max: int) -> EventsPage: ...

    async def simulate(self, tx: Transaction, gas_max: int) -> SimulationInfo: ...


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


def _status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        return f"STATUS_{status}"


def value_json(data: bytes) -> Json:
    """The JSON form (agora_sdk/values.py) of canonical value bytes; None if they have none
    (then the hex beside it is all there is)."""
    try:
        return decode_to_json(data)
    except JsonValueError:
        return None


def event_json(event: ReceiptEvent) -> dict[str, Json]:
    return {"contract": event.contract.hex(), "name": event.name, "data": event.data.hex(),
            "data_json": value_json(event.data)}


def receipt_fields_json(receipt: Receipt) -> dict[str, Json]:
    return {
        "tx_hash": receipt.tx_hash.hex(), "status": receipt.status,
        "status_name": _status_name(receipt.status),
        "ok": receipt.status == Status.OK, "gas_used": receipt.gas_used,
        "error": receipt.error,
        "events": [event_json(event) for event in receipt.events],
        "result": receipt.result.hex(), "result_json": value_json(receipt.result),
    }


def receipt_json(info: ReceiptInfo) -> dict[str, Json]:
    return {**receipt_fields_json(info.receipt), "fee": info.fee, "shard": info.shard,
            "height": info.height, "position": info.position}


def located_event_json(info: EventInfo) -> dict[str, Json]:
    return {"shard": info.shard, "height": info.height, "tx_position": info.tx_position,
            "event_position": info.event_position, "tx_hash": info.tx_hash.hex(),
            **event_json(info.event)}


def simulation_json(info: SimulationInfo) -> dict[str, Json]:
    return {**receipt_fields_json(info.receipt), "shard": info.shard, "height": info.height,
            "gas_limit": info.gas_limit, "signed": info.signed}


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
        raise invalid_params(f"{name} must be an integer in {low}..{high}", name)
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
    raise invalid_params(f"{name} must be a {size}hex string", name)


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
        raise invalid_params(f"{name} must be a string", name)
    return value


def p_bool(name: str, value: Json) -> bool:
    if not isinstance(value, bool):
        raise invalid_params(f"{name} must be true or false", name)
    return value


def p_seconds(name: str, value: Json) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value <= 0):
        raise invalid_params(f"{name} must be a positive number of seconds", name)
    return float(value)


def p_any(name: str, value: Json) -> Json:
    return value


def p_tx(name: str, value: Json) -> Json:
    """A transaction: the hex of its canonical bytes, or (for simulation) a JSON object."""
    if not isinstance(value, (str, dict)):
        raise invalid_params(f"{name} must be a hex string or a transaction object", name)
    return value


def p_args(name: str, value: Json) -> bytes:
    """Contract arguments: hex of their canonical bytes, or an object in the JSON form."""
    if isinstance(value, dict):
        try:
            return encode_json_args(value, name)
        except JsonValueError as error:
            raise invalid_params(str(error), name) from None
    return _hex(name, value)


def p_object(name: str, value: Json) -> dict[str, Json]:
    if not isinstance(value, dict):
        raise invalid_params(f"{name} must be an object", name)
    return value


def p_optional_height(name: str, value: Json) -> int | None:
    return None if value is None else p_height(name, value)


def p_format(name: str, value: Json) -> str:
    if value not in ("hex", "json"):
        raise invalid_params(f'{name} must be "hex" or "json"', name)
    return str(value)


_filter_keys = ("contract", "name", "shard", "from_height", "to_height", "limit", "cursor")
_cursor_version = "1"
event_name_chars_max = 64


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A parsed ``agora_getEvents`` / ``agora_subscribe("events")`` filter."""

    shards: tuple[int, ...]
    contract: bytes | None
    name: str | None
    from_height: int
    to_height: int
    limit: int
    cursor: tuple[int, tuple[int, int, int] | None] | None


def encode_cursor(shard: int, after: tuple[int, int, int] | None) -> str:
    """An opaque cursor: where the next page of a query starts."""
    parts = [_cursor_version, str(shard), *(str(item) for item in after or ())]
    return base64.urlsafe_b64encode(".".join(parts).encode()).decode().rstrip("=")


def decode_cursor(name: str, value: Json) -> tuple[int, tuple[int, int, int] | None]:
    problem = invalid_params(f"{name} is not a cursor returned by agora_getEvents", name)
    if not isinstance(value, str) or len(value) > 200:
        raise problem
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        parts = [int(part) for part in text.split(".")]
    except ValueError:
        raise problem from None
    if parts[0] != int(_cursor_version) or len(parts) not in (2, 5) or min(parts) < 0:
        raise problem
    return parts[1], (parts[2], parts[3], parts[4]) if len(parts) == 5 else None


def parse_event_filter(raw: dict[str, Json], name: str, shard_count: int, limit_max: int,
                       with_paging: bool) -> EventFilter:
    """Check an event filter; every problem names its field (``filter.shard``...)."""
    allowed = _filter_keys if with_paging else ("contract", "name", "shard", "from_height")
    for key in sorted(raw):
        if key not in allowed:
            raise invalid_params(f"{name}.{key} is not a filter field (fields: "
                                 f"{', '.join(allowed)})", f"{name}.{key}")
    field = {key: f"{name}.{key}" for key in allowed}
    contract = None if raw.get("contract") is None else _hex(field["contract"],
                                                             raw["contract"])
    if contract is not None and len(contract) not in (0, digest_bytes):
        raise invalid_params(f"{field['contract']} must be a 32-byte address (or \"\" for "
                             "the native ledger)", field["contract"])
    event_name = None if raw.get("name") is None else p_str(field["name"], raw["name"])
    if event_name is not None and len(event_name) > event_name_chars_max:
        raise invalid_params(f"{field['name']} is longer than {event_name_chars_max} "
                             "characters", field["name"])
    shards = _filter_shards(raw, field.get("shard", name), contract, shard_count)
    from_height = p_height(field["from_height"], raw.get("from_height", 0))
    to_height, limit, cursor = 2**63 - 1, limit_max, None
    if with_paging:
        to_height = p_height(field["to_height"], raw.get("to_height", to_height))
        if to_height < from_height:
            raise invalid_params(f"{field['to_height']} is below from_height",
                                 field["to_height"])
        limit = _int(field["limit"], raw.get("limit", limit_max), 1, limit_max)
        if raw.get("cursor") is not None:
            cursor = decode_cursor(field["cursor"], raw["cursor"])
    return EventFilter(shards, contract, event_name, from_height, to_height, limit, cursor)


def _filter_shards(raw: dict[str, Json], field: str, contract: bytes | None,
                   shard_count: int) -> tuple[int, ...]:
    if raw.get("shard") is not None:
        shard = p_shard(field, raw["shard"])
        if shard >= shard_count:
            raise invalid_params(f"{field}: shard {shard} does not exist (the chain has "
                                 f"{shard_count})", field)
        return (shard,)
    if contract:  # a contract lives in (and emits from) its own shard
        return (shard_of_account(contract, shard_count),)
    return tuple(range(shard_count))


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    parse: Callable[[str, Json], Any]
    default: Any = _required
    description: str = ""


@dataclass(frozen=True, slots=True)
class Method:
    handler: Callable[..., Awaitable[Json]]
    params: tuple[Param, ...]
    websocket_only: bool = False
    summary: str = ""
    result: str = ""  # the result's schema name in node/openrpc.py
    errors: tuple[Code, ...] = ()


def bind_params(method_name: str, params: tuple[Param, ...], raw: Json) -> dict[str, Any]:
    """Positional or named params -> parsed keyword arguments; -32602 on any mismatch."""
    if raw is None:
        raw = []
    if isinstance(raw, list):
        if len(raw) > len(params):
            raise invalid_params(f"{method_name} takes at most {len(params)} params, "
                                 f"got {len(raw)}", "params")
        given = {param.name: value for param, value in zip(params, raw)}
    else:
        known = {param.name for param in params}
        unknown = sorted(key for key in raw if key not in known)
        if unknown:
            raise invalid_params(f"{method_name} has no param {unknown[0]!r}", unknown[0])
        given = dict(raw)
    bound = {}
    for param in params:
        if param.name in given:
            bound[param.name] = param.parse(param.name, given[param.name])
        elif param.default is _required:
            raise invalid_params(f"{method_name} needs param {param.name!r}", param.name)
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
    too_slow: str | None = None  # the subscription that found the queue full for too long


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
        config.errorlog = hypercorn_error_logger()  # its lines once, in the node's format
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
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    # -- HTTP -------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Json], receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        cors = self._cors_headers(scope)
        if path == "/health" and method == "GET":
            await _send_json(send, 200, {"status": "ok"}, cors)
            return
        if path == "/ready" and method == "GET":
            ready, body = await self.api.readiness()
            await _send_json(send, 200 if ready else 503, body)
            return
        mounted = next((app for prefix, app in self.mounts.items()
                        if path == prefix or path.startswith(prefix + "/")), None)
        if mounted is not None:
            await self._mounted(mounted, scope, receive, send)
            return
        if path != "/":
            await _send_json(send, 404, {"error": f"no such path {path!r}; POST JSON-RPC to /"},
                             cors)
            return
        if method == "OPTIONS":
            await self._preflight(send, cors)
            return
        if method != "POST":
            await _send_json(send, 405, {"error": "use POST for JSON-RPC"},
                             [(b"allow", b"POST, OPTIONS"), *cors])
            return
        if self.active_connections >= self.config.connections_max:
            error = RpcError(Code.TOO_MANY_CONNECTIONS, "server is at its limit of "
                             f"{self.config.connections_max} connections; retry later")
            await _send_json(send, 503, _error_response(None, error), cors)
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
                                 [(b"connection", b"close"), *cors])
                return
            reply = await self._handle_body(body, None)
        finally:
            self.active_connections -= 1
        if reply is None:
            await send({"type": "http.response.start", "status": 204, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
        else:
            await _send_json(send, 200, reply, cors)

    def _cors_headers(self, scope: dict[str, Json]) -> list[tuple[bytes, bytes]]:
        """CORS response headers for the request's Origin, if ``rpc.cors_allowed_origins``
        allows it (``"*"``: any); none otherwise, so a browser refuses the response."""
        allowed = self.config.cors_allowed_origins
        origin = next((value for name, value in scope["headers"]
                       if name.lower() == b"origin"), None)
        if origin is None or not allowed:
            return []
        if "*" in allowed:
            return [(b"access-control-allow-origin", b"*")]
        if origin.decode("latin-1") in allowed:
            return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        return []

    def _is_foreign_browser(self, scope: dict[str, Json]) -> bool:
        """A WebSocket opened by a page of an origin ``rpc.cors_allowed_origins`` does not
        list (only checked when the list is set; clients that send no Origin pass)."""
        has_origin = any(name.lower() == b"origin" for name, _ in scope["headers"])
        return bool(self.config.cors_allowed_origins) and has_origin and \
            not self._cors_headers(scope)

    async def _preflight(self, send: Any, cors: list[tuple[bytes, bytes]]) -> None:
        if not cors:
            await _send_json(send, 403, {"error": "origin not allowed (rpc.cors_allowed_origins)"})
            return
        headers = [*cors, (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
                   (b"access-control-allow-headers", b"content-type"),
                   (b"access-control-max-age", b"600"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

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
        deadline = trio.current_time() + self.config.request_timeout_seconds
        return await self.handle_payload(payload, session, deadline)

    # -- JSON-RPC ---------------------------------------------------------------------

    async def handle_payload(self, payload: Json, session: _Session | None = None,
                             deadline: float = math.inf) -> Json:
        """The response to a parsed request or batch, or None if nothing is to be sent.

        A batch is always answered with an array (also when it is empty or too long:
        one error inside the array); only a batch of nothing but notifications gets no
        response, as JSON-RPC 2.0 §6 says. Each request runs until ``deadline``; one that
        does not finish by then is answered with a timeout error carrying its own id."""
        if not isinstance(payload, list):
            return await self._handle_one(payload, session, deadline)
        if not payload:
            return [_error_response(None, RpcError(Code.INVALID_REQUEST, "empty batch"))]
        if len(payload) > self.config.batch_length_max:
            return [_error_response(None, RpcError(
                Code.BATCH_TOO_LARGE, f"batch of {len(payload)} requests exceeds the limit "
                f"of {self.config.batch_length_max}"))]
        responses = []
        for item in payload:  # in order: a batch may submit a tx and then read it
            response = await self._handle_one(item, session, deadline)
            if response is not None:
                responses.append(response)
        return responses or None

    async def _handle_one(self, request: Json, session: _Session | None,
                          deadline: float = math.inf) -> Json:
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
            with trio.move_on_at(deadline) as scope:
                if trio.current_time() < deadline:  # a batch's later members may be late
                    result = await self._call(request["method"], request.get("params"),
                                              session)
            if scope.cancelled_caught or trio.current_time() >= deadline:
                raise RpcError(Code.INTERNAL_ERROR, "request took longer than "
                               f"{self.config.request_timeout_seconds} s", reason="TIMEOUT")
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
            # Every param of the methods that can get here is checked by its parser, so
            # what is left is about the request as a whole: name the first param.
            first = method.params[0].name if method.params else "params"
            raise invalid_params(str(error), first) from None
        except Exception:
            # The RPC boundary is where recovery is real: log the bug, answer, keep serving.
            logger.exception("rpc method=%s failed", name)
            raise RpcError(Code.INTERNAL_ERROR, "internal error") from None

    def _method_table(self) -> dict[str, Method]:
        shard = Param("shard", p_shard, description="shard number, 0..shard_count-1")
        height = Param("height", p_height, description="block height (1 is the first block)")
        digest = Param("hash", p_digest, description="32-byte hash, hex")
        full = Param("full", p_bool, False, "include whole transactions, not only hashes")
        tx = Param("tx", p_str, description="hex of the canonical signed transaction")
        admission = (Code.MEMPOOL_FULL, Code.BAD_SIGNATURE, Code.WRONG_CHAIN, Code.EXPIRED,
                     Code.EXPIRY_TOO_FAR, Code.DUPLICATE, Code.ALREADY_COMMITTED,
                     Code.OVERSIZE, Code.MALFORMED, Code.WRONG_SHARD)
        return {
            "agora_status": Method(self.api.status, (), summary="node and chain status",
                                   result="Status"),
            "agora_sendTransaction": Method(
                self._send_transaction, (tx,), summary="admit a signed tx to the mempool",
                result="Hash", errors=admission),
            "agora_sendTransactionAndWait": Method(self._send_and_wait, (
                tx, Param("timeout", p_seconds, None, "seconds to wait (capped)")),
                summary="send a tx and wait for its receipt (idempotent)", result="Receipt",
                errors=(*admission, Code.TIMEOUT)),
            "agora_getTransaction": Method(self._get_transaction, (digest,),
                                           summary="a finalized tx and where it is",
                                           result="TransactionOrNull"),
            "agora_getReceipt": Method(self._get_receipt, (digest,),
                                       summary="a finalized tx's receipt", result="ReceiptOrNull"),
            "agora_getBlock": Method(self._get_block, (shard, height, full),
                                     summary="a finalized block", result="BlockOrNull"),
            "agora_getBlockByHash": Method(self._get_block_by_hash, (digest, full),
                                           summary="a finalized block by hash",
                                           result="BlockOrNull"),
            "agora_latestBlock": Method(self._latest_block, (shard, full),
                                        summary="a shard's latest finalized block",
                                        result="BlockOrNull"),
            "agora_getAccount": Method(self._get_account, (
                Param("address", p_digest, description="32-byte account address, hex"),),
                summary="an account's native balance and shard", result="Account"),
            "agora_getState": Method(self._get_state, (
                shard, Param("key", p_bytes, description="state key, hex")),
                summary="a raw state value", result="HexOrNull"),
            "agora_validators": Method(self.api.validators, (), summary="the validator set",
                                       result="Objects"),
            "agora_peers": Method(self.api.peers, (), summary="this node's peer links",
                                  result="Objects"),
            "agora_mempool": Method(self._mempool, (), summary="mempool sizes and rejections",
                                    result="Object"),
            "agora_call": Method(self._contract_call, (
                Param("contract", p_digest, description="contract address, hex"),
                Param("method", p_str, description="a @view method"),
                Param("args", p_args, b"\x80", "named arguments: hex of their canonical "
                      "bytes, or an object in the JSON form"),
                Param("sender", p_optional_digest, None, "ctx.sender for the call"),
                Param("format", p_format, "hex", '"hex": the result is the hex of its '
                      'canonical bytes; "json": {result, result_json}')),
                summary="a read-only @view call against the latest state", result="CallResult",
                errors=(Code.CALL_FAILED, Code.NOT_AVAILABLE)),
            "agora_simulate": Method(self._simulate, (
                Param("tx", p_tx, description="hex of a canonical tx (signed, or with an "
                      "all-zero signature), or a transaction object"),),
                summary="execute a tx against the latest state without committing it",
                result="Simulation", errors=(Code.MALFORMED,)),
            "agora_getEvents": Method(self._get_events, (
                Param("filter", p_object, description="{contract?, name?, shard?, "
                      "from_height?, to_height?, limit?, cursor?}"),),
                summary="finalized events by contract, name and height, a page at a time",
                result="EventsPage"),
            "agora_subscribe": Method(self._subscribe, (
                Param("kind", p_str, description='"newBlocks", "receipt" or "events"'),
                Param("target", p_any, description="newBlocks: shard; receipt: tx hash; "
                      "events: {contract?, name?, shard?, from_height?}"),
                Param("from_height", p_optional_height, None,
                      "replay from this height, then go live")),
                websocket_only=True, summary="subscribe (WebSocket only)",
                result="SubscriptionId", errors=(Code.SUBSCRIPTION_LIMIT,)),
            "agora_unsubscribe": Method(self._unsubscribe, (
                Param("subscription", p_str, description="a subscription id"),),
                websocket_only=True, summary="end a subscription (WebSocket only)",
                result="Bool"),
            "rpc.discover": Method(self._discover, (), summary="this API as an OpenRPC "
                                   "document", result="OpenRpc"),
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
                             sender: bytes | None, format: str) -> Json:
        result = await self.api.call(contract, method, args, sender)
        if format == "hex":
            return result.hex()
        return {"result": result.hex(), "result_json": value_json(result)}

    async def _discover(self) -> Json:
        from node.openrpc import openrpc_document

        return openrpc_document(self.methods)

    async def _simulate(self, tx: Json) -> Json:
        if isinstance(tx, str):
            transaction = self._decode_tx(tx)
        else:
            transaction = await self._tx_from_object(tx)
        return simulation_json(await self.api.simulate(transaction,
                                                       self.config.simulate_gas_max))

    async def _tx_from_object(self, value: dict[str, Json]) -> Transaction:
        """An unsigned tx from its JSON object form (docs/spec.md §3.2)."""
        from node.txjson import transaction_from_json

        status = await self.api.status()
        try:
            return transaction_from_json(value, status["chain_id"], "tx")
        except JsonValueError as error:
            raise invalid_params(str(error), "tx") from None

    async def _get_events(self, filter: dict[str, Json]) -> Json:
        request = parse_event_filter(filter, "filter", await self.api.shard_count(),
                                     self.config.events_page_max, with_paging=True)
        events: list[EventInfo] = []
        resume: tuple[int, tuple[int, int, int] | None] | None = None
        for index, shard in enumerate(request.shards):
            if request.cursor is not None and shard < request.cursor[0]:
                continue
            after = request.cursor[1] if request.cursor and shard == request.cursor[0] \
                else None
            query = EventQuery(shard, request.contract, request.name, request.from_height,
                               request.to_height)
            page = await self.api.get_events(query, after, request.limit - len(events),
                                             self.config.events_scan_max)
            events += page.events
            if page.resume_after is not None:
                resume = (shard, page.resume_after)
                break
            if len(events) >= request.limit and index + 1 < len(request.shards):
                resume = (request.shards[index + 1], None)
                break
        return {"events": [located_event_json(event) for event in events],
                "cursor": None if resume is None else encode_cursor(*resume)}

    # -- WebSocket --------------------------------------------------------------------

    async def _websocket(self, scope: dict[str, Json], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        if self._is_foreign_browser(scope):
            # Browsers do not apply CORS to WebSocket: refuse other sites' pages here.
            await send({"type": "websocket.close", "code": 1008,
                        "reason": "origin not allowed (rpc.cors_allowed_origins)"})
            return
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
        if session.too_slow is not None:
            await self._close_slow_session(session.too_slow, send)

    async def _close_slow_session(self, subscription: str, send: Any) -> None:
        """Tell a subscriber that could not keep up why it is disconnected, then close."""
        stall = self.config.ws_subscriber_stall_seconds
        error = RpcError(Code.SUBSCRIBER_TOO_SLOW, "the subscriber did not read its "
                         f"notifications for {stall:g} s with "
                         f"{self.config.ws_queue_messages_max} queued; closing. Resubscribe "
                         "with from_height to resume without a gap.")
        notification = {"jsonrpc": jsonrpc_version, "method": "agora_subscription",
                        "params": {"subscription": subscription, "error": error.to_json()}}
        with trio.move_on_after(stall):
            await send({"type": "websocket.send", "text": json.dumps(notification)})
        with trio.move_on_after(stall):
            await send({"type": "websocket.close", "code": 1008,
                        "reason": "subscriber too slow"})

    async def _subscribe(self, kind: str, target: Json, from_height: int | None,
                         session: _Session) -> Json:
        if len(session.subscriptions) >= self.config.ws_subscriptions_max:
            raise RpcError(Code.SUBSCRIPTION_LIMIT, "this connection already has "
                           f"{self.config.ws_subscriptions_max} subscriptions")
        if kind == "newBlocks":
            shard = p_shard("target", target)
            start = await self._start_height(shard, from_height)
            run = self._blocks_feed(shard, start)
        elif kind == "receipt":
            run = self._receipt_feed(p_digest("target", target))
        elif kind == "events":
            run = await self._events_feed(p_object("target", target), from_height)
        else:
            raise invalid_params('kind must be "newBlocks", "receipt" or "events"', "kind")
        subscription = format(next(self._subscription_ids), "x")
        scope = trio.CancelScope()
        session.subscriptions[subscription] = scope
        session.nursery.start_soon(self._run_subscription, session, subscription, scope, run)
        return subscription

    async def _start_height(self, shard: int, from_height: int | None) -> int:
        """``from_height`` (at least 1), or the next height to be finalized."""
        if from_height is not None:
            return max(1, from_height)  # 0: genesis, no block
        latest = await self.api.latest_block(shard)
        return 1 if latest is None else latest.block.header.height + 1

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
        stall = self.config.ws_subscriber_stall_seconds

        async def emit(result: Json) -> None:
            notification = {"jsonrpc": jsonrpc_version, "method": "agora_subscription",
                            "params": {"subscription": subscription, "result": result}}
            with trio.move_on_after(stall) as wait:
                await session.outbound.send(json.dumps(notification))
            if wait.cancelled_caught:
                # The queue stayed full: the client is not reading. Close the session (the
                # notice goes out after the session's tasks have stopped).
                session.too_slow = subscription
                session.nursery.cancel_scope.cancel()
                await trio.lowlevel.checkpoint()

        with scope:
            await feed(emit)
        session.subscriptions.pop(subscription, None)

    async def _wait_block(self, shard: int, height: int) -> BlockInfo:
        """Wait as long as it takes: a stalled shard must not end a subscription."""
        while True:
            try:
                return await self.api.wait_block(shard, height)
            except trio.TooSlowError:
                continue

    def _blocks_feed(self, shard: int, height: int) -> Any:
        async def feed(emit: Callable[[Json], Awaitable[None]]) -> None:
            next_height = height
            while True:
                await emit(block_json(await self._wait_block(shard, next_height)))
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

    async def _events_feed(self, target: dict[str, Json], from_height: int | None) -> Any:
        """Replay from the store, then live, with one position per shard that only moves
        forward: every page is read from the finalized index up to the latest height, then
        the feed waits for the next height. Nothing is buffered, so no gap and no duplicate
        can arise at the switch. A filter that covers several shards follows each of them
        in its own task (events of one shard stay in order)."""
        if from_height is not None:
            target = {**target, "from_height": from_height}
        request = parse_event_filter(target, "target", await self.api.shard_count(),
                                     self.config.events_page_max, with_paging=False)
        starts = [await self._start_height(shard, target.get("from_height"))
                  for shard in request.shards]

        async def feed(emit: Callable[[Json], Awaitable[None]]) -> None:
            async with trio.open_nursery() as nursery:
                for shard, start in zip(request.shards, starts):
                    nursery.start_soon(self._follow_shard_events, request, shard, start, emit)

        return feed

    async def _follow_shard_events(self, request: EventFilter, shard: int, start: int,
                                   emit: Callable[[Json], Awaitable[None]]) -> None:
        next_height, after = start, None
        while True:
            latest = await self.api.latest_block(shard)
            top = 0 if latest is None else latest.block.header.height
            if next_height <= top:
                query = EventQuery(shard, request.contract, request.name, next_height, top)
                page = await self.api.get_events(query, after, request.limit,
                                                 self.config.events_scan_max)
                for event in page.events:
                    await emit(located_event_json(event))
                if page.resume_after is not None:
                    after = page.resume_after
                    continue
                next_height, after = top + 1, None
            await self._wait_block(shard, next_height)


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
