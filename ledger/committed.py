"""Which transactions are committed: the replay rule, answered from memory or from disk.

**The rule** (a pure function of the chain, DESIGN.md "Replay protection"): a tx is
committed at height ``h`` of shard ``s`` when its hash was *admitted* (passed the
executor's precheck: right chain, right home shard, inside its validity window, not a
replay, valid signature) in a block of shard ``s``'s own chain at a height ``c`` with
``expiry_height - W <= c < h`` (W = ``tx_validity_window_blocks``). Only admitted txs are
indexed (``BlockResult.txs_to_index``): a tx that a faulty primary of another shard put in
its block gets a WRONG_SHARD receipt there and counts for nothing, so it can neither be
censored on its home shard nor make two honest nodes disagree. ``c >= expiry - W`` always
holds for an admitted tx (its precheck at ``c`` required ``expiry <= c + W``); it is
checked anyway, so both paths below apply the very same rule.

**Two paths, one answer.** Every tx is checked against the committed set three times per
node (gossip admission, mempool admission, execution), and nearly every answer is "no":
a LevelDB read each time cost about 7% of a node's CPU under load. :class:`CommittedTxIndex`
keeps, per shard, the hashes admitted in that shard's most recent blocks with their
heights, and answers from memory whenever that is exact: if it holds *every* admitted tx of
heights ``low .. last`` of the tx's home shard and ``expiry - W >= low``, any commit of the
tx would be at a height it holds. Otherwise (an old expiry, or a node restarted on an
existing chain, holding few blocks yet) it asks the store where the tx was indexed,
``(shard, height)``, and applies the same rule to that. A node that starts at genesis
holds every height from the start. Which path answers depends on when the node last
restarted; the answer does not.

Bounded: each shard keeps whole blocks, oldest dropped first, while it holds more than
``txs_max / shard_count`` hashes; ``low`` moves up as blocks go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from consensus.types import Transaction
from ledger.sharding import home_shard

# Where the store indexed a tx hash: (shard, height), or None.
StoredLocation = Callable[[bytes], "tuple[int, int] | None"]


def is_replay(tx: Transaction, shard: int, committed_at: tuple[int, int] | None,
              window_blocks: int) -> bool:
    """The replay rule for ``tx`` on ``shard`` given where (shard, height) its hash was
    admitted, if anywhere: admitted on this shard's chain inside the tx's validity window.
    The caller asks only about heights below the one being executed (finalized ones)."""
    if committed_at is None:
        return False
    committed_shard, committed_height = committed_at
    return committed_shard == shard and committed_height >= tx.expiry_height - window_blocks


class CommittedTxIndex:
    """Admitted tx hashes of each shard's latest finalized blocks (see the module doc)."""

    def __init__(self, shard_count: int, window_blocks: int, txs_max: int,
                 next_heights: Sequence[int], lookup: StoredLocation) -> None:
        """``next_heights[s]``: the first height of shard s this index will be given
        (last finalized + 1); ``lookup``: where the store indexed a tx hash."""
        self._shard_count = shard_count
        self._window = window_blocks
        self._shard_txs_max = max(0, txs_max // shard_count)
        self._lookup = lookup
        self._blocks: list[deque[tuple[int, tuple[bytes, ...]]]] = [
            deque() for _ in range(shard_count)]
        # Per shard: admitted hash -> the height it was admitted at.
        self._heights: list[dict[bytes, int]] = [{} for _ in range(shard_count)]
        # Lowest height fully held, per shard. A chain at its genesis (next height 1) has
        # committed nothing below, so the index holds every height there is.
        self._low = [height if height > 1 else -(2**63) for height in next_heights]
        self._next = list(next_heights)  # the height expected next, per shard
        self.store_lookups = 0  # answers the index could not give (for tests, metrics)

    @property
    def _hashes(self) -> list[dict[bytes, int]]:  # for tests: the hashes held per shard
        return self._heights

    def finalized(self, shard: int, height: int, tx_hashes: Sequence[bytes]) -> None:
        """Record the admitted txs of finalized block ``height`` of ``shard`` (heights in
        order; ``BlockResult.txs_to_index``)."""
        if height != self._next[shard]:  # a gap: start over from this block
            self._blocks[shard].clear()
            self._heights[shard].clear()
            self._low[shard] = height
        self._next[shard] = height + 1
        if not self._shard_txs_max:
            self._low[shard] = height + 1
            return
        blocks, heights = self._blocks[shard], self._heights[shard]
        blocks.append((height, tuple(tx_hashes)))
        for tx_hash in tx_hashes:
            heights[tx_hash] = height
        while len(heights) > self._shard_txs_max and blocks:
            old_height, dropped = blocks.popleft()
            for tx_hash in dropped:
                if heights.get(tx_hash) == old_height:
                    del heights[tx_hash]
            self._low[shard] = blocks[0][0] if blocks else height + 1

    def is_committed(self, tx: Transaction) -> bool:
        """The replay rule for ``tx`` on its home shard, as of the last finalized height."""
        shard = home_shard(tx, self._shard_count)
        tx_hash = tx.hash()
        height = self._heights[shard].get(tx_hash)
        if height is not None:
            return is_replay(tx, shard, (shard, height), self._window)
        if tx.expiry_height - self._window >= self._low[shard]:
            return False  # any commit of it would be at a height the index holds
        self.store_lookups += 1
        return is_replay(tx, shard, self._lookup(tx_hash), self._window)


__all__ = ["CommittedTxIndex", "StoredLocation", "is_replay"]
