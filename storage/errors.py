"""Errors raised by the storage layer, rooted at :class:`StorageError`.

Who is at fault decides the class (shared/STYLE.md):

* :class:`StorageCorrupt` — bytes on disk are not what this layer wrote (checksum
  mismatch, a height marker without its block, a missing meta key). The node halts with
  the message; nothing here tries to repair data it cannot trust.
* :class:`StorageIncompatible` — the store is intact but was made for another chain id or
  another schema version: an operator error (wrong data dir), never repaired silently.
* :class:`StorageClosed` — a handle was used after ``close()``: a local bug.

The project root error lives in ``consensus/errors.py``; storage must not import
``consensus/`` (it sits below it), so ``node/`` maps these onto ``AgoraError`` where it
needs one tree.
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of every error the storage layer raises on purpose."""


class StorageCorrupt(StorageError):
    """Local storage is corrupt: halt with this message, never paper over it."""


class StorageIncompatible(StorageError):
    """The store belongs to another chain id or schema version."""


class StorageClosed(StorageError):
    """The store or snapshot was used after it was closed."""
