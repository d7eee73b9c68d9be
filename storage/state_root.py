"""The per-shard state commitment: an accumulated hash of ordered write sets.

Rule (SHA-256 everywhere, ``u64be`` = 8-byte big-endian unsigned)::

    write_set_digest(W) = SHA256("agora/write-set/v1" || msgpack([[key, value], ...]))
        pairs sorted by key bytewise, keys unique, value nil for a delete
    root(-1)           = EMPTY_STATE_ROOT = SHA256("agora/state-root/v1/empty")
    root(h)            = SHA256("agora/state-root/v1" || root(h-1) || u64be(h)
                                || write_set_digest(W_h))

``W_h`` is the net write set of the block at height ``h`` (genesis included, at height
0): every key the block changed, once, with its final value or None if deleted.

Why this rule, for now:

* Cheap: O(size of the block's write set) per block, independent of the size of the
  state, with no extra disk reads — it can be computed inside the executor before the
  block is finalized and checked again by ``ChainStore.finalize_block``.
* Deterministic: canonical msgpack (bin for bytes, arrays, no floats) of a write set
  sorted by key; dict or set order never reaches the hash.
* Sufficient for PBFT checkpoints and the determinism check: two replicas that start from
  the same genesis and report the same root at height ``h`` applied the same write sets
  in the same order, hence hold the same state (up to SHA-256 collisions).

What it does not give (a Merkle/verkle tree over the state is a later issue): proofs that
a key has a value, and verification of a state snapshot without replaying every block
from genesis. Changing the rule changes ``SCHEMA_VERSION`` in ``storage/chain.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from operator import itemgetter

import msgpack

DIGEST_BYTES = 32
_WRITE_SET_DOMAIN = b"agora/write-set/v1"
_STATE_ROOT_DOMAIN = b"agora/state-root/v1"
EMPTY_STATE_ROOT = hashlib.sha256(b"agora/state-root/v1/empty").digest()

StateWrite = tuple[bytes, bytes | None]


def write_set_digest(state_writes: Sequence[StateWrite]) -> bytes:
    """Hash a block's net write set canonically (sorted by key; keys must be unique)."""
    ordered = sorted(state_writes, key=itemgetter(0))
    keys = [key for key, _ in ordered]
    assert len(set(keys)) == len(keys), "write set names a key twice; it must be net"
    # msgpack would happily pack a str as str: require bytes so the encoding stays canonical.
    assert all(type(key) is bytes for key in keys), "state keys must be bytes"
    assert all(type(value) is bytes or value is None for _, value in ordered), (
        "state values must be bytes or None"
    )
    body = msgpack.packb(ordered, use_bin_type=True)
    return hashlib.sha256(_WRITE_SET_DOMAIN + body).digest()


def next_state_root(previous_root: bytes, height: int, state_writes: Sequence[StateWrite]) -> bytes:
    """Return root(height) from root(height - 1) and the block's net write set."""
    assert len(previous_root) == DIGEST_BYTES, "previous state root must be a SHA-256 digest"
    assert height >= 0, f"height must be non-negative, got {height}"
    hasher = hashlib.sha256(_STATE_ROOT_DOMAIN)
    hasher.update(previous_root)
    hasher.update(height.to_bytes(8, "big"))
    hasher.update(write_set_digest(state_writes))
    return hasher.digest()
