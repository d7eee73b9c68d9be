"""Rental desk: owners offer collectibles for rent at a price per second; a renter pays the
owner in the platform token and becomes the item's user (ERC-4907-like `set_user` of
vm/templates/nft.py) until an expiry in block time.

The user right itself lives in the collectible: it ends at expiry without a transaction,
a transfer of the item clears it, and `set_user` refuses a new user while a rental is
running, so rentals never overlap. This desk must be an operator of the owner (or approved
for the item) in the collectible.

Methods:
    init(token_address)
    offer(collection, item, price_per_second, max_seconds) -> offer id   the item's owner
    rent(offer_id, seconds) -> expires    pays price_per_second * seconds to the owner
    withdraw_offer(offer_id)              the offer's owner
    views: offer_of(offer_id) -> [owner, collection, item, price_per_second, max_seconds, open]

Events: Configured(token), Offered(offer, owner, collection, item, price_per_second, max_seconds),
Rented(offer, renter, expires, cost), OfferWithdrawn(offer).

Errors (REVERT): "not the owner", "bad terms", "no such offer", "offer closed",
"bad duration", "offer is stale" (the item changed hands), "only the offerer", and the
collectible's "token is rented" when a rental is still running.

Invariants: the renter pays exactly price * seconds, to the current owner; the user's
expiry is the block time of `rent` + seconds; a failed rent moves nothing.
"""

currency = Value()
offers = Map()
offer_count = Value()


@export
def init(token_address: bytes):
    currency.set(token_address)
    emit("Configured", token=token_address)


@export
def offer(collection: bytes, item: int, price_per_second: int, max_seconds: int) -> int:
    require(call(collection, "owner_of", token=item) == ctx.sender, "not the owner")
    require(price_per_second >= 0 and max_seconds > 0, "bad terms")
    number = offer_count.get(0) + 1
    offer_count.set(number)
    offers[number] = [ctx.sender, collection, item, price_per_second, max_seconds, True]
    emit("Offered", offer=number, owner=ctx.sender, collection=collection, item=item,
         price_per_second=price_per_second, max_seconds=max_seconds)
    return number


def open_offer(number: int) -> list:
    entry = offers.get(number)
    require(entry is not None, "no such offer")
    require(entry[5], "offer closed")
    return entry


@export
def rent(offer_id: int, seconds: int) -> int:
    entry = open_offer(offer_id)
    require(seconds > 0 and seconds <= entry[4], "bad duration")
    owner = entry[0]
    require(call(entry[1], "owner_of", token=entry[2]) == owner, "offer is stale")
    cost = entry[3] * seconds
    expires = ctx.time + seconds
    emit("Rented", offer=offer_id, renter=ctx.sender, expires=expires, cost=cost)
    if cost > 0:
        call(currency.get(), "transfer_from", source=ctx.sender, to=owner, amount=cost)
    call(entry[1], "set_user", token=entry[2], user=ctx.sender, expires=expires)
    return expires


@export
def withdraw_offer(offer_id: int):
    entry = open_offer(offer_id)
    require(ctx.sender == entry[0], "only the offerer")
    entry[5] = False
    offers[offer_id] = entry
    emit("OfferWithdrawn", offer=offer_id)


@view
def offer_of(offer_id: int) -> list:
    entry = offers.get(offer_id)
    require(entry is not None, "no such offer")
    return entry
