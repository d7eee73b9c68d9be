"""Loyalty points: minted by an issuer in lots that expire at a block height, redeemable at
partner merchants, non-transferable unless the issuer allows transfers.

An account's points are a list of lots [expires_height, amount], earliest expiry first,
at most LOTS_MAX live lots (lots with the same expiry merge). A lot is live while
ctx.height < expires_height. Spending (redeem, transfer) takes the earliest-expiring live
points first, and a transfer keeps each moved point's expiry. Expired lots are dropped
whenever their account is written, or by anyone with `sweep`, and counted as expired.
Points are not money here: a redemption burns them and credits the merchant's tally
(`redeemed_at`), which the issuer settles with the merchant off-chain.

Methods:
    init(transferable_points=False)      the deployer is the issuer
    mint(to, amount, expires_height)     issuer; expires_height > the current height
    set_partner(merchant, allowed)       issuer
    set_transferable(allowed)            issuer
    redeem(amount, merchant)             holder; merchant a partner; burns live points
    transfer(to, amount)                 holder; only while transfers are allowed
    sweep(who) -> amount                 anyone; drops expired lots (none: reverts)
    views: balance_of(who) (live points), lots_of(who), totals() -> dict(minted,
           redeemed, expired), redeemed_at(merchant), is_partner(who), is_transferable()

Events: Configured(issuer, transferable), Minted(to, amount, expires_height),
PartnerSet(merchant, allowed), TransferableSet(allowed), Redeemed(who, merchant, amount),
Transferred(sender, to, amount), Expired(who, amount).

Errors (REVERT): "only the issuer", "amount must be positive", "expiry in the past",
"too many lots", "not a partner", "insufficient points", "transfers disabled",
"transfer to self", "nothing expired".

Invariants: minted = live points + unswept expired points + redeemed + swept expired;
expired points are never spent; while transfers are disabled, points only leave an
account by redemption or expiry.
"""

LOTS_MAX = 16

issuer = Value()
transferable = Value()
lots = Map()  # who -> [[expires_height, amount], ...] ascending by expiry
partners = Map()
redeemed_by = Map()  # merchant -> points redeemed there
totals_store = Value()  # {"minted", "redeemed", "expired"}


@export
def init(transferable_points: bool = False):
    issuer.set(ctx.sender)
    transferable.set(transferable_points)
    totals_store.set({"minted": 0, "redeemed": 0, "expired": 0})
    emit("Configured", issuer=ctx.sender, transferable=transferable_points)


def only_issuer():
    require(ctx.sender == issuer.get(), "only the issuer")


def live_lots(who: bytes) -> list:
    """The account's live lots; drops expired ones from storage and counts them."""
    current = lots.get(who, [])
    live = [lot for lot in current if lot[0] > ctx.height]
    if len(live) < len(current):
        expired = sum([lot[1] for lot in current if lot[0] <= ctx.height])
        add_total("expired", expired)
        emit("Expired", who=who, amount=expired)
        store(who, live)
    return live


def store(who: bytes, entries: list):
    if len(entries) == 0:
        if who in lots:
            del lots[who]
    else:
        lots[who] = entries


def add_total(name: str, amount: int):
    counts = totals_store.get()
    counts[name] = counts[name] + amount
    totals_store.set(counts)


def add_lot(entries: list, expires_height: int, amount: int) -> list:
    """Inserts a lot in expiry order, merging equal expiries; refuses past LOTS_MAX."""
    result = []
    placed = False
    for lot in entries:
        if not placed and lot[0] == expires_height:
            result.append([lot[0], lot[1] + amount])
            placed = True
        else:
            if not placed and lot[0] > expires_height:
                result.append([expires_height, amount])
                placed = True
            result.append(lot)
    if not placed:
        result.append([expires_height, amount])
    require(len(result) <= LOTS_MAX, "too many lots")
    return result


def take(entries: list, amount: int) -> list:
    """Removes `amount` points, earliest expiry first: [remaining lots, taken lots]."""
    require(sum([lot[1] for lot in entries]) >= amount, "insufficient points")
    remaining = []
    taken = []
    need = amount
    for lot in entries:
        if need == 0:
            remaining.append(lot)
        elif lot[1] <= need:
            taken.append(lot)
            need = need - lot[1]
        else:
            taken.append([lot[0], need])
            remaining.append([lot[0], lot[1] - need])
            need = 0
    return [remaining, taken]


@export
def mint(to: bytes, amount: int, expires_height: int):
    only_issuer()
    require(amount > 0, "amount must be positive")
    require(expires_height > ctx.height, "expiry in the past")
    store(to, add_lot(live_lots(to), expires_height, amount))
    add_total("minted", amount)
    emit("Minted", to=to, amount=amount, expires_height=expires_height)


@export
def set_partner(merchant: bytes, allowed: bool):
    only_issuer()
    if allowed:
        partners[merchant] = True
    elif merchant in partners:
        del partners[merchant]
    emit("PartnerSet", merchant=merchant, allowed=allowed)


@export
def set_transferable(allowed: bool):
    only_issuer()
    transferable.set(allowed)
    emit("TransferableSet", allowed=allowed)


@export
def redeem(amount: int, merchant: bytes):
    require(amount > 0, "amount must be positive")
    require(merchant in partners, "not a partner")
    split = take(live_lots(ctx.sender), amount)
    store(ctx.sender, split[0])
    redeemed_by[merchant] = redeemed_by.get(merchant, 0) + amount
    add_total("redeemed", amount)
    emit("Redeemed", who=ctx.sender, merchant=merchant, amount=amount)


@export
def transfer(to: bytes, amount: int):
    require(transferable.get(), "transfers disabled")
    require(amount > 0, "amount must be positive")
    require(to != ctx.sender, "transfer to self")
    split = take(live_lots(ctx.sender), amount)
    store(ctx.sender, split[0])
    received = live_lots(to)
    for lot in split[1]:
        received = add_lot(received, lot[0], lot[1])
    store(to, received)
    emit("Transferred", sender=ctx.sender, to=to, amount=amount)


@export
def sweep(who: bytes) -> int:
    before = totals_store.get()["expired"]
    live_lots(who)
    swept = totals_store.get()["expired"] - before
    require(swept > 0, "nothing expired")
    return swept


@view
def balance_of(who: bytes) -> int:
    return sum([lot[1] for lot in lots.get(who, []) if lot[0] > ctx.height])


@view
def lots_of(who: bytes) -> list:
    return lots.get(who, [])


@view
def totals() -> dict:
    return totals_store.get()


@view
def redeemed_at(merchant: bytes) -> int:
    return redeemed_by.get(merchant, 0)


@view
def is_partner(who: bytes) -> bool:
    return who in partners


@view
def is_transferable() -> bool:
    return transferable.get()
