"""Turning the RPC's hex fields into readable values, and values into escaped HTML.

The RPC hands out bytes as hex (node/rpc.py); what they mean depends on who wrote them:

* the native ledger (``contract == ""``): args and event data are the consensus codec's
  canonical msgpack (``[to, amount]``, ``Transfer [from, to, amount]``);
* contracts: args, event data and results are the VM's canonical msgpack (vm/codec.py),
  args a map of named arguments; a deploy's args are ``{source, args}``.

Decoding is best effort and never raises: bytes that do not decode are shown as hex.
Rendered values are bounded (``value_items_max`` elements, ``text_chars_max`` characters)
so a large event cannot make a large page, and every string is escaped (html.py).
"""

from __future__ import annotations

import datetime
from typing import Any

from consensus import codec
from consensus.errors import DecodeError
from node.explorer.html import Safe, el, esc, join, link
from vm import codec as vm_codec
from vm.errors import VMError

value_items_max = 64  # list/map entries rendered per value
text_chars_max = 2_000  # characters of a string rendered before "…"
native_bytes_max = 64 * 1024
address_bytes = 32


class Undecodable:
    """Bytes that are not the canonical encoding they should be; shown as hex."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def from_hex(text: str | None) -> bytes:
    try:
        return bytes.fromhex(text or "")
    except ValueError:
        return b""


def decode_native(data: bytes) -> Any:
    try:
        return codec.unpack(data, native_bytes_max)
    except DecodeError:
        return Undecodable(data)


def decode_vm(data: bytes) -> Any:
    if not data:
        return None
    try:
        return vm_codec.decode(data)
    except (VMError, ValueError, TypeError, RecursionError):
        return Undecodable(data)


def decode_payload(contract_hex: str, data_hex: str) -> Any:
    """Args or event data: by the native codec when ``contract`` is the native ledger."""
    data = from_hex(data_hex)
    return decode_native(data) if contract_hex == "" else decode_vm(data)


native_arg_names = ("to", "amount")
native_event_fields = {"Transfer": ("from", "to", "amount"), "Mint": ("to", "amount")}


def named(value: Any, names: tuple[str, ...]) -> Any:
    """A native positional tuple as a map with its documented names, when it fits."""
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return dict(zip(names, value))
    return value


def short_hex(data: bytes | str, keep: int = 8) -> str:
    text = data.hex() if isinstance(data, bytes) else data
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def address_link(hex_text: str, label: str | None = None) -> Safe:
    """A link to an account or contract page; the full address stays in the title."""
    if not hex_text:
        return el("span", {"class": "native"}, "native ledger")
    return link(f"/explorer/account/{hex_text}", el("code", None, label or short_hex(hex_text)),
                title=hex_text)


def tx_link(hex_text: str) -> Safe:
    return link(f"/explorer/tx/{hex_text}", el("code", None, short_hex(hex_text)),
                title=hex_text)


def block_link(shard: int, height: int, label: str | None = None) -> Safe:
    return link(f"/explorer/block/{int(shard)}/{int(height)}",
                label or f"{int(shard)}/{int(height)}")


def format_time_ms(timestamp_ms: int | None) -> Safe:
    if not isinstance(timestamp_ms, int) or timestamp_ms <= 0:
        return esc("—")
    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000, datetime.UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{timestamp_ms % 1000:03d} UTC"
    return el("time", {"datetime": moment.isoformat()}, text)


def render_value(value: Any, depth: int = 0) -> Safe:
    """A decoded value as escaped HTML: 32-byte values link to account pages."""
    if isinstance(value, Undecodable):
        return el("code", {"class": "raw"}, _clip(value.data.hex()), " (not decodable)")
    if value is None or isinstance(value, bool):
        return el("code", None, repr(value))
    if isinstance(value, int):
        return el("code", None, str(value))
    if isinstance(value, bytes):
        if len(value) == address_bytes:
            return address_link(value.hex())
        return el("code", None, "0x" + _clip(value.hex()))
    if isinstance(value, str):
        return el("q", {"class": "str"}, _clip(value))
    if depth >= 8:
        return esc("…")
    if isinstance(value, dict):
        items = list(value.items())
        rows = [el("li", None, render_value(key, depth + 1), ": ",
                   render_value(item, depth + 1)) for key, item in items[:value_items_max]]
        return el("ul", {"class": "map"}, rows, _more(len(items)))
    if isinstance(value, (list, tuple)):
        rows = [el("li", None, render_value(item, depth + 1))
                for item in list(value)[:value_items_max]]
        return el("ol", {"class": "list", "start": "0"}, rows, _more(len(value)))
    return el("code", None, repr(value))


def _more(count: int) -> Safe:
    if count <= value_items_max:
        return join(None)
    return el("li", {"class": "more"}, f"… {count - value_items_max} more")


def _clip(text: str) -> str:
    return text if len(text) <= text_chars_max else text[:text_chars_max] + "…"
