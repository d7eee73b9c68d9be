"""Awaitable wrappers for ChainStore's synced writes, for the trio node shell.

``finalize_block``, ``append_records``, ``prune_records`` and ``put_stable_checkpoint``
block on an fsync (milliseconds), so they run in a worker thread under a
:class:`trio.CapacityLimiter`; so does ``get_block`` (milliseconds for a 1000-tx block,
checksum included). Point reads (state, tx index, receipts: ~10-30 us) are called on
``store`` directly.

Cancellation: ``trio.to_thread.run_sync`` does not abandon the thread, so a cancelled
caller still waits until the write has finished; it never has to guess whether a block
was finalized.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio

from storage.chain import ChainStore, FinalizedHeight, StoredBlock
from storage.state_root import StateWrite

# LevelDB merges concurrent synced writes (several shards) into one fsync, so a few
# threads help; more would only queue on LevelDB's writer mutex.
WRITE_THREADS_MAX = 4


class AsyncChainStore:
    """Runs a :class:`ChainStore`'s blocking writes in threads; ``store`` for reads."""

    def __init__(self, store: ChainStore, limiter: trio.CapacityLimiter | None = None) -> None:
        self.store = store
        self._limiter = limiter if limiter is not None else trio.CapacityLimiter(WRITE_THREADS_MAX)

    async def finalize_block(
        self,
        shard: int,
        height: int,
        block_hash: bytes,
        block_bytes: bytes,
        certificate_bytes: bytes,
        txs: Sequence[tuple[bytes, int]],
        receipts: Sequence[tuple[bytes, bytes]],
        state_writes: Sequence[StateWrite],
        state_root: bytes,
        *,
        receipts_root: bytes = b"",
        events: Sequence[tuple[int, int, bytes, str]] = (),
    ) -> FinalizedHeight:
        def finalize() -> FinalizedHeight:
            return self.store.finalize_block(
                shard, height, block_hash, block_bytes, certificate_bytes, txs, receipts,
                state_writes, state_root, receipts_root=receipts_root, events=events)

        return await trio.to_thread.run_sync(finalize, limiter=self._limiter)

    async def append_records(self, shard: int, records: Sequence[bytes]) -> range:
        return await trio.to_thread.run_sync(
            self.store.append_records, shard, records, limiter=self._limiter
        )

    async def prune_records(self, shard: int, keep_from_sequence: int) -> None:
        await trio.to_thread.run_sync(
            self.store.prune_records, shard, keep_from_sequence, limiter=self._limiter
        )

    async def put_stable_checkpoint(
        self, shard: int, checkpoint: bytes, *, prune_records_before: int | None = None
    ) -> None:
        def put() -> None:
            self.store.put_stable_checkpoint(
                shard, checkpoint, prune_records_before=prune_records_before
            )

        await trio.to_thread.run_sync(put, limiter=self._limiter)

    async def get_block(self, shard: int, height: int) -> StoredBlock | None:
        return await trio.to_thread.run_sync(
            self.store.get_block, shard, height, limiter=self._limiter
        )
