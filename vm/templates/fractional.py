"""Fractional ownership: lock a collectible in a vault, mint fractions, a buyout at the
reserve price pays fraction holders pro rata, or one holder of every fraction redeems the
item.

The curator locks an item of a collectible (vm/templates/nft.py; the curator makes this
contract an operator or approves it for the item first) and receives all `fractions`
fractions, which move between accounts like a per-vault token. Anyone may buy the item out
at the fixed `reserve_price`, paid in the platform token (vm/templates/token.py) into this
contract; the item goes to the buyer and every fraction becomes a claim on the price.

Payout rule (integer arithmetic, no dust): claims are paid in cumulative floor steps, a
holder claiming `f` fractions when `c` fractions were claimed before receives
floor(price * (c + f) / total) - floor(price * c / total). Each claim is within one unit
of the exact pro-rata share, and when every fraction has been claimed the payouts sum to
the price exactly.

The vault checks, after pulling the item, that the collection reports this contract as
its owner; the collection itself is chosen by the curator, so buyers trust it as they
would on any market.

Methods:
    init(token_address)
    lock(collection, item, fractions, reserve_price) -> vault id    curator = sender
    transfer_fractions(vault, to, amount)
    buyout(vault)                        anyone; pays the reserve price; item to the buyer
    claim(vault) -> amount               after a buyout; burns the sender's fractions
    redeem(vault)                        holder of every fraction; takes the item; burns them
    views: vault_of(vault) -> dict, fractions_of(vault, who), claimable_of(vault, who)

Events: Configured(token), Locked(vault, curator, collection, item, fractions,
reserve_price), FractionsTransferred(vault, sender, to, amount), BoughtOut(vault, buyer,
price), Claimed(vault, holder, fractions, amount), Redeemed(vault, holder).

Errors (REVERT): "bad fractions", "price must be positive", "item not received",
"no such vault", "amount must be positive", "insufficient fractions", "vault closed",
"not bought out", "nothing to claim", "needs every fraction".

Vault status: 1 LOCKED, 2 BOUGHT_OUT, 3 REDEEMED.

Invariants: per vault, the fractions held sum to total - claimed; the item is held by this
contract while LOCKED, and leaves once (to a buyer or a redeemer); after a buyout, the
payouts plus the unclaimed part of the price equal the price, and this contract's token
balance equals the unclaimed parts of all bought-out vaults. Same-shard tested only:
cross-shard txs do not exist yet.
"""

FRACTIONS_MAX = 1_000_000_000_000_000_000
LOCKED = 1
BOUGHT_OUT = 2
REDEEMED = 3

token = Value()
vaults = Map()  # id -> {"curator", "collection", "item", "total", "price", "status",
#                        "claimed", "paid", "buyer"}
holdings = Map()  # (vault, who) -> fractions
vault_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


@export
def lock(collection: bytes, item: int, fractions: int, reserve_price: int) -> int:
    require(fractions > 0 and fractions <= FRACTIONS_MAX, "bad fractions")
    require(reserve_price > 0, "price must be positive")
    number = vault_count.get(0) + 1
    vault_count.set(number)
    vaults[number] = {"curator": ctx.sender, "collection": collection, "item": item,
                      "total": fractions, "price": reserve_price, "status": LOCKED,
                      "claimed": 0, "paid": 0, "buyer": b""}
    holdings[(number, ctx.sender)] = fractions
    emit("Locked", vault=number, curator=ctx.sender, collection=collection, item=item,
         fractions=fractions, reserve_price=reserve_price)
    call(collection, "transfer_from", source=ctx.sender, to=ctx.address, token=item)
    require(call(collection, "owner_of", token=item) == ctx.address, "item not received")
    return number


def load(vault: int) -> dict:
    entry = vaults.get(vault)
    require(entry is not None, "no such vault")
    return entry


def held(vault: int, who: bytes) -> int:
    return holdings.get((vault, who), 0)


def set_held(vault: int, who: bytes, amount: int):
    if amount == 0:
        if (vault, who) in holdings:
            del holdings[(vault, who)]
    else:
        holdings[(vault, who)] = amount


@export
def transfer_fractions(vault: int, to: bytes, amount: int):
    load(vault)
    require(amount > 0, "amount must be positive")
    have = held(vault, ctx.sender)
    require(have >= amount, "insufficient fractions")
    set_held(vault, ctx.sender, have - amount)
    set_held(vault, to, held(vault, to) + amount)
    emit("FractionsTransferred", vault=vault, sender=ctx.sender, to=to, amount=amount)


@export
def buyout(vault: int):
    entry = load(vault)
    require(entry["status"] == LOCKED, "vault closed")
    entry["status"] = BOUGHT_OUT
    entry["buyer"] = ctx.sender
    vaults[vault] = entry
    emit("BoughtOut", vault=vault, buyer=ctx.sender, price=entry["price"])
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address,
         amount=entry["price"])
    call(entry["collection"], "transfer", to=ctx.sender, token=entry["item"])


def payout(entry: dict, fractions: int) -> int:
    price = entry["price"]
    total = entry["total"]
    before = entry["claimed"]
    return price * (before + fractions) // total - price * before // total


@export
def claim(vault: int) -> int:
    entry = load(vault)
    require(entry["status"] == BOUGHT_OUT, "not bought out")
    fractions = held(vault, ctx.sender)
    require(fractions > 0, "nothing to claim")
    amount = payout(entry, fractions)
    entry["claimed"] = entry["claimed"] + fractions
    entry["paid"] = entry["paid"] + amount
    vaults[vault] = entry
    set_held(vault, ctx.sender, 0)
    emit("Claimed", vault=vault, holder=ctx.sender, fractions=fractions, amount=amount)
    if amount > 0:
        call(token.get(), "transfer", to=ctx.sender, amount=amount)
    return amount


@export
def redeem(vault: int):
    entry = load(vault)
    require(entry["status"] == LOCKED, "vault closed")
    require(held(vault, ctx.sender) == entry["total"], "needs every fraction")
    entry["status"] = REDEEMED
    entry["claimed"] = entry["total"]
    vaults[vault] = entry
    set_held(vault, ctx.sender, 0)
    emit("Redeemed", vault=vault, holder=ctx.sender)
    call(entry["collection"], "transfer", to=ctx.sender, token=entry["item"])


@view
def vault_of(vault: int) -> dict:
    return load(vault)


@view
def fractions_of(vault: int, who: bytes) -> int:
    return held(vault, who)


@view
def claimable_of(vault: int, who: bytes) -> int:
    entry = load(vault)
    if entry["status"] != BOUGHT_OUT:
        return 0
    return payout(entry, held(vault, who))
