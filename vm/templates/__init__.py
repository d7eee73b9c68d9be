"""Contract templates: ordinary contracts in the VM subset, loaded with `load(name)`.

Names: token, nft, items, split, market, auction, rental, licence, dao, kyc, provenance,
swap, tickets, membership, crowdfund, fractional, mysterybox, loyalty, giftcard, staking,
vesting, multisig, oracle, did, dispute, drop, bonding, bridge, and receipt_roots (the
root attestations bridge.py reads). vm/templates/README.md is
the map; each file's docstring is its reference.

Off-chain helpers for the templates that check hashes: the allow-list Merkle tree of
drop.py (`allowlist_leaf`, `allowlist_root`, `allowlist_proof`), the commitments of
mysterybox.py (`box_commitment`) and the message tree of bridge.py (`bridge_message_root`,
`bridge_message_proof`); each computes exactly what its contract recomputes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

_directory = Path(__file__).parent


def load(name: str) -> str:
    """Source of template `name` (e.g. "token", "nft")."""
    return (_directory / f"{name}.py").read_text(encoding="ascii")


NAMES = ("token", "nft", "items", "split", "market", "auction", "rental", "licence", "dao",
         "kyc", "provenance", "swap", "tickets", "membership", "crowdfund", "fractional",
         "mysterybox", "loyalty", "giftcard", "staking", "vesting", "multisig", "oracle",
         "did", "dispute", "drop", "bonding", "bridge", "receipt_roots")


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    """Inner node of a sorted-pair tree (drop.py and bridge.py)."""
    low, high = min(left, right), max(left, right)
    return _sha256(b"\x01" + low + high)


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    assert leaves, "a tree needs at least one leaf"
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        # An odd node out is carried up unchanged (no duplicate-leaf trick).
        levels.append([_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                       for i in range(0, len(level), 2)])
    return levels


def _proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def allowlist_leaf(account: bytes, allowance: int) -> bytes:
    """Leaf of drop.py's allow-list: sha256(0x00 || account || allowance as 8 bytes)."""
    assert len(account) == 32 and 0 <= allowance < 2**64
    return _sha256(b"\x00" + account + allowance.to_bytes(8, "big"))


def allowlist_root(entries: list[tuple[bytes, int]]) -> bytes:
    """Root over (account, allowance) entries, in the given order."""
    return _levels([allowlist_leaf(who, cap) for who, cap in entries])[-1][0]


def allowlist_proof(entries: list[tuple[bytes, int]], index: int) -> list[bytes]:
    """Sibling hashes from entry `index` up to the root."""
    return _proof(_levels([allowlist_leaf(who, cap) for who, cap in entries]), index)


def box_commitment(draw: int, party: bytes, secret: bytes) -> bytes:
    """What a party of a mystery-box draw commits to: sha256(draw (8 bytes) || party ||
    secret); binding the draw and the party stops replaying another's commitment."""
    return _sha256(draw.to_bytes(8, "big") + party + secret)


def bridge_message_root(messages: list[bytes]) -> bytes:
    """Root over bridge messages, the same tree as consensus.types.merkle_root (RFC 6962
    prefixes, ordered pairs, an odd node carried up)."""
    return _ordered_levels(messages)[-1][0]


def bridge_message_proof(messages: list[bytes], index: int) -> list[list[Any]]:
    """Path of message `index`: [[sibling, side], ...], side 1 when the sibling is on the
    left. Levels where the node has no sibling (carried up) add nothing."""
    path: list[list[Any]] = []
    for level in _ordered_levels(messages)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append([level[sibling], 1 if sibling < index else 0])
        index //= 2
    return path


def _ordered_levels(messages: list[bytes]) -> list[list[bytes]]:
    assert messages, "a tree needs at least one leaf"
    levels = [[_sha256(b"\x00" + message) for message in messages]]
    while len(levels[-1]) > 1:
        level = levels[-1]
        levels.append([_sha256(b"\x01" + level[i] + level[i + 1]) if i + 1 < len(level)
                       else level[i] for i in range(0, len(level), 2)])
    return levels
