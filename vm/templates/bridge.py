"""Bridge escrow: lock an asset here and release it on a proof from another Agora chain or
shard (lock -> mint, burn -> release), with replay protection.

Two instances make a bridge, one per chain, each naming the other as its peer:
  - mode "origin" holds the real token (vm/templates/token.py): `lock` pulls tokens into
    escrow and emits a lock message; `release` pays out on a proven burn message;
  - mode "wrapped" keeps wrapped units (balances here, `transfer`): `mint` credits units on
    a proven lock message; `burn` destroys units and emits a burn message.

A message is fixed-layout bytes, built by the contract on both sides (never parsed):
    b"AGORA-BRIDGE-1" || kind (1 byte: 1 lock, 2 burn) || len(source chain) (1 byte) ||
    source chain || len(destination chain) (1 byte) || destination chain ||
    source bridge (32) || destination bridge (32) || nonce (8) || recipient (32) ||
    amount (32, big endian)
Its leaf hash is sha256(0x00 || message), and a proof is the leaf's Merkle path to a root:
[[sibling, side], ...] (side 1: the sibling is on the left; inner node
sha256(0x01 || left || right)), the tree of consensus.types.merkle_root.

What the bridge trusts (the proof interface): a verifier contract answering
`receipts_root(chain, height) -> 32-byte root or b""`. The bridge accepts a message iff
its path leads to the root the verifier reports for (the peer's chain, height); it trusts
the verifier for that root and nothing else (not the relayer, not the client: anyone may
submit a proof). Today the verifier is vm/templates/receipt_roots.py, a committee
attestation (the VM cannot check ed25519 commit certificates yet; see its docstring). When
the cross-shard receipt proofs exist (header + 2f+1 commit certificate + receipt Merkle
path, checked by every replica), the verifier becomes the light client that checks them and
attests the receipts root; what the leaf commits to then is the receipt, whose Lock/Burn
event carries these same message bytes, so one level (the event inside the receipt) is
added to the path. That adaptation is not built: the proof format of receipts is not
fixed yet.

Replay protection: each inbound nonce is consumed once (per bridge pair: a message names
both bridges and both chains, so a proof for another pair or direction cannot pass).

Methods:
    init(mode, local_chain, remote_chain, verifier, token_address=b"")
        mode "origin" (token_address required) or "wrapped"; the deployer is the admin
    set_peer(peer)                       admin; once (the remote bridge's address)
    lock(amount, recipient) -> nonce     origin; pulls `amount` from the sender
    release(nonce, recipient, amount, height, path)   origin; a proven burn message
    mint(nonce, recipient, amount, height, path)      wrapped; a proven lock message
    burn(amount, recipient) -> nonce     wrapped; burns the sender's units
    transfer(to, amount)                 wrapped units
    views: message_of(kind, nonce, recipient, amount, outbound) -> bytes (the exact bytes),
           outbox_of(nonce) -> message hash, is_consumed(nonce), balance_of(who),
           supply_of(), locked_of(), config() -> dict

Events: Configured(mode, local_chain, remote_chain, verifier, token), PeerSet(peer),
Locked(nonce, sender, recipient, amount, message), Released(nonce, recipient, amount),
Minted(nonce, recipient, amount), Burned(nonce, sender, recipient, amount, message),
Transfer(sender, to, amount).

Errors (REVERT): "bad mode", "bad chain", "token required", "only the admin", "peer set",
"no peer", "wrong mode", "amount must be positive", "amount too large", "bad recipient", "replayed",
"unknown root", "bad proof", "proof too long", "insufficient units", "insufficient escrow".

Invariants: origin: this contract's token balance == locked_of() == locked - released;
wrapped: supply_of() == minted - burned == the sum of balances; with an honest verifier,
wrapped supply <= origin escrow (units are minted only against proven locks, released only
against proven burns, each nonce once). Counterparties on different shards: both bridge
instances run against a verifier; tested with the two instances side by side in one state
(same shard), as cross-shard transactions do not exist yet.
"""

MAGIC = b"AGORA-BRIDGE-1"
LOCK = 1
BURN = 2
PATH_DEPTH_MAX = 32
CHAIN_BYTES_MAX = 64
AMOUNT_BITS_MAX = 256  # 32 bytes in a message

settings = Value()  # {"mode", "local", "remote", "verifier", "token", "admin"}
peer = Value()
outbox = Map()  # nonce -> message hash
consumed = Map()  # inbound nonce -> True
nonce_count = Value()
balances = Map()  # wrapped units
supply = Value()  # wrapped units outstanding
locked = Value()  # origin escrow


@export
def init(mode: str, local_chain: str, remote_chain: str, verifier: bytes,
         token_address: bytes = b""):
    require(mode == "origin" or mode == "wrapped", "bad mode")
    for chain in [local_chain, remote_chain]:
        require(len(chain) > 0 and len(chain) <= CHAIN_BYTES_MAX, "bad chain")
    require(len(verifier) == 32, "bad chain")
    require(mode == "wrapped" or len(token_address) == 32, "token required")
    settings.set({"mode": mode, "local": local_chain, "remote": remote_chain,
                  "verifier": verifier, "token": token_address, "admin": ctx.sender})
    supply.set(0)
    locked.set(0)
    emit("Configured", mode=mode, local_chain=local_chain, remote_chain=remote_chain,
         verifier=verifier, token=token_address)


@export
def set_peer(peer_address: bytes):
    require(ctx.sender == settings.get()["admin"], "only the admin")
    require(peer.get() is None, "peer set")
    require(len(peer_address) == 32, "bad recipient")
    peer.set(peer_address)
    emit("PeerSet", peer=peer_address)


def chain_bytes(chain: str) -> bytes:
    raw = chain.encode()
    return len(raw).to_bytes(1, "big") + raw


def message(kind: int, nonce: int, recipient: bytes, amount: int, outbound: bool) -> bytes:
    config_entry = settings.get()
    other = peer.get()
    require(other is not None, "no peer")
    if outbound:
        route = chain_bytes(config_entry["local"]) + chain_bytes(config_entry["remote"]) + \
            ctx.address + other
    else:
        route = chain_bytes(config_entry["remote"]) + chain_bytes(config_entry["local"]) + \
            other + ctx.address
    return MAGIC + kind.to_bytes(1, "big") + route + nonce.to_bytes(8, "big") + recipient + \
        amount.to_bytes(32, "big")


def check_transfer(amount: int, recipient: bytes):
    require(amount > 0, "amount must be positive")
    require(amount.bit_length() <= AMOUNT_BITS_MAX, "amount too large")
    require(len(recipient) == 32, "bad recipient")


def only_mode(mode: str) -> dict:
    config_entry = settings.get()
    require(config_entry["mode"] == mode, "wrong mode")
    return config_entry


def send(kind: int, recipient: bytes, amount: int) -> list:
    nonce = nonce_count.get(0) + 1
    nonce_count.set(nonce)
    data = message(kind, nonce, recipient, amount, True)
    outbox[nonce] = sha256(b"\x00" + data)
    return [nonce, data]


def prove(kind: int, nonce: int, recipient: bytes, amount: int, height: int, path: list):
    """Consumes inbound `nonce` if its message is under the verifier's root, else reverts."""
    check_transfer(amount, recipient)
    require(nonce not in consumed, "replayed")
    require(len(path) <= PATH_DEPTH_MAX, "proof too long")
    config_entry = settings.get()
    node = sha256(b"\x00" + message(kind, nonce, recipient, amount, False))
    for step in path:
        require(len(step) == 2 and len(step[0]) == 32, "bad proof")
        if step[1] == 1:
            node = sha256(b"\x01" + step[0] + node)
        else:
            node = sha256(b"\x01" + node + step[0])
    root = call(config_entry["verifier"], "receipts_root", chain=config_entry["remote"],
                height=height)
    require(len(root) == 32, "unknown root")
    require(node == root, "bad proof")
    consumed[nonce] = True


@export
def lock(amount: int, recipient: bytes) -> int:
    config_entry = only_mode("origin")
    check_transfer(amount, recipient)
    sent = send(LOCK, recipient, amount)
    locked.set(locked.get() + amount)
    emit("Locked", nonce=sent[0], sender=ctx.sender, recipient=recipient, amount=amount,
         message=sent[1])
    call(config_entry["token"], "transfer_from", source=ctx.sender, to=ctx.address,
         amount=amount)
    return sent[0]


@export
def release(nonce: int, recipient: bytes, amount: int, height: int, path: list):
    config_entry = only_mode("origin")
    prove(BURN, nonce, recipient, amount, height, path)
    require(locked.get() >= amount, "insufficient escrow")
    locked.set(locked.get() - amount)
    emit("Released", nonce=nonce, recipient=recipient, amount=amount)
    call(config_entry["token"], "transfer", to=recipient, amount=amount)


@export
def mint(nonce: int, recipient: bytes, amount: int, height: int, path: list):
    only_mode("wrapped")
    prove(LOCK, nonce, recipient, amount, height, path)
    supply.set(supply.get() + amount)
    balances[recipient] = balances.get(recipient, 0) + amount
    emit("Minted", nonce=nonce, recipient=recipient, amount=amount)


@export
def burn(amount: int, recipient: bytes) -> int:
    only_mode("wrapped")
    check_transfer(amount, recipient)
    have = balances.get(ctx.sender, 0)
    require(have >= amount, "insufficient units")
    balances[ctx.sender] = have - amount
    supply.set(supply.get() - amount)
    sent = send(BURN, recipient, amount)
    emit("Burned", nonce=sent[0], sender=ctx.sender, recipient=recipient, amount=amount,
         message=sent[1])
    return sent[0]


@export
def transfer(to: bytes, amount: int):
    only_mode("wrapped")
    check_transfer(amount, to)
    have = balances.get(ctx.sender, 0)
    require(have >= amount, "insufficient units")
    balances[ctx.sender] = have - amount
    balances[to] = balances.get(to, 0) + amount
    emit("Transfer", sender=ctx.sender, to=to, amount=amount)


@view
def message_of(kind: int, nonce: int, recipient: bytes, amount: int, outbound: bool) -> bytes:
    return message(kind, nonce, recipient, amount, outbound)


@view
def outbox_of(nonce: int) -> bytes:
    return outbox.get(nonce, b"")


@view
def is_consumed(nonce: int) -> bool:
    return nonce in consumed


@view
def balance_of(who: bytes) -> int:
    return balances.get(who, 0)


@view
def supply_of() -> int:
    return supply.get()


@view
def locked_of() -> int:
    return locked.get()


@view
def config() -> dict:
    entry = settings.get()
    entry["peer"] = peer.get(b"")
    return entry
