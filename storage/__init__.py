"""Storage layer: a narrow KV interface (LevelDB, memory) and the ChainStore over it.

See ``storage/kv.py`` for the KV semantics, ``storage/chain.py`` for the key layout and
crash-safety invariants, ``storage/state_root.py`` for the state commitment.
"""
