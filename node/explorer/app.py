"""The explorer's HTTP side: routes, the RPC reads behind each page, static assets.

An ASGI app mounted at ``/explorer`` on the node's RPC server (node/rpc.py ``mounts``).
Every page is built from the node's own JSON-RPC methods, called in-process through the
same method table, parameter checks and metrics as a client's request (``RpcBatch``), so
a page shows exactly what any client can fetch and verify. The reads per page are fixed:

=================================  ===================================================
page                               JSON-RPC reads
=================================  ===================================================
``/explorer``                      1 batch (status, validators, mempool, latest block per
                                   shard) + ``agora_status`` of each other validator
                                   (its genesis ``rpc_address``, concurrently, each
                                   within ``explorer.validator_timeout_seconds``)
``/explorer/shard/S?from=H``       1 batch of at most ``explorer.page_size_max`` blocks
                                   (+ 1 call for the tip when ``from`` is not given)
``/explorer/block/S/H``, ``/HASH``  1 batch (block, validators) + 1 batch of receipts for
                                   one page of txs (at most ``page_size_max``)
``/explorer/tx/HASH``              1 batch (tx, receipt)
``/explorer/account/ADDR``         1 batch (account, code, agora_recentActivity)
``/explorer/search?q=``            at most 1 batch, then a redirect
=================================  ===================================================

Only GET and HEAD; query strings and paths are bounded (``url_chars_max``); a page that
takes longer than ``rpc.request_timeout_seconds`` is answered 504. Static assets are a
fixed set read from the package once (no file system paths from requests). Responses
carry a Content-Security-Policy that allows only this origin's script and style, so even
markup that escaped escaping could not run a script.
"""

from __future__ import annotations

import hashlib
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import trio

from node.config import ExplorerSection
from node.explorer import pages
from node.explorer.html import Safe
from vm.state import code_key

logger = logging.getLogger(__name__)

Json = Any
RpcBatch = Callable[[Json], Awaitable[Json]]  # a JSON-RPC batch in, its responses out
mount_path = "/explorer"
url_chars_max = 512
_hex64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_static_types = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class RpcFailure(Exception):
    """A JSON-RPC error answer to one of a page's calls."""

    def __init__(self, error: Json) -> None:
        self.error = error
        super().__init__(str(error.get("message", error)))


class Page(Exception):
    """Stop rendering and answer with this status and page (not found, bad input)."""

    def __init__(self, status: int, body: Safe, location: str | None = None) -> None:
        self.status, self.body, self.location = status, body, location
        super().__init__(status)


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("node.explorer") / "static"
    assets = {}
    for item in folder.iterdir():
        suffix = Path(item.name).suffix
        if suffix in _static_types:
            assets[item.name] = (item.read_bytes(), _static_types[suffix])
    return assets


def _load_templates() -> dict[str, str]:
    """sha256 of each shipped template's source -> its name, to name deployed contracts."""
    folder = resources.files("vm") / "templates"
    return {hashlib.sha256(item.read_bytes()).hexdigest(): Path(item.name).stem
            for item in folder.iterdir()
            if item.name.endswith(".py") and item.name != "__init__.py"}


def _not_found(what: str, query: str = "") -> Page:
    return Page(404, pages.error_page(404, "Not found", what, query))


def _bad_request(what: str, query: str = "") -> Page:
    return Page(400, pages.error_page(400, "Bad request", what, query))


class Explorer:
    """``await explorer(scope, receive, send)`` for HTTP requests under ``/explorer``."""

    def __init__(self, rpc: RpcBatch, config: ExplorerSection,
                 request_timeout_seconds: float) -> None:
        self.rpc = rpc
        self.config = config
        self.request_timeout_seconds = request_timeout_seconds
        self.static = _load_static()
        self.templates = _load_templates()
        self._shard_count: int | None = None

    # -- HTTP ------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Json], receive: Any, send: Any) -> None:
        method = scope["method"]
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"read-only: use GET\n", "text/plain; charset=utf-8",
                           [(b"allow", b"GET, HEAD")])
            return
        if len(path) + len(query) > url_chars_max:
            await self._page(send, 414, pages.error_page(414, "URL too long", "The explorer's "
                             f"URLs are at most {url_chars_max} characters."), method)
            return
        asset = path.removeprefix(f"{mount_path}/static/")
        if asset != path:
            await self._asset(send, asset, method)
            return
        status, body, location = 500, pages.error_page(500, "Internal error", ""), None
        with trio.move_on_after(self.request_timeout_seconds) as scope_timer:
            try:
                status, body = 200, await self.route(path, urllib.parse.parse_qs(query))
            except Page as page:
                status, body, location = page.status, page.body, page.location
            except RpcFailure as error:
                status, body = 502, pages.error_page(
                    502, "The node refused a read", f"JSON-RPC error: {error}")
            except Exception:
                # The HTTP boundary is where recovery is real: log the bug, answer, go on.
                logger.exception("explorer path=%s failed", path[:200])
                status, body = 500, pages.error_page(500, "Internal error",
                                                     "This page failed; the node logged why.")
        if scope_timer.cancelled_caught:
            status, body = 504, pages.error_page(504, "Timed out", "This page took longer "
                                                 f"than {self.request_timeout_seconds:g} s.")
        await self._page(send, status, body, method, location)

    async def _page(self, send: Any, status: int, body: Safe, method: str,
                    location: str | None = None) -> None:
        headers = [(b"content-security-policy", _csp.encode()),
                   (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                   (b"cache-control", b"no-store")]
        if location is not None:
            headers.append((b"location", location.encode()))
        data = str(body).encode()
        await _respond(send, status, b"" if method == "HEAD" else data,
                       "text/html; charset=utf-8", headers, len(data))

    async def _asset(self, send: Any, name: str, method: str) -> None:
        found = self.static.get(name)
        if found is None:
            await _respond(send, 404, b"no such asset\n", "text/plain; charset=utf-8")
            return
        data, content_type = found
        await _respond(send, 200, b"" if method == "HEAD" else data, content_type,
                       [(b"x-content-type-options", b"nosniff"),
                        (b"cache-control", b"max-age=300")], len(data))

    # -- routes ----------------------------------------------------------------------

    async def route(self, path: str, query: dict[str, list[str]]) -> Safe:
        parts = [part for part in path.removeprefix(mount_path).split("/") if part]
        match parts:
            case []:
                return await self.overview()
            case ["shards"]:
                raise Page(303, pages.error_page(303, "See shard 0", ""),
                           f"{mount_path}/shard/0")
            case ["shard", shard]:
                return await self.shard_blocks(_number(shard, "shard"),
                                               _optional_number(query, "from"))
            case ["block", shard, height]:
                return await self.block_at(_number(shard, "shard"), _number(height, "height"),
                                           _optional_number(query, "page") or 0)
            case ["block", block_hash]:
                digest = _digest(block_hash)
                return await self.block(("agora_getBlockByHash", [digest, True]),
                                        f"hash {digest}", _optional_number(query, "page") or 0)
            case ["tx", tx_hash]:
                return await self.tx(_digest(tx_hash))
            case ["account", address]:
                return await self.account(_digest(address))
            case ["search"]:
                return await self.search((query.get("q") or [""])[0].strip())
        raise _not_found("There is no such explorer page.")

    async def calls(self, *requests: tuple[str, list[Json]]) -> list[Json]:
        """One JSON-RPC batch; the results in order, RpcFailure on any error."""
        batch = [{"jsonrpc": "2.0", "id": index, "method": method, "params": params}
                 for index, (method, params) in enumerate(requests)]
        replies = await self.rpc(batch)
        if isinstance(replies, dict):  # the whole batch was refused
            raise RpcFailure(replies.get("error", replies))
        by_id = {reply.get("id"): reply for reply in replies}
        results = []
        for index in range(len(requests)):
            reply = by_id.get(index, {"error": {"message": "no answer"}})
            if "error" in reply:
                raise RpcFailure(reply["error"])
            results.append(reply["result"])
        return results

    async def shard_count(self) -> int:
        if self._shard_count is None:  # a genesis constant: asked once
            (status,) = await self.calls(("agora_status", []))
            self._shard_count = int(status["shard_count"])
        return self._shard_count

    async def overview(self) -> Safe:
        shard_count = await self.shard_count()
        status, validators, mempool, *latest = await self.calls(
            ("agora_status", []), ("agora_validators", []), ("agora_mempool", []),
            *[("agora_latestBlock", [shard]) for shard in range(shard_count)])
        statuses = await self._validator_statuses(status, validators)
        return pages.overview(status, validators, mempool, latest, statuses)

    async def _validator_statuses(self, own: Json, validators: list[Json]) -> list[Json | str]:
        answers: list[Json | str] = ["not asked"] * len(validators)

        async def ask(index: int, address: str) -> None:
            answers[index] = await _remote_status(address,
                                                  self.config.validator_timeout_seconds)

        async with trio.open_nursery() as nursery:
            for item in validators:
                if item["index"] == own.get("node_index"):
                    answers[item["index"]] = own
                else:
                    nursery.start_soon(ask, item["index"], item["rpc_address"])
        return answers

    async def shard_blocks(self, shard: int, first: int | None) -> Safe:
        shard_count = await self.shard_count()
        if shard >= shard_count:
            raise _not_found(f"Shard {shard} does not exist: this chain has {shard_count}.")
        size = self.config.page_size_max
        (latest, validators) = await self.calls(("agora_latestBlock", [shard]),
                                                ("agora_validators", []))
        top = latest["height"] if latest else 0
        first = top if first is None else max(0, min(first, top))
        heights = list(range(first, max(0, first - size), -1))
        blocks = await self.calls(*[("agora_getBlock", [shard, h]) for h in heights]) \
            if heights else []
        return pages.shard_blocks(shard, shard_count, top, blocks, validators, size, first)

    async def block_at(self, shard: int, height: int, page: int) -> Safe:
        if shard >= await self.shard_count():
            raise _not_found(f"Shard {shard} does not exist.")
        return await self.block(("agora_getBlock", [shard, height, True]),
                                f"height {height} of shard {shard}", page)

    async def block(self, request: tuple[str, list[Json]], where: str, page: int) -> Safe:
        block, validators = await self.calls(request, ("agora_validators", []))
        if block is None:
            raise _not_found(f"No finalized block at {where} on this node.")
        size = self.config.page_size_max
        txs = block["txs"][page * size:(page + 1) * size]
        if page and not txs:
            raise _not_found(f"Block {block['shard']}/{block['height']} has no page {page}.")
        receipts = await self.calls(*[("agora_getReceipt", [tx["hash"]]) for tx in txs]) \
            if txs else []
        return pages.block_page(block, validators, receipts, page, size)

    async def tx(self, tx_hash: str) -> Safe:
        tx, receipt = await self.calls(("agora_getTransaction", [tx_hash]),
                                       ("agora_getReceipt", [tx_hash]))
        if tx is None:
            raise _not_found(f"No committed transaction {tx_hash} on this node. It may still "
                             "be pending, have expired, or belong to another chain.")
        return pages.tx_page(tx, receipt)

    async def account(self, address: str) -> Safe:
        from ledger.sharding import shard_of_account

        shard = shard_of_account(bytes.fromhex(address), await self.shard_count())
        account, code_hex, activity = await self.calls(
            ("agora_getAccount", [address]),
            ("agora_getState", [shard, code_key(bytes.fromhex(address)).hex()]),
            ("agora_recentActivity", [address]))
        code = None
        info = None
        template = None
        if code_hex is not None:
            source_bytes = bytes.fromhex(code_hex)
            code = source_bytes.decode("utf-8", errors="replace")
            template = self.templates.get(hashlib.sha256(source_bytes).hexdigest())
            info = _contract_methods(code)
        return pages.account_page(account, code, info, template, activity)

    async def search(self, text: str) -> Safe:
        if not text:
            raise _bad_request("Type a transaction hash, block hash, address or height.")
        if text.isdigit() and len(text) <= 19:
            height = int(text)
            blocks = await self.calls(*[("agora_getBlock", [shard, height])
                                        for shard in range(await self.shard_count())])
            found = [block for block in blocks if block]
            if len(found) == 1:
                raise Page(303, pages.error_page(303, "Found", ""),
                           f"{mount_path}/block/{found[0]['shard']}/{height}")
            return pages.height_results(text, blocks)
        if not _hex64.match(text):
            raise _bad_request("Not a transaction hash, block hash or address (64 hex "
                               "digits), nor a height.", text)
        digest = text.removeprefix("0x").removeprefix("0X").lower()
        tx, block = await self.calls(("agora_getTransaction", [digest]),
                                     ("agora_getBlockByHash", [digest]))
        target = (f"{mount_path}/tx/{digest}" if tx else
                  f"{mount_path}/block/{digest}" if block else f"{mount_path}/account/{digest}")
        raise Page(303, pages.error_page(303, "Found", ""), target)


def _contract_methods(source: str) -> list[tuple[str, str, tuple[str, ...]]] | None:
    """(name, kind, params) of the exported and view methods, from the validated source."""
    from vm.errors import VMError
    from vm.validate import validate_source

    try:
        _, info = validate_source(source)
    except (VMError, SyntaxError, ValueError, RecursionError):
        return None
    return [(name, function.kind, function.params)
            for name, function in sorted(info.functions.items())
            if function.kind in ("export", "view")]


async def _remote_status(address: str, timeout_seconds: float) -> Json | str:
    """A validator's ``agora_status`` over HTTP, or why it could not be had."""
    url = address if "://" in address else f"http://{address}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "agora_status"}
    try:
        with trio.fail_after(timeout_seconds):
            async with httpx.AsyncClient(timeout=timeout_seconds) as client:
                response = await client.post(url, json=body)
        reply = response.json()
    except trio.TooSlowError:
        return f"no answer within {timeout_seconds:g} s"
    except (httpx.HTTPError, ValueError, OSError) as error:
        return f"unreachable: {type(error).__name__}"
    if not isinstance(reply, dict) or not isinstance(reply.get("result"), dict):
        return "answered with an error"
    return reply["result"]


def _number(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 19:
        raise _bad_request(f"{what} must be a non-negative integer, not {text[:40]!r}")
    return int(text)


def _optional_number(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    return None if not values else _number(values[0], name)


def _digest(text: str) -> str:
    if not _hex64.match(text):
        raise _bad_request(f"{text[:80]!r} is not a 32-byte hex hash or address.")
    return text.removeprefix("0x").removeprefix("0X").lower()


async def _respond(send: Any, status: int, body: bytes, content_type: str,
                   extra_headers: list[tuple[bytes, bytes]] | None = None,
                   length: int | None = None) -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body) if length is None else length).encode()),
               *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
