"""Allow-list drop: a collectible mint restricted to an allow-list committed as a Merkle
root (proofs verified here), per-address caps, phases (allow-list, then public).

This contract must be the collectible's minter (vm/templates/nft.py: `set_minter(drop)`).
Buyers pay `price` per item in the platform token (vm/templates/token.py) to the treasury;
they approve this contract first. Items get consecutive ids from `first_item`, each minted
with the drop's royalty to the treasury.

Phases by block time: before allowlist_start nothing; [allowlist_start, public_start) only
allow-listed accounts, each up to the allowance in its leaf; [public_start, end_time)
anyone, up to public_cap per address in the public phase; from end_time on nothing.

The allow-list Merkle tree (vm/templates/__init__.py builds it: `allowlist_root`,
`allowlist_proof`): leaf = sha256(0x00 || account (32 bytes) || allowance (8 bytes, big
endian)); inner node = sha256(0x01 || min(a, b) || max(a, b)) (sorted pairs, so a proof is
just the list of sibling hashes; the 0x00/0x01 prefixes keep a leaf from posing as a
node). A proof has at most PROOF_DEPTH_MAX hashes.

Methods:
    init(token_address, collection, treasury, price, supply_max, allowlist_root,
         allowlist_start, public_start, end_time, public_cap, royalty_bp=0, first_item=1)
        the deployer is the admin
    mint(quantity, proof=[], allowance=0) -> first item id   1..MINT_BATCH_MAX at a time
    set_root(allowlist_root)             admin; before the allow-list phase starts
    views: phase_of() -> "pending" | "allowlist" | "public" | "ended", minted_of(who) ->
           [allow-list minted, public minted], verify(who, allowance, proof) -> bool,
           config() -> dict, minted_total()

Events: Configured(...the init arguments), RootSet(root), Minted(buyer, first_item,
quantity, phase, paid).

Errors (REVERT): "bad phases", "bad supply", "bad price", "bad royalty", "bad quantity",
"not started", "drop ended", "not on the allow-list", "allowance exceeded",
"public cap exceeded", "sold out", "only the admin", "drop started", "proof too long".

Invariants: minted_total() <= supply_max; in the allow-list phase an account mints at
most the allowance its leaf commits to, and only with a proof against the root; in the
public phase at most public_cap; the treasury receives exactly price * items minted.
Same-shard tested only: cross-shard txs do not exist yet.
"""

MINT_BATCH_MAX = 10
PROOF_DEPTH_MAX = 32
ALLOWANCE_MAX = 18_446_744_073_709_551_615  # 2**64 - 1: 8 bytes in a leaf
BASIS_POINTS = 10000

settings = Value()  # dict of the init arguments
root = Value()
minted_total_store = Value()
minted = Map()  # who -> [allow-list minted, public minted]
admin = Value()


@export
def init(token_address: bytes, collection: bytes, treasury: bytes, price: int,
         supply_max: int, allowlist_root: bytes, allowlist_start: int, public_start: int,
         end_time: int, public_cap: int, royalty_bp: int = 0, first_item: int = 1):
    require(allowlist_start <= public_start and public_start < end_time, "bad phases")
    require(supply_max > 0 and public_cap >= 0, "bad supply")
    require(price >= 0, "bad price")
    require(royalty_bp >= 0 and royalty_bp <= BASIS_POINTS, "bad royalty")
    config_entry = {"token": token_address, "collection": collection, "treasury": treasury,
                    "price": price, "supply_max": supply_max,
                    "allowlist_start": allowlist_start, "public_start": public_start,
                    "end_time": end_time, "public_cap": public_cap, "royalty_bp": royalty_bp,
                    "first_item": first_item}
    settings.set(config_entry)
    root.set(allowlist_root)
    admin.set(ctx.sender)
    minted_total_store.set(0)
    emit("Configured", config=config_entry, root=allowlist_root)


def phase(config_entry: dict) -> str:
    if ctx.time < config_entry["allowlist_start"]:
        return "pending"
    if ctx.time < config_entry["public_start"]:
        return "allowlist"
    if ctx.time < config_entry["end_time"]:
        return "public"
    return "ended"


def check_proof(who: bytes, allowance: int, proof: list) -> bool:
    require(len(proof) <= PROOF_DEPTH_MAX, "proof too long")
    node = sha256(b"\x00" + who + allowance.to_bytes(8, "big"))
    for sibling in proof:
        if node < sibling:
            node = sha256(b"\x01" + node + sibling)
        else:
            node = sha256(b"\x01" + sibling + node)
    return node == root.get()


@export
def mint(quantity: int, proof: list = (), allowance: int = 0) -> int:
    config_entry = settings.get()
    current = phase(config_entry)
    require(current != "pending", "not started")
    require(current != "ended", "drop ended")
    require(quantity > 0 and quantity <= MINT_BATCH_MAX, "bad quantity")
    total = minted_total_store.get()
    require(total + quantity <= config_entry["supply_max"], "sold out")
    counts = minted.get(ctx.sender, [0, 0])
    if current == "allowlist":
        require(allowance >= 0 and allowance <= ALLOWANCE_MAX, "not on the allow-list")
        require(check_proof(ctx.sender, allowance, list(proof)), "not on the allow-list")
        require(counts[0] + quantity <= allowance, "allowance exceeded")
        counts[0] = counts[0] + quantity
    else:
        require(counts[1] + quantity <= config_entry["public_cap"], "public cap exceeded")
        counts[1] = counts[1] + quantity
    minted[ctx.sender] = counts
    minted_total_store.set(total + quantity)
    first = config_entry["first_item"] + total
    paid = config_entry["price"] * quantity
    emit("Minted", buyer=ctx.sender, first_item=first, quantity=quantity, phase=current,
         paid=paid)
    if paid > 0:
        call(config_entry["token"], "transfer_from", source=ctx.sender,
             to=config_entry["treasury"], amount=paid)
    for offset in range(quantity):
        call(config_entry["collection"], "mint", to=ctx.sender, token=first + offset,
             royalty_bp=config_entry["royalty_bp"], royalty_receiver=config_entry["treasury"])
    return first


@export
def set_root(allowlist_root: bytes):
    require(ctx.sender == admin.get(), "only the admin")
    require(phase(settings.get()) == "pending", "drop started")
    root.set(allowlist_root)
    emit("RootSet", root=allowlist_root)


@view
def phase_of() -> str:
    return phase(settings.get())


@view
def minted_of(who: bytes) -> list:
    return minted.get(who, [0, 0])


@view
def verify(who: bytes, allowance: int, proof: list) -> bool:
    return check_proof(who, allowance, proof)


@view
def config() -> dict:
    return settings.get()


@view
def minted_total() -> int:
    return minted_total_store.get()
