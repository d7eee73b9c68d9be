"""The project's error tree, split by who is at fault (see shared/STYLE.md).

Every Agora error derives from :class:`AgoraError`; this module sits in ``consensus/``
because that is the lowest layer every other package may import.
"""

from __future__ import annotations


class AgoraError(Exception):
    """Root of every error Agora raises on purpose."""


class PeerError(AgoraError):
    """A peer sent something invalid: drop it, count it, never crash."""


class DecodeError(PeerError):
    """Bytes that are not a canonical encoding of the expected type."""


class InvalidSignature(PeerError):
    """A signature that does not verify under the claimed signer's key."""


class ClientError(AgoraError):
    """A client request is invalid: answer with a clear RPC error, change nothing."""


class StorageCorruption(AgoraError):
    """Local storage is corrupt: halt with a clear message."""


class ConfigError(AgoraError):
    """A configuration is invalid; the message lists every bad field at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  " + "\n  ".join(self.problems))


class DeterminismError(AgoraError):
    """A locally computed state root differs from the one a quorum signed."""
