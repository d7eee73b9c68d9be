"""A minimal WebSocket client (wsproto over a trio TCP stream) for the RPC tests."""

from __future__ import annotations

import json
from typing import Any

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Request,
    TextMessage,
)


class WsClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.connection = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Any] = []
        self.text = ""
        self.closed: CloseConnection | None = None

    @classmethod
    async def connect(cls, url: str, origin: str | None = None) -> WsClient:
        host, port = url.removeprefix("http://").split(":")
        client = cls(await trio.open_tcp_stream(host, int(port)))
        headers = [] if origin is None else [(b"origin", origin.encode())]
        await client._send(Request(host=host, target="/", extra_headers=headers))
        while True:
            event = await client._next_event()
            if isinstance(event, AcceptConnection):
                return client

    async def _send(self, event: Any) -> None:
        await self.stream.send_all(self.connection.send(event))

    async def _next_event(self) -> Any:
        while True:
            for event in self.connection.events():
                return event
            data = await self.stream.receive_some(65536)
            self.connection.receive_data(data or None)

    async def send_json(self, value: Any) -> None:
        await self._send(Message(data=json.dumps(value)))

    async def receive_json(self) -> Any:
        """The next JSON message; None once the server closed the connection."""
        while True:
            event = await self._next_event()
            if isinstance(event, TextMessage):
                self.text += event.data
                if event.message_finished:
                    text, self.text = self.text, ""
                    return json.loads(text)
            elif isinstance(event, CloseConnection):
                self.closed = event
                return None

    async def close(self) -> None:
        await self.stream.aclose()
