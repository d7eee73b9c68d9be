"""The state root rule of storage/state_root.py."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.state_root import EMPTY_STATE_ROOT, next_state_root, write_set_digest

write_sets = st.dictionaries(st.binary(max_size=4), st.none() | st.binary(max_size=4))


def test_root_follows_the_documented_formula() -> None:
    writes = [(b"b", None), (b"a", b"1")]
    body = msgpack.packb([[b"a", b"1"], [b"b", None]], use_bin_type=True)
    digest = hashlib.sha256(b"agora/write-set/v1" + body).digest()
    expected = hashlib.sha256(
        b"agora/state-root/v1" + EMPTY_STATE_ROOT + (0).to_bytes(8, "big") + digest
    ).digest()
    assert write_set_digest(writes) == digest
    assert next_state_root(EMPTY_STATE_ROOT, 0, writes) == expected


@given(writes=write_sets, seed=st.randoms())
def test_root_does_not_depend_on_write_order(writes: dict, seed: object) -> None:
    ordered = list(writes.items())
    shuffled = list(ordered)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert next_state_root(EMPTY_STATE_ROOT, 3, ordered) == next_state_root(
        EMPTY_STATE_ROOT, 3, shuffled
    )


def test_root_binds_height_history_and_delete_versus_empty_value() -> None:
    writes = [(b"k", b"")]
    assert next_state_root(EMPTY_STATE_ROOT, 0, writes) != next_state_root(
        EMPTY_STATE_ROOT, 1, writes
    )
    other_history = next_state_root(EMPTY_STATE_ROOT, 0, [])
    assert next_state_root(other_history, 1, writes) != next_state_root(EMPTY_STATE_ROOT, 1, writes)
    assert write_set_digest([(b"k", b"")]) != write_set_digest([(b"k", None)])


def test_a_write_set_with_a_key_twice_is_a_bug() -> None:
    with pytest.raises(AssertionError, match="twice"):
        write_set_digest([(b"k", b"1"), (b"k", b"2")])
