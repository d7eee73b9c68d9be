"""Core types shared by every layer: transaction, block, certificates and PBFT messages.

Every type is a frozen, slotted dataclass whose canonical encoding is the msgpack array
of its fields (``consensus.codec``). Every signed type signs
``domain tag || canonical bytes of every field but the signature``, so the signature
covers every field, and a signature made for one message kind can never be replayed as
another kind. Every PBFT message names chain id, shard, view, height and sender.

A PRE-PREPARE carries its whole block; its ``digest`` field is the block hash (the hash of
the canonical header, which commits to the transactions through ``tx_root``), and
``check_pre_prepare_body`` pairs the two. Its signature covers every field but the block
(the digest stands for it, as in Castro & Liskov's ``<PRE-PREPARE, v, n, d>``), so the
same signature is valid on its :class:`PrePrepareHead`. Blocks keep the view and proposer
of the view they were first proposed in, so a block re-proposed in a NEW-VIEW keeps its
hash and the chain of ``prev_hash`` links stays valid.

Bounded by construction: every message but PRE-PREPARE, SYNC-RESPONSE and BLOCK-RESPONSE
(which carry blocks, bounded by the block and catch-up limits) has a size that does not
depend on block size. Prepared certificates and NEW-VIEW re-proposals carry a
PRE-PREPARE's head and the block header, never the block; a replica that lacks the body of
a re-proposed digest asks for it with BLOCK-REQUEST. ``view_change_bytes_max`` and
``new_view_bytes_max`` give the bound from n and the watermark window; the node asserts it
is below its frame limit.

Wire format of a message: ``[tag, [fields...]]``; ``decode_message`` checks the tag, the
struct shape, every field type and the total size, and raises ``DecodeError``.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NewType, TypeAlias

import msgpack
import nacl.exceptions
import nacl.signing

from consensus import codec
from consensus.errors import DecodeError

ReplicaId = NewType("ReplicaId", int)
ShardId = NewType("ShardId", int)
Height = NewType("Height", int)
View = NewType("View", int)
Digest = NewType("Digest", bytes)

digest_bytes = 32
public_key_bytes = 32
signature_bytes = 64
zero_digest = Digest(b"\x00" * digest_bytes)
chain_id_bytes_max = 64  # as the genesis allows (node.genesis.chain_id_chars_max, ASCII)


class Tag(enum.IntEnum):
    """Wire tags and signature domains. Never renumber: they are in signatures."""

    TRANSACTION = 1
    PRE_PREPARE = 2
    PREPARE = 3
    COMMIT = 4
    CHECKPOINT = 5
    VIEW_CHANGE = 6
    NEW_VIEW = 7
    SYNC_REQUEST = 8
    SYNC_RESPONSE = 9
    BLOCK_REQUEST = 10
    BLOCK_RESPONSE = 11


def _domain(tag: Tag) -> bytes:
    return b"agora/v1/" + tag.name.encode()


_tx_domain = _domain(Tag.TRANSACTION)


# -- signatures ----------------------------------------------------------------------------


class Signer:
    """An ed25519 identity (PyNaCl). Pure CPU: allowed inside the sans-IO core."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        self._key = nacl.signing.SigningKey(seed)
        self.public_key: bytes = bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid ed25519 signature of ``message``."""
    if len(public_key) != public_key_bytes or len(signature) != signature_bytes:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.TypeError):
        return False
    return True


# -- transactions and blocks ---------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    """A client transaction, signed by ``sender`` (an ed25519 public key).

    ``contract`` is a 32-byte contract address, or empty for the built-in native ledger;
    ``args`` is the canonical msgpack of the argument list. ``nonce`` only makes two
    otherwise equal transactions distinct; replay protection is by hash within the
    validity window that ends at ``expiry_height`` (a height of the tx's home shard).
    """

    # Slots by hand (not slots=True) to add two caches that are not fields: the canonical
    # bytes and the hash, computed at most once per transaction object (they are read many
    # times on the way from admission to finalization).
    __slots__ = ("chain_id", "sender", "nonce", "expiry_height", "gas_limit", "contract",
                 "method", "args", "signature", "_encoded", "_hash")

    chain_id: str
    sender: bytes
    nonce: int
    expiry_height: int
    gas_limit: int
    contract: bytes
    method: str
    args: bytes
    signature: bytes

    def signing_bytes(self) -> bytes:
        try:
            encoded = self._encoded
        except AttributeError:
            return _tx_domain + codec.encode_without_last_field(self)
        # The cached bytes are [9 fields]: a one-byte array header, then the fields, the
        # signature last (bin 8: 2 header bytes + 64); drop it and say 8 fields.
        if encoded[0] == 0x99 and len(self.signature) == signature_bytes:
            return _tx_domain + b"\x98" + encoded[1:-2 - signature_bytes]
        return _tx_domain + codec.encode_without_last_field(self)

    def encoded(self) -> bytes:
        try:
            return self._encoded  # type: ignore[no-any-return]
        except AttributeError:
            return codec.encode(self)  # and caches it in _encoded

    def hash(self) -> Digest:
        try:
            return self._hash  # type: ignore[no-any-return]
        except AttributeError:
            value = Digest(codec.digest(self.encoded()))
            object.__setattr__(self, "_hash", value)
            return value

    def has_valid_signature(self) -> bool:
        return verify_signature(self.sender, self.signing_bytes(), self.signature)


@dataclass(frozen=True)
class BlockHeader:
    """A block header; its hash is the block hash.

    ``app_height`` is the last height whose execution results (``state_root``,
    ``receipts_root``) this header carries: ``max(0, height - state_root_lag_blocks)``.
    With a lag of 1 this is CometBFT's "app hash of the previous height"; a larger lag
    lets several heights be in flight at once (execution follows ordering).
    """

    # Slots by hand to cache the hash (a header is hashed at every step that checks it).
    __slots__ = ("chain_id", "shard", "height", "prev_hash", "view", "proposer",
                 "timestamp_ms", "tx_root", "app_height", "state_root", "receipts_root",
                 "_hash")

    chain_id: str
    shard: int
    height: int
    prev_hash: bytes
    view: int
    proposer: int
    timestamp_ms: int
    tx_root: bytes
    app_height: int
    state_root: bytes
    receipts_root: bytes

    def hash(self) -> Digest:
        try:
            return self._hash  # type: ignore[no-any-return]
        except AttributeError:
            value = Digest(codec.digest(codec.encode(self)))
            object.__setattr__(self, "_hash", value)
            return value


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Transaction, ...]

    def hash(self) -> Digest:
        return self.header.hash()


def merkle_root(leaves: list[bytes]) -> bytes:
    """Binary SHA-256 Merkle root (RFC 6962 style: 0x00 leaf, 0x01 node prefixes)."""
    if not leaves:
        return codec.digest(b"")
    level = [codec.digest(b"\x00" + leaf) for leaf in leaves]
    while len(level) > 1:
        paired = []
        for index in range(0, len(level) - 1, 2):
            paired.append(codec.digest(b"\x01" + level[index] + level[index + 1]))
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def tx_root(txs: tuple[Transaction, ...]) -> bytes:
    return merkle_root([tx.hash() for tx in txs])


@dataclass(frozen=True, slots=True)
class CommitSignature:
    replica: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Quorum of signed COMMITs for (view, height, digest): proves a block committed.

    Each signature is over the signing bytes of the COMMIT message the replica sent, so
    any node can rebuild and check them without the original messages.
    """

    chain_id: str
    shard: int
    view: int
    height: int
    digest: bytes
    signatures: tuple[CommitSignature, ...]

    def verify(self, validators: tuple[bytes, ...], quorum: int) -> str | None:
        """None if valid, else the reason it is not."""
        seen: set[int] = set()
        for item in self.signatures:
            if not 0 <= item.replica < len(validators):
                return "unknown signer"
            if item.replica in seen:
                return "duplicate signer"
            seen.add(item.replica)
            commit = Commit(self.chain_id, self.shard, self.view, self.height, item.replica,
                            self.digest, item.signature)
            if not commit.has_valid_signature(validators):
                return "bad signature"
        if len(seen) < quorum:
            return "too few signatures"
        return None


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    block: Block
    certificate: CommitCertificate


# -- PBFT messages -------------------------------------------------------------------------


class _Signed:
    """Mixin for messages: signature over the domain tag and every other field."""

    __slots__ = ()
    tag: Tag

    def signing_bytes(self) -> bytes:
        return _domain(self.tag) + codec.encode_without_last_field(self)

    def has_valid_signature(self, validators: tuple[bytes, ...]) -> bool:
        sender: int = self.sender  # type: ignore[attr-defined]
        if not 0 <= sender < len(validators):
            return False
        return verify_signature(validators[sender], self.signing_bytes(),
                                self.signature)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PrePrepare(_Signed):
    """A proposal with its block. The signature covers the head (every field but the
    block); ``check_pre_prepare_body`` ties the block to ``digest``."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    digest: bytes
    block: Block
    signature: bytes
    tag = Tag.PRE_PREPARE

    def head(self) -> PrePrepareHead:
        return PrePrepareHead(self.chain_id, self.shard, self.view, self.height, self.sender,
                              self.digest, self.signature)

    def signing_bytes(self) -> bytes:
        return self.head().signing_bytes()


@dataclass(frozen=True, slots=True)
class PrePrepareHead(_Signed):
    """A PRE-PREPARE without its block: what its signature covers, so the same signature
    is valid on both. Never sent alone; carried in prepared certificates and NEW-VIEWs."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    digest: bytes
    signature: bytes
    tag = Tag.PRE_PREPARE

    def with_block(self, block: Block) -> PrePrepare:
        """The full PRE-PREPARE; the caller checks ``block.hash() == digest``."""
        return PrePrepare(self.chain_id, self.shard, self.view, self.height, self.sender,
                          self.digest, block, self.signature)


@dataclass(frozen=True, slots=True)
class Prepare(_Signed):
    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    digest: bytes
    signature: bytes
    tag = Tag.PREPARE


@dataclass(frozen=True, slots=True)
class Commit(_Signed):
    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    digest: bytes
    signature: bytes
    tag = Tag.COMMIT


@dataclass(frozen=True, slots=True)
class Checkpoint(_Signed):
    """After executing ``height``: the block hash there and the state root after it."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    block_hash: bytes
    state_root: bytes
    signature: bytes
    tag = Tag.CHECKPOINT


@dataclass(frozen=True, slots=True)
class PreparedCertificate:
    """A PRE-PREPARE's head, the header of its block (``header.hash() == digest``: the
    NEW-VIEW choice follows ``prev_hash`` links) and a quorum-minus-one of matching
    PREPAREs from other replicas. Its size does not depend on the block's."""

    pre_prepare: PrePrepareHead
    header: BlockHeader
    prepares: tuple[Prepare, ...]


@dataclass(frozen=True, slots=True)
class ViewChange(_Signed):
    """VIEW-CHANGE to ``view``; ``height`` is the sender's stable checkpoint height.

    ``checkpoint_proof`` holds a quorum of matching CHECKPOINTs for that height (empty at
    height 0, the genesis); ``prepared`` the sender's highest-view prepared certificate for
    every height above it (Castro & Liskov 2002, §4.4).
    """

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    checkpoint_proof: tuple[Checkpoint, ...]
    prepared: tuple[PreparedCertificate, ...]
    signature: bytes
    tag = Tag.VIEW_CHANGE


@dataclass(frozen=True, slots=True)
class NewView(_Signed):
    """NEW-VIEW for ``view``: the quorum of VIEW-CHANGEs and the re-proposals computed from
    them, by digest (a replica without a re-proposed body fetches it with BLOCK-REQUEST);
    ``height`` is the stable checkpoint height the new view starts from."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[PrePrepareHead, ...]
    signature: bytes
    tag = Tag.NEW_VIEW


@dataclass(frozen=True, slots=True)
class SyncRequest(_Signed):
    """Ask a peer for committed blocks ``height .. height + count - 1`` with certificates."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    count: int
    signature: bytes
    tag = Tag.SYNC_REQUEST


@dataclass(frozen=True, slots=True)
class SyncResponse(_Signed):
    """Committed blocks from ``height`` on, consecutive, each with its certificate, and the
    responder's latest stable checkpoint proof (empty if none), so a replica that fell
    behind can move its low watermark up to where the others are."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    blocks: tuple[CommittedBlock, ...]
    checkpoint_proof: tuple[Checkpoint, ...]
    signature: bytes
    tag = Tag.SYNC_RESPONSE


@dataclass(frozen=True, slots=True)
class BlockRequest(_Signed):
    """Ask a peer for the body of the block ``digest`` at ``height`` (a NEW-VIEW
    re-proposed it and this replica does not hold it)."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    digest: bytes
    signature: bytes
    tag = Tag.BLOCK_REQUEST


@dataclass(frozen=True, slots=True)
class BlockResponse(_Signed):
    """The body asked for by a BLOCK-REQUEST; it proves itself by its hash."""

    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    block: Block
    signature: bytes
    tag = Tag.BLOCK_RESPONSE


Message: TypeAlias = (
    PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | SyncRequest
    | SyncResponse | BlockRequest | BlockResponse
)

message_types: dict[Tag, type] = {
    Tag.PRE_PREPARE: PrePrepare,
    Tag.PREPARE: Prepare,
    Tag.COMMIT: Commit,
    Tag.CHECKPOINT: Checkpoint,
    Tag.VIEW_CHANGE: ViewChange,
    Tag.NEW_VIEW: NewView,
    Tag.SYNC_REQUEST: SyncRequest,
    Tag.SYNC_RESPONSE: SyncResponse,
    Tag.BLOCK_REQUEST: BlockRequest,
    Tag.BLOCK_RESPONSE: BlockResponse,
}


def sign_message(message: Message, signer: Signer) -> Message:
    """Return ``message`` with its signature field set by ``signer``."""
    return replace(message, signature=signer.sign(message.signing_bytes()))


def encode_message(message: Message) -> bytes:
    return b"\x92" + codec.encode(int(message.tag)) + codec.encode(message)


KnownTxs = Callable[[bytes], "Transaction | None"]


def decode_message(data: bytes, max_bytes: int = codec.message_bytes_max_default,
                   known_txs: KnownTxs | None = None) -> Message:
    """Decode one wire message; DecodeError for anything malformed.

    ``known_txs(hash)``: transactions this node holds already (its mempool). A
    PRE-PREPARE's transactions found there are taken as they are instead of decoded again
    (the same hash means the same canonical bytes); the result and the checks are the
    same as without it."""
    if known_txs is not None and data[:2] == _pre_prepare_prefix:
        return _decode_pre_prepare(data, max_bytes, known_txs)
    value = codec.unpack(data, max_bytes, typed=True)
    if type(value) is not tuple or len(value) != 2:
        raise DecodeError("a message is [tag, fields]")
    raw_tag, fields = value
    if type(raw_tag) is not int:
        raise DecodeError("message tag is not an int")
    try:
        tag = Tag(raw_tag)
    except ValueError as error:
        raise DecodeError(f"unknown message tag {raw_tag}") from error
    cls = message_types.get(tag)
    if cls is None:
        raise DecodeError(f"tag {tag.name} is not a message")
    message = codec.from_plain(cls, fields)
    check_shape(message)
    return message  # type: ignore[no-any-return]


_pre_prepare_prefix = bytes((0x92, Tag.PRE_PREPARE))  # [tag, fields] with tag 2
_pre_prepare_head_fields = 6  # chain_id, shard, view, height, sender, digest


def _decode_pre_prepare(data: bytes, max_bytes: int, known_txs: KnownTxs) -> PrePrepare:
    """decode_message for a PRE-PREPARE, walking the bytes so each transaction's encoding
    is cut out as it is: a known one is reused, an unknown one decoded alone. Everything
    else is decoded and checked as decode_message does, and the message must re-encode to
    exactly ``data`` (canonical)."""
    if len(data) > max_bytes:
        raise DecodeError(f"input of {len(data)} bytes exceeds the limit of {max_bytes}")
    unpacker = msgpack.Unpacker(raw=False, use_list=False, strict_map_key=True,
                                max_buffer_size=max(1, len(data)),
                                max_array_len=codec.sequence_items_max, max_map_len=0,
                                max_ext_len=0)
    unpacker.feed(data)
    txs = []
    try:
        if unpacker.read_array_header() != 2 or unpacker.unpack() != Tag.PRE_PREPARE:
            raise DecodeError("a message is [tag, fields]")
        if unpacker.read_array_header() != 8:
            raise DecodeError("PrePrepare: expected 8 fields")
        head = [unpacker.unpack() for _ in range(_pre_prepare_head_fields)]
        if unpacker.read_array_header() != 2:
            raise DecodeError("PrePrepare.block: expected 2 fields")
        header = unpacker.unpack()
        for _ in range(unpacker.read_array_header()):
            start = unpacker.tell()
            unpacker.skip()
            raw = data[start:unpacker.tell()]
            tx_hash = codec.digest(raw)
            tx = known_txs(tx_hash)
            if tx is None:
                tx = decode_transaction(raw, max_bytes)
                object.__setattr__(tx, "_hash", tx_hash)
            txs.append(tx)
        signature = unpacker.unpack()
        if unpacker.tell() != len(data):
            raise DecodeError("trailing bytes after the value")
    except msgpack.OutOfData as error:
        raise DecodeError("truncated message") from error
    except (ValueError, TypeError, msgpack.UnpackException, UnicodeDecodeError) as error:
        raise DecodeError(f"malformed msgpack: {error}") from error
    empty = codec.from_plain(PrePrepare, (*head, (header, ()), signature))
    message = replace(empty, block=Block(empty.block.header, tuple(txs)))
    check_shape(message)
    if encode_message(message) != data:
        raise DecodeError("non-canonical encoding")
    return message


def decode_transaction(data: bytes, max_bytes: int = 1024 * 1024) -> Transaction:
    tx = codec.decode_struct(Transaction, data, max_bytes)
    check_transaction_shape(tx)
    object.__setattr__(tx, "_encoded", bytes(data))  # canonical: unpack checked it
    return tx


# -- shape checks (field sizes and ranges, no signatures) ----------------------------------


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise DecodeError(what)


def check_transaction_shape(tx: Transaction) -> None:
    _require(len(tx.sender) == public_key_bytes, "tx.sender must be a 32-byte public key")
    _require(len(tx.signature) == signature_bytes, "tx.signature must be 64 bytes")
    _require(len(tx.contract) in (0, digest_bytes), "tx.contract must be empty or 32 bytes")
    _require(0 <= tx.nonce < 2**64, "tx.nonce out of range")
    _require(0 <= tx.expiry_height < 2**63, "tx.expiry_height out of range")
    _require(0 <= tx.gas_limit < 2**63, "tx.gas_limit out of range")
    _require(0 < len(tx.method) <= 64, "tx.method must be 1..64 characters")


def _check_header_shape(header: BlockHeader) -> None:
    _require(len(header.chain_id.encode()) <= chain_id_bytes_max, "header.chain_id too long")
    _require(len(header.prev_hash) == digest_bytes, "header.prev_hash must be 32 bytes")
    _require(len(header.tx_root) == digest_bytes, "header.tx_root must be 32 bytes")
    _require(len(header.state_root) == digest_bytes, "header.state_root must be 32 bytes")
    _require(len(header.receipts_root) == digest_bytes, "header.receipts_root must be 32 bytes")
    for name in ("shard", "height", "view", "proposer", "timestamp_ms", "app_height"):
        _require(0 <= getattr(header, name) < 2**63, f"header.{name} out of range")


def _check_common(message: Message | PrePrepareHead) -> None:
    _require(len(message.chain_id.encode()) <= chain_id_bytes_max, "chain_id too long")
    for name in ("shard", "view", "height", "sender"):
        _require(0 <= getattr(message, name) < 2**63, f"{type(message).__name__}.{name} "
                 "out of range")
    _require(len(message.signature) == signature_bytes, "signature must be 64 bytes")


def check_shape(message: Message) -> None:
    """Field-level sanity of a decoded message (recursively). Signatures are not checked."""
    _check_common(message)
    match message:
        case PrePrepare():
            _require(len(message.digest) == digest_bytes, "digest must be 32 bytes")
            _check_header_shape(message.block.header)
            for tx in message.block.txs:
                check_transaction_shape(tx)
        case Prepare() | Commit():
            _require(len(message.digest) == digest_bytes, "digest must be 32 bytes")
        case Checkpoint():
            _require(len(message.block_hash) == digest_bytes, "block_hash must be 32 bytes")
            _require(len(message.state_root) == digest_bytes, "state_root must be 32 bytes")
        case ViewChange():
            for checkpoint in message.checkpoint_proof:
                check_shape(checkpoint)
            for certificate in message.prepared:
                check_certificate_shape(certificate)
        case NewView():
            for view_change in message.view_changes:
                check_shape(view_change)
            for head in message.pre_prepares:
                check_head_shape(head)
        case BlockRequest():
            _require(len(message.digest) == digest_bytes, "digest must be 32 bytes")
        case BlockResponse():
            _check_header_shape(message.block.header)
            for tx in message.block.txs:
                check_transaction_shape(tx)
        case SyncRequest():
            _require(0 < message.count <= 1024, "SyncRequest.count must be 1..1024")
        case SyncResponse():
            for item in message.blocks:
                _check_header_shape(item.block.header)
                for tx in item.block.txs:
                    check_transaction_shape(tx)
                _require(len(item.certificate.digest) == digest_bytes, "cert digest size")
                for signature in item.certificate.signatures:
                    _require(len(signature.signature) == signature_bytes, "cert signature size")
            for checkpoint in message.checkpoint_proof:
                check_shape(checkpoint)


def check_head_shape(head: PrePrepareHead) -> None:
    _check_common(head)
    _require(len(head.digest) == digest_bytes, "digest must be 32 bytes")


def check_certificate_shape(certificate: PreparedCertificate) -> None:
    check_head_shape(certificate.pre_prepare)
    _check_header_shape(certificate.header)
    for prepare in certificate.prepares:
        check_shape(prepare)


# -- size bounds of the view-change messages -----------------------------------------------

_int_max_field = 2**63 - 1  # every int field is checked to be below 2**63


def _largest_checkpoint(sender: int) -> Checkpoint:
    return Checkpoint("x" * chain_id_bytes_max, _int_max_field, _int_max_field,
                      _int_max_field, sender, b"\xff" * digest_bytes, b"\xff" * digest_bytes,
                      b"\xff" * signature_bytes)


def _largest_certificate(n: int) -> PreparedCertificate:
    chain, big, digest = "x" * chain_id_bytes_max, _int_max_field, b"\xff" * digest_bytes
    head = PrePrepareHead(chain, big, big, big, big, digest, b"\xff" * signature_bytes)
    header = BlockHeader(chain, big, big, digest, big, big, big, digest, big, digest, digest)
    prepares = tuple(Prepare(chain, big, big, big, big, digest, b"\xff" * signature_bytes)
                     for _ in range(max(0, n - 1)))
    return PreparedCertificate(head, header, prepares)


@functools.lru_cache(maxsize=64)
def view_change_bytes_max(n: int, window_blocks: int) -> int:
    """An upper bound on the wire size of any VIEW-CHANGE a replica accepts: a valid one
    has at most ``n`` checkpoints (distinct senders), at most ``window_blocks``
    certificates (increasing heights inside the window), each with at most ``n - 1``
    prepares (distinct backups), every field at its largest encoding."""
    certificate = _largest_certificate(n)
    message = ViewChange("x" * chain_id_bytes_max, _int_max_field, _int_max_field,
                         _int_max_field, _int_max_field,
                         tuple(_largest_checkpoint(_int_max_field) for _ in range(n)),
                         tuple(certificate for _ in range(window_blocks)),
                         b"\xff" * signature_bytes)
    return len(encode_message(message))


@functools.lru_cache(maxsize=64)
def new_view_bytes_max(n: int, window_blocks: int) -> int:
    """An upper bound on the wire size of any NEW-VIEW a replica accepts or sends: at most
    ``n`` VIEW-CHANGEs (distinct senders) and ``window_blocks`` re-proposal heads."""
    chain, big = "x" * chain_id_bytes_max, _int_max_field
    head = PrePrepareHead(chain, big, big, big, big, b"\xff" * digest_bytes,
                          b"\xff" * signature_bytes)
    skeleton = NewView(chain, big, big, big, big, (),
                       tuple(head for _ in range(window_blocks)), b"\xff" * signature_bytes)
    # The view changes' array header: at most 5 bytes (msgpack array32).
    return len(encode_message(skeleton)) + 5 + n * view_change_bytes_max(n, window_blocks)


def check_pre_prepare_body(message: PrePrepare) -> str | None:
    """Pair the PRE-PREPARE's fields with its block; None if they agree, else why not."""
    header = message.block.header
    if message.block.hash() != message.digest:
        return "digest is not the block hash"
    if header.chain_id != message.chain_id or header.shard != message.shard:
        return "block for another chain or shard"
    if header.height != message.height:
        return "block height differs from message height"
    if tx_root(message.block.txs) != header.tx_root:
        return "tx root does not match the transactions"
    return None
