"""Which transactions are committed: the replay check, mostly without a LevelDB read.

Every tx is checked against the committed set three times per node (gossip admission,
mempool admission, execution), and nearly every answer is "no": a LevelDB read each time
cost about 7% of a node's CPU under load. :class:`CommittedTxIndex` keeps the hashes of
the txs finalized in each shard's most recent blocks, and answers from memory whenever
that answer is exact:

A tx with ``expiry_height`` e can only have been committed at a height h with
``e - W <= h <= e`` (W = ``tx_validity_window_blocks``: the executor refuses a tx whose
expiry is below the height or more than W above it). So if the index holds *every*
tx finalized at heights ``low .. last`` of the tx's home shard and ``e - W >= low``, the
tx is committed exactly when its hash is in the index. Otherwise (an old expiry, or a
node restarted on an existing chain, holding few blocks yet) the store is asked. A node
that starts at genesis holds every height from the start.

Bounded: each shard keeps whole blocks, oldest dropped first, while it holds more than
``txs_max / shard_count`` hashes; ``low`` moves up as blocks go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from consensus.types import Transaction
from ledger.sharding import home_shard


class CommittedTxIndex:
    """Committed tx hashes of each shard's latest finalized blocks (see the module doc)."""

    def __init__(self, shard_count: int, window_blocks: int, txs_max: int,
                 next_heights: Sequence[int], lookup: Callable[[bytes], bool]) -> None:
        """``next_heights[s]``: the first height of shard s this index will be given
        (last finalized + 1); ``lookup``: the store's answer for a tx hash."""
        self._shard_count = shard_count
        self._window = window_blocks
        self._shard_txs_max = max(0, txs_max // shard_count)
        self._lookup = lookup
        self._blocks: list[deque[tuple[int, tuple[bytes, ...]]]] = [
            deque() for _ in range(shard_count)]
        self._hashes: list[set[bytes]] = [set() for _ in range(shard_count)]
        # Lowest height fully held, per shard. A chain at its genesis (next height 1) has
        # committed nothing below, so the index holds every height there is.
        self._low = [height if height > 1 else -(2**63) for height in next_heights]
        self._next = list(next_heights)  # the height expected next, per shard
        self.store_lookups = 0  # answers the index could not give (for tests, metrics)

    def finalized(self, shard: int, height: int, tx_hashes: Sequence[bytes]) -> None:
        """Record the txs of finalized block ``height`` of ``shard`` (heights in order)."""
        if height != self._next[shard]:  # a gap: start over from this block
            self._blocks[shard].clear()
            self._hashes[shard].clear()
            self._low[shard] = height
        self._next[shard] = height + 1
        if not self._shard_txs_max:
            self._low[shard] = height + 1
            return
        blocks, hashes = self._blocks[shard], self._hashes[shard]
        blocks.append((height, tuple(tx_hashes)))
        hashes.update(tx_hashes)
        while len(hashes) > self._shard_txs_max and blocks:
            _, dropped = blocks.popleft()
            hashes.difference_update(dropped)
            self._low[shard] = blocks[0][0] if blocks else height + 1

    def is_committed(self, tx: Transaction) -> bool:
        shard = home_shard(tx, self._shard_count)
        tx_hash = tx.hash()
        if tx_hash in self._hashes[shard]:
            return True
        if tx.expiry_height - self._window >= self._low[shard]:
            return False  # any commit of it would be at a height the index holds
        self.store_lookups += 1
        return self._lookup(tx_hash)


__all__ = ["CommittedTxIndex"]
