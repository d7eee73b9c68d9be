"""Fuzzing the peer edge (#17 point 7): the handshake hello, the node's wire envelope, and
raw garbage sent to a real node's peer port. The consensus message codec has its own
properties in tests/consensus/test_codec.py; here is what sits in front of it.

A peer controls every byte here, before it is authenticated: each malformed input must be
refused with the layer's own error (and, on a real socket, counted as a refusal), never
crash anything."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.errors import PeerError
from network.errors import PeerRefused
from network.framing import encode_record
from network.handshake import PROTOCOL_MAGIC, Hello
from node.client import AgoraClient
from node.node import _decode_wire
from node.setup import LocalCluster, free_port_block

valid_hello = Hello("agora-local", b"\x01" * 32, b"\x02" * 32).encode()


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200) | st.binary(max_size=120).map(lambda tail: PROTOCOL_MAGIC + tail))
def test_any_hello_bytes_decode_or_are_refused(data: bytes) -> None:
    try:
        hello = Hello.decode(data)
    except PeerRefused:
        return
    assert hello.encode() == data  # what decodes is exactly what was sent


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, len(valid_hello) - 1), st.integers(0, 255), st.booleans())
def test_a_mutated_hello_decodes_or_is_refused(position: int, byte: int, cut: bool) -> None:
    data = valid_hello[:position] if cut else (
        valid_hello[:position] + bytes([byte]) + valid_hello[position + 1:])
    try:
        Hello.decode(data)
    except PeerRefused:
        pass


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
def test_any_wire_payload_decodes_or_raises_only_a_peer_error(data: bytes) -> None:
    try:
        _decode_wire(data)
    except PeerError:
        pass


def _garbage_connections(port: int) -> list[bytes]:
    """What a hostile or broken client sends before authenticating."""
    return [
        b"",  # connect and close
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # the wrong protocol
        (2**32 - 1).to_bytes(4, "big"),  # a length prefix far over the limit
        encode_record(b"\x00" * 50),  # a record that is not a hello
        encode_record(valid_hello) + encode_record(b"\xff" * 80),  # a hello, then no key
        encode_record(PROTOCOL_MAGIC + b"\x00\x63"),  # another protocol version
        bytes(range(256)) * 4,
    ]


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_garbage_on_the_peer_port_is_refused_and_counted_and_the_node_keeps_running(
        tmp_path: Path) -> None:
    base = free_port_block(3)
    cluster = LocalCluster(tmp_path / "cluster", 1, 1, fresh=True, p2p_port=base,
                           rpc_port=base + 1, metrics_port=base + 2)
    try:
        cluster.start()
        cluster.wait_ready(timeout_seconds=60)
        client = AgoraClient(cluster.rpc_urls[0], timeout_seconds=10.0)
        before = sum(client.status()["peer_refusals"].values())
        sends = _garbage_connections(base) * 5
        for payload in sends:
            with socket.create_connection(("127.0.0.1", base), timeout=5) as sock:
                sock.settimeout(5)
                if payload:
                    try:
                        sock.sendall(payload)
                    except OSError:
                        pass  # the node may close first: that is a refusal too
                try:
                    sock.recv(4096)  # the node's hello, or its close
                except OSError:
                    pass
        deadline = time.monotonic() + 30
        while True:
            after = sum(client.status()["peer_refusals"].values())
            if after - before >= len(sends) // 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        cluster.check_alive()
        height = client.status()["shards"][0]["height"]
        deadline = time.monotonic() + 30
        while client.status()["shards"][0]["height"] <= height:
            assert time.monotonic() < deadline, "the node stopped finalizing blocks"
            time.sleep(0.1)
        assert after - before >= len(sends) // 2, (before, after)
    finally:
        cluster.stop()
    log = (cluster.homes[0] / "node.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
