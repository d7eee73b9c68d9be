"""Provenance: anchor a content hash (an IPFS CID, a sha256 digest...) with its issuer and
the block height and time; look it up later. Anchoring the same hash twice is rejected.

Methods:
    init(open_anchoring=False)    the deployer is the admin and an issuer; with
                                  open_anchoring anyone may anchor
    add_issuer(issuer), remove_issuer(issuer)      admin only
    anchor(content_hash, note="")  an issuer (or anyone if open); content_hash is bytes or
                                  str of 1..128 bytes/characters
    views: lookup(content_hash) -> [issuer, height, time, note], is_anchored(content_hash),
           anchored_count(), is_issuer(who)

Events: Anchored(content_hash, issuer, height, time, note), IssuerAdded(issuer),
IssuerRemoved(issuer).

Errors (REVERT): "only the admin", "only an issuer", "bad hash", "already anchored",
"not anchored", "note too long".

Invariants: an anchor is written once and never changed or deleted; its height and time
are the block's, never the caller's.
"""

HASH_LENGTH_MAX = 128
NOTE_LENGTH_MAX = 256

admin = Value()
is_open = Value()
issuers = Map()
anchors = Map()
count = Value()


@export
def init(open_anchoring: bool = False):
    admin.set(ctx.sender)
    is_open.set(open_anchoring)
    issuers[ctx.sender] = True
    emit("IssuerAdded", issuer=ctx.sender)


@export
def add_issuer(issuer: bytes):
    require(ctx.sender == admin.get(), "only the admin")
    issuers[issuer] = True
    emit("IssuerAdded", issuer=issuer)


@export
def remove_issuer(issuer: bytes):
    require(ctx.sender == admin.get(), "only the admin")
    require(issuer in issuers, "only an issuer")
    del issuers[issuer]
    emit("IssuerRemoved", issuer=issuer)


@export
def anchor(content_hash: bytes, note: str = ""):
    require(is_open.get(False) or ctx.sender in issuers, "only an issuer")
    require(len(content_hash) >= 1 and len(content_hash) <= HASH_LENGTH_MAX, "bad hash")
    require(len(note) <= NOTE_LENGTH_MAX, "note too long")
    require(content_hash not in anchors, "already anchored")
    anchors[content_hash] = [ctx.sender, ctx.height, ctx.time, note]
    count.set(count.get(0) + 1)
    emit("Anchored", content_hash=content_hash, issuer=ctx.sender, height=ctx.height,
         time=ctx.time, note=note)


@view
def lookup(content_hash: bytes) -> list:
    entry = anchors.get(content_hash)
    require(entry is not None, "not anchored")
    return entry


@view
def is_anchored(content_hash: bytes) -> bool:
    return content_hash in anchors


@view
def anchored_count() -> int:
    return count.get(0)


@view
def is_issuer(who: bytes) -> bool:
    return who in issuers
