"""The peer handshake refuses a peer of another genesis, naming both hashes (#18 point 1)."""

from __future__ import annotations

import pytest

from network.errors import PeerRefused, RefusalReason
from network.handshake import Hello, check_hello

ours, theirs = b"\x11" * 32, b"\x22" * 32
peer_key = b"\x05" * 32


def _check(hello: Hello) -> None:
    check_hello(hello, chain_id="c", our_identity=b"\x01" * 32,
                allowed_identities={peer_key}, expected_identity=None, genesis_hash=ours)


def test_a_hello_round_trips_its_genesis_hash() -> None:
    hello = Hello("c", b"\x03" * 32, peer_key, genesis_hash=theirs)
    assert Hello.decode(hello.encode()) == hello


def test_a_peer_with_another_genesis_is_refused_naming_both_hashes() -> None:
    with pytest.raises(PeerRefused) as caught:
        _check(Hello("c", b"\x03" * 32, peer_key, genesis_hash=theirs))
    assert caught.value.reason is RefusalReason.WRONG_GENESIS
    assert theirs.hex() in caught.value.detail and ours.hex() in caught.value.detail
    _check(Hello("c", b"\x03" * 32, peer_key, genesis_hash=ours))  # the same: accepted
