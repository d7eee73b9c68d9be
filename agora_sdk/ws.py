"""A small JSON-over-WebSocket client on wsproto (already a dependency of the node), in two
shells: blocking sockets for the sync client, anyio streams for the async one (so it runs
under trio and asyncio alike). Only what the SDK needs: connect, send and receive JSON
text messages, close. Every receive has a deadline given by the caller.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import anyio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

receive_chunk_bytes = 65536
message_bytes_max = 16 * 1024 * 1024


class WebSocketClosed(ConnectionError):
    """The server closed the WebSocket (or the connection broke)."""


def _host_port(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "ws"):
        raise ValueError(f"{url}: only http:// and ws:// URLs are supported")
    return parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"


class _Protocol:
    """The wsproto side shared by both shells: bytes in, events and bytes out."""

    def __init__(self) -> None:
        self.connection = WSConnection(ConnectionType.CLIENT)
        self.text: list[str] = []
        self.size = 0

    def feed(self, data: bytes) -> tuple[list[Any], bytes]:
        """Messages completed by ``data`` (JSON values, or None at a close) and bytes to send
        back (pongs, close replies)."""
        self.connection.receive_data(data or None)
        messages: list[Any] = []
        out = b""
        for event in self.connection.events():
            if isinstance(event, TextMessage):
                self.text.append(event.data)
                self.size += len(event.data)
                if self.size > message_bytes_max:
                    raise WebSocketClosed("message too large")
                if event.message_finished:
                    messages.append(json.loads("".join(self.text)))
                    self.text, self.size = [], 0
            elif isinstance(event, Ping):
                out += self.connection.send(event.response())
            elif isinstance(event, (CloseConnection, RejectConnection)):
                messages.append(None)
        return messages, out


class SyncWebSocket:
    """Blocking client (the sync SDK)."""

    def __init__(self, sock: socket.socket, protocol: _Protocol) -> None:
        self._sock = sock
        self._protocol = protocol
        self._pending: list[Any] = []

    @classmethod
    def connect(cls, url: str, timeout_seconds: float) -> SyncWebSocket:
        host, port, path = _host_port(url)
        sock = socket.create_connection((host, port), timeout=timeout_seconds)
        protocol = _Protocol()
        sock.sendall(protocol.connection.send(Request(host=host, target=path)))
        while True:
            data = sock.recv(receive_chunk_bytes)
            protocol.connection.receive_data(data or None)
            for event in protocol.connection.events():
                if isinstance(event, AcceptConnection):
                    return cls(sock, protocol)
                if isinstance(event, RejectConnection):
                    sock.close()
                    raise WebSocketClosed(f"{url}: WebSocket upgrade refused")
            if not data:
                raise WebSocketClosed(f"{url}: connection closed during the handshake")

    def send_json(self, value: Any) -> None:
        self._sock.sendall(self._protocol.connection.send(TextMessage(json.dumps(value))))

    def receive_json(self, timeout_seconds: float) -> Any:
        """The next JSON message; raises WebSocketClosed at a close, TimeoutError after
        ``timeout_seconds`` of silence."""
        self._sock.settimeout(timeout_seconds)
        while not self._pending:
            try:
                data = self._sock.recv(receive_chunk_bytes)
            except socket.timeout:
                raise TimeoutError("no message in time") from None
            except OSError as error:
                raise WebSocketClosed(str(error)) from error
            messages, out = self._protocol.feed(data)
            if out:
                self._sock.sendall(out)
            self._pending += messages
            if not data and not self._pending:
                raise WebSocketClosed("connection closed")
        message = self._pending.pop(0)
        if message is None:
            raise WebSocketClosed("the server closed the WebSocket")
        return message

    def close(self) -> None:
        self._sock.close()


class AsyncWebSocket:
    """anyio client (the async SDK; trio or asyncio)."""

    def __init__(self, stream: anyio.abc.ByteStream, protocol: _Protocol) -> None:
        self._stream = stream
        self._protocol = protocol
        self._pending: list[Any] = []

    @classmethod
    async def connect(cls, url: str, timeout_seconds: float) -> AsyncWebSocket:
        host, port, path = _host_port(url)
        with anyio.fail_after(timeout_seconds):
            stream = await anyio.connect_tcp(host, port)
            protocol = _Protocol()
            await stream.send(protocol.connection.send(Request(host=host, target=path)))
            while True:
                try:
                    data = await stream.receive(receive_chunk_bytes)
                except anyio.EndOfStream:
                    data = b""
                protocol.connection.receive_data(data or None)
                for event in protocol.connection.events():
                    if isinstance(event, AcceptConnection):
                        return cls(stream, protocol)
                    if isinstance(event, RejectConnection):
                        await stream.aclose()
                        raise WebSocketClosed(f"{url}: WebSocket upgrade refused")
                if not data:
                    raise WebSocketClosed(f"{url}: connection closed during the handshake")

    async def send_json(self, value: Any) -> None:
        await self._stream.send(self._protocol.connection.send(TextMessage(json.dumps(value))))

    async def receive_json(self, timeout_seconds: float) -> Any:
        with anyio.fail_after(timeout_seconds):
            while not self._pending:
                try:
                    data = await self._stream.receive(receive_chunk_bytes)
                except anyio.EndOfStream:
                    data = b""
                except (OSError, anyio.BrokenResourceError) as error:
                    raise WebSocketClosed(str(error)) from error
                messages, out = self._protocol.feed(data)
                if out:
                    await self._stream.send(out)
                self._pending += messages
                if not data and not self._pending:
                    raise WebSocketClosed("connection closed")
        message = self._pending.pop(0)
        if message is None:
            raise WebSocketClosed("the server closed the WebSocket")
        return message

    async def aclose(self) -> None:
        await self._stream.aclose()
