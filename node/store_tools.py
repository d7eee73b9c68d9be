"""Offline tools for a stopped node's store: check, export, import, reset-state.

``agora store check``   opens the store as the node would (schema, chain id, checksums of
                        the markers), then reads every block of every shard (each record's
                        checksum), verifies each commit certificate against the genesis
                        validator keys as catch-up does, and replays every block from the
                        genesis on a scratch store: the state root after each height must
                        equal the stored one and the one a quorum signed in a later header,
                        and the final state must equal the stored state key by key.
``agora store export``  writes certified blocks (block bytes + commit certificate) to a
                        checksummed file (format below), to bootstrap a new member.
``agora store import``  reads such a file into an empty (or shorter) store: every record's
                        checksum, every certificate against *this node's* genesis, then
                        re-executes and finalizes each block exactly as the node's executor
                        does. Nothing from the file is trusted but what 2f + 1 validators
                        signed; the state is recomputed, never copied.
``agora node reset-state`` deletes the store (blocks, state, WAL) and keeps the key, the
                        config, the genesis and the last-signed record (node/last_signed.py),
                        so the reset node catches up from its peers and still cannot sign a
                        second digest for a (view, height) it voted on. CometBFT's
                        ``reset-state``; there is no ``unsafe-reset-all`` here.

Export file format (version 1)::

    b"AGORA-BLOCKS\\n"
    frame: [chain_id, genesis_hash, shard_count, version]
    frame: [shard, height, block_bytes, certificate_bytes]   (one per block, height order
                                                             within a shard, shards in order)
    frame: b""                                               (the end; a file without it
                                                             was cut short)
    where frame = u32 payload length | SHA-256(payload) | payload (msgpack)

Blocks are verified against the certificate's chain, not against the file's order: a block
that does not chain onto the importing store's last block is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgpack

from consensus import codec
from consensus.errors import StorageCorruption
from consensus.types import Block, CommitCertificate, tx_root
from ledger.executor import build_executor, genesis_state_writes, state_root_after
from node.genesis import Genesis
from storage.chain import ChainStore
from storage.errors import StorageError
from storage.memory import MemoryStore
from storage.state_root import EMPTY_STATE_ROOT, next_state_root

export_magic = b"AGORA-BLOCKS\n"
export_version = 1
frame_header = struct.Struct(">I32s")
zero_digest = b"\x00" * 32
frame_bytes_max = 64 * 1024 * 1024  # a block of block_bytes_max plus its certificate fits


class StoreToolError(StorageCorruption):
    """A store or export file fails a check, or the store is in use; the message says
    which and where (the CLI's exit code 7, as for a corrupt store)."""


@dataclasses.dataclass(frozen=True, slots=True)
class CheckReport:
    heights: dict[int, int]  # shard -> last finalized height checked
    problems: list[str]


def open_store(data_dir: Path, chain_id: str) -> ChainStore:
    """Open a stopped node's store; a running node's lock is a clear error."""
    if not data_dir.is_dir():
        raise StoreToolError(f"{data_dir}: no store (the node never started, or was reset)")
    try:
        return ChainStore.open(data_dir, chain_id)
    except StorageError:
        raise
    except Exception as error:  # plyvel raises IOError subclasses for a held LOCK
        if "lock" in str(error).lower():
            raise StoreToolError(f"{data_dir} is in use: stop the node first") from None
        raise


# -- verification shared by check and import -----------------------------------------------


def invalid_certified_block(genesis: Genesis, shard: int, height: int, prev_hash: bytes,
                            block: Block, certificate: CommitCertificate) -> str | None:
    """Why ``block`` with ``certificate`` is not the certified next block, or None: the
    checks a replica makes on a block fetched by catch-up (consensus/replica.py,
    ``_invalid_synced_block``), against the genesis validator set."""
    header = block.header
    if (header.chain_id, header.shard, header.height) != (genesis.chain_id, shard, height):
        return "not the next block of this chain and shard"
    if header.prev_hash != prev_hash:
        return "does not chain onto the previous block"
    if (certificate.chain_id, certificate.shard, certificate.height,
            certificate.digest) != (genesis.chain_id, shard, height, block.hash()):
        return "certificate for another block"
    if tx_root(block.txs) != header.tx_root:
        return "tx root does not match"
    return certificate.verify(genesis.validator_keys, genesis.quorum)


class Replayer:
    """Executes certified blocks onto a store exactly as the node's executor loop does
    (execute, state root, one finalize_block batch), and checks the roots each header
    carries for ``app_height`` against the ones it computed."""

    def __init__(self, genesis: Genesis, store: ChainStore, shard: int) -> None:
        self.genesis, self.store, self.shard = genesis, store, shard
        self.executor = build_executor(
            genesis, shard,
            is_committed=lambda tx: store.get_tx_location(tx.hash()) is not None)
        self.roots: dict[int, tuple[bytes, bytes]] = {}
        origin = store.get_block(shard, 0)
        if origin is not None and origin.block_hash != genesis.hash():
            raise StoreToolError(f"shard {shard}: the store starts from genesis "
                                 f"{origin.block_hash.hex()}, not {genesis.hash().hex()}")
        if store.finalized(shard) is None:
            writes = genesis_state_writes(genesis, shard)
            root = next_state_root(EMPTY_STATE_ROOT, 0, writes)
            store.finalize_block(shard, 0, genesis.hash(), b"", b"", [], [], writes, root)
        self.roots[0] = (store.state_root(shard), store.get_roots(shard, 0)[1]
                         if store.get_roots(shard, 0) else b"")

    def prev_hash(self) -> bytes:
        """The hash block ``last + 1`` must name: height 1 chains onto the zero digest, as
        in the replica (the store keeps the genesis hash at height 0 instead)."""
        finalized = self.store.finalized(self.shard)
        assert finalized is not None
        return zero_digest if finalized.height == 0 else finalized.block_hash

    def apply(self, block: Block, certificate: CommitCertificate) -> str | None:
        """Verify, execute and finalize the next block; why not, or None."""
        height = self.store.last_height(self.shard) + 1
        problem = invalid_certified_block(self.genesis, self.shard, height, self.prev_hash(),
                                          block, certificate)
        if problem is not None:
            return f"shard {self.shard} height {height}: {problem}"
        header = block.header
        known = self.roots.get(header.app_height) or self._stored_roots(header.app_height)
        if known is not None and known[0] != header.state_root:
            return (f"shard {self.shard} height {height}: the quorum signed state root "
                    f"{header.state_root.hex()[:16]} for height {header.app_height}, replay "
                    f"computed {known[0].hex()[:16]}")
        result = self.executor.execute_block(block, _StateOf(self.store, self.shard))
        state_root = state_root_after(self.store.state_root(self.shard), height, result)
        self.store.finalize_block(
            self.shard, height, block.hash(), codec.encode(block), codec.encode(certificate),
            result.txs_to_index, result.receipts_to_store, result.state_writes, state_root,
            receipts_root=result.receipts_root)
        self.roots[height] = (state_root, result.receipts_root)
        return None

    def _stored_roots(self, height: int) -> tuple[bytes, bytes] | None:
        return self.store.get_roots(self.shard, height)


class _StateOf:
    def __init__(self, store: ChainStore, shard: int) -> None:
        self._store, self._shard = store, shard

    def get(self, key: bytes) -> bytes | None:
        return self._store.get_state(self._shard, key)


# -- check ---------------------------------------------------------------------------------


def check_store(store: ChainStore, genesis: Genesis) -> CheckReport:
    """Every problem of ``store`` against ``genesis`` (see the module docstring)."""
    problems: list[str] = []
    heights = {}
    try:
        store.check_invariants()
    except StorageError as error:
        problems.append(f"invariants: {error}")
    for shard in range(genesis.shard_count):
        heights[shard] = store.last_height(shard)
        problems += _check_shard(store, genesis, shard)
    return CheckReport(heights, problems)


def _check_shard(store: ChainStore, genesis: Genesis, shard: int) -> list[str]:
    origin = store.get_block(shard, 0)
    if origin is not None and origin.block_hash != genesis.hash():
        return [f"shard {shard}: the store's height 0 is genesis {origin.block_hash.hex()}, "
                f"the node's genesis is {genesis.hash().hex()}"]
    replay = Replayer(genesis, ChainStore(MemoryStore(), genesis.chain_id), shard)
    try:
        for stored in store.iterate_blocks(shard, 1):
            block = codec.decode_struct(Block, stored.block_bytes)
            certificate = codec.decode_struct(CommitCertificate, stored.certificate_bytes)
            if block.hash() != stored.block_hash:
                return [f"shard {shard} height {stored.height}: block bytes do not hash to "
                        "the stored block hash"]
            problem = replay.apply(block, certificate)
            if problem is not None:
                return [problem]
            computed = replay.roots[stored.height]
            recorded = store.get_roots(shard, stored.height)
            if recorded is not None and recorded != computed:
                return [f"shard {shard} height {stored.height}: stored state root "
                        f"{recorded[0].hex()[:16]} differs from the replayed "
                        f"{computed[0].hex()[:16]}"]
    except StorageError as error:
        return [f"shard {shard}: {error}"]
    return _compare_state(store, replay.store, shard)


def _compare_state(store: ChainStore, replayed: ChainStore, shard: int) -> list[str]:
    if store.state_root(shard) != replayed.state_root(shard):
        return [f"shard {shard}: stored state root differs from the replayed one"]
    ours, theirs = dict(store.scan_state(shard)), dict(replayed.scan_state(shard))
    differing = sorted(key for key in ours.keys() | theirs.keys()
                       if ours.get(key) != theirs.get(key))
    if differing:
        return [f"shard {shard}: {len(differing)} state entries differ from a replay of the "
                f"blocks (first key {differing[0].hex()}): the state on disk is damaged"]
    return []


# -- export and import ---------------------------------------------------------------------


def _write_frame(handle: IO[bytes], value: Any) -> None:
    payload = msgpack.packb(value, use_bin_type=True)
    handle.write(frame_header.pack(len(payload), hashlib.sha256(payload).digest()) + payload)


def _read_frames(handle: IO[bytes], where: str) -> Iterator[Any]:
    if handle.read(len(export_magic)) != export_magic:
        raise StoreToolError(f"{where}: not an agora block export")
    index = 0
    while True:
        head = handle.read(frame_header.size)
        if len(head) != frame_header.size:
            raise StoreToolError(f"{where}: cut short after {index} records (no end mark)")
        length, checksum = frame_header.unpack(head)
        if length > frame_bytes_max:
            raise StoreToolError(f"{where}: record {index} claims {length} bytes")
        payload = handle.read(length)
        if len(payload) != length or hashlib.sha256(payload).digest() != checksum:
            raise StoreToolError(f"{where}: record {index} fails its checksum")
        value = msgpack.unpackb(payload, raw=False)
        if value == b"":
            return
        yield value
        index += 1


def export_blocks(store: ChainStore, genesis: Genesis, path: Path,
                  from_height: int = 1) -> dict[int, int]:
    """Write every shard's certified blocks from ``from_height``; blocks per shard."""
    counts = {}
    temporary = path.with_suffix(path.suffix + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(export_magic)
        _write_frame(handle, [genesis.chain_id, genesis.hash(), genesis.shard_count,
                              export_version])
        for shard in range(genesis.shard_count):
            counts[shard] = 0
            for stored in store.iterate_blocks(shard, max(1, from_height)):
                _write_frame(handle, [shard, stored.height, stored.block_bytes,
                                      stored.certificate_bytes])
                counts[shard] += 1
        _write_frame(handle, b"")
    temporary.replace(path)
    return counts


def import_blocks(store: ChainStore, genesis: Genesis, path: Path) -> dict[int, int]:
    """Verify and execute the file's blocks onto ``store``; blocks imported per shard.
    Blocks at or below a shard's height in ``store`` are skipped (they must match)."""
    counts = {shard: 0 for shard in range(genesis.shard_count)}
    replayers: dict[int, Replayer] = {}
    with open(path, "rb") as handle:
        frames = _read_frames(handle, str(path))
        header = next(frames, None)
        if not (isinstance(header, list) and len(header) == 4 and header[3] == export_version):
            raise StoreToolError(f"{path}: unknown export header {header!r}")
        chain_id, genesis_hash, shard_count, _ = header
        if (chain_id, bytes(genesis_hash), shard_count) != (
                genesis.chain_id, genesis.hash(), genesis.shard_count):
            raise StoreToolError(f"{path}: exported from genesis {bytes(genesis_hash).hex()} "
                                 f"({chain_id}), this node's is {genesis.hash().hex()}")
        for value in frames:
            shard, height, block_bytes, certificate_bytes = value
            if not 0 <= shard < genesis.shard_count:
                raise StoreToolError(f"{path}: block of shard {shard}")
            replay = replayers.setdefault(shard, Replayer(genesis, store, shard))
            if height <= store.last_height(shard):
                stored = store.get_block(shard, height)
                if stored is None or stored.block_bytes != block_bytes:
                    raise StoreToolError(f"{path}: shard {shard} height {height} differs from "
                                         "the block this store already has")
                continue
            problem = replay.apply(codec.decode_struct(Block, block_bytes),
                                   codec.decode_struct(CommitCertificate, certificate_bytes))
            if problem is not None:
                raise StoreToolError(f"{path}: {problem}; imported nothing past it")
            counts[shard] += 1
    return counts


# -- reset ---------------------------------------------------------------------------------


def reset_state(data_dir: Path, last_signed_dir: Path) -> None:
    """Delete the store; keep the last-signed record (refuse if it is inside the store)."""
    data_dir, last_signed_dir = data_dir.resolve(), last_signed_dir.resolve()
    if last_signed_dir == data_dir or data_dir in last_signed_dir.parents:
        raise StoreToolError(f"node.last_signed_dir {last_signed_dir} is inside data_dir "
                             f"{data_dir}; move it out before a reset")
    if data_dir.exists():
        lock = data_dir / "LOCK"
        if lock.exists():
            _refuse_if_locked(data_dir)
        shutil.rmtree(data_dir)


def _refuse_if_locked(data_dir: Path) -> None:
    import fcntl

    with open(data_dir / "LOCK", "a") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreToolError(f"{data_dir} is in use: stop the node first") from None
        fcntl.lockf(handle, fcntl.LOCK_UN)
