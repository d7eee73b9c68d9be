"""Auctions of collectibles (vm/templates/nft.py) for the platform token: English
(ascending bids, settled after the end) and Dutch (falling price, bought once).

English: `create_english` escrows the item. Each `bid` must reach the reserve and beat the
highest bid by at least `min_step`; the bid amount moves from the bidder's allowance into
this contract, and the bidder it outbids gets a refund credit to `withdraw` (pull, so a
bidder can never block a later bid). `settle` runs once, never before the end (block
time): the item goes to the winner and the winning bid is paid out as royalty
(collectible's `royalty_info`), fee and seller proceeds; with no bid the item returns.

Dutch: the price at block time t is max(floor, start - rate * (t - start_time)).
`buy_dutch(auction, payment)` pulls `payment` (>= the price), pays royalty, fee and
proceeds on the price and refunds the excess to the buyer in the same call. Bought once.

Methods:
    init(token_address, fee, recipient)                 fee in basis points (<= 1000);
                                                        the deployer is the admin
    allow_collection(collection, allowed)               admin only: auctions run only
                                                        for allowed (trusted) collections
    create_english(collection, item, reserve, end_time, min_step=1) -> auction id
    bid(auction, amount)               not the seller; before the end
    settle(auction)                    anyone, once, at or after the end
    withdraw() -> amount               the sender's refund credits
    create_dutch(collection, item, start_price, floor_price, rate) -> auction id
    buy_dutch(auction, payment)        not the seller; once
    cancel(auction)                    the seller; English without bids or Dutch unsold
    views: auction_of(id) -> dict, dutch_price(id), refund_of(who)

Events: Configured(token, fee_bp, fee_recipient, admin), CollectionAllowed(collection,
allowed), Created(auction, kind, seller, collection, item), Bid(auction, bidder, amount),
Settled(auction, winner, price, royalty, fee, proceeds), Bought(auction, buyer, price,
paid, refund, royalty, fee, proceeds), Withdrawn(who, amount), Cancelled(auction).

Errors (REVERT): "bad fee", "end must be in the future", "bad prices", "no such auction",
"not an English auction", "not a Dutch auction", "auction ended", "auction not ended",
"already settled", "seller may not bid", "bid below reserve", "bid too low",
"payment below price", "nothing to withdraw", "only the seller", "has bids",
"royalty and fee exceed the price", "min step must be positive", "only the admin",
"collection not allowed".

Invariants: the highest bid only rises; settlement happens at most once and never before
the end; for every auction, refunds + proceeds + royalty + fee == everything its bidders
paid in; the contract's token balance == unsettled highest bids + unwithdrawn refunds.
"""

BASIS_POINTS = 10000
FEE_BP_MAX = 1000

token = Value()
fee_bp = Value()
fee_recipient = Value()
admin = Value()
collections = Map()
auctions = Map()  # id -> dict (see create_english / create_dutch)
auction_count = Value()
refunds = Map()  # who -> withdrawable amount


@export
def init(token_address: bytes, fee: int, recipient: bytes):
    require(fee >= 0 and fee <= FEE_BP_MAX, "bad fee")
    token.set(token_address)
    fee_bp.set(fee)
    fee_recipient.set(recipient)
    admin.set(ctx.sender)
    emit("Configured", token=token_address, fee_bp=fee, fee_recipient=recipient,
         admin=ctx.sender)


@export
def allow_collection(collection: bytes, allowed: bool):
    require(ctx.sender == admin.get(), "only the admin")
    if allowed:
        collections[collection] = True
    elif collection in collections:
        del collections[collection]
    emit("CollectionAllowed", collection=collection, allowed=allowed)


def new_auction(entry: dict) -> int:
    require(entry["collection"] in collections, "collection not allowed")
    auction = auction_count.get(0) + 1
    auction_count.set(auction)
    auctions[auction] = entry
    emit("Created", auction=auction, kind=entry["kind"], seller=entry["seller"],
         collection=entry["collection"], item=entry["item"])
    call(entry["collection"], "transfer_from", source=ctx.sender, to=ctx.address,
         token=entry["item"])
    return auction


@export
def create_english(collection: bytes, item: int, reserve: int, end_time: int,
                   min_step: int = 1) -> int:
    require(end_time > ctx.time, "end must be in the future")
    require(reserve >= 0, "bad prices")
    require(min_step > 0, "min step must be positive")
    return new_auction({"kind": "english", "seller": ctx.sender, "collection": collection,
                        "item": item, "reserve": reserve, "end": end_time, "step": min_step,
                        "bidder": b"", "bid": 0, "settled": False})


@export
def create_dutch(collection: bytes, item: int, start_price: int, floor_price: int,
                 rate: int) -> int:
    require(floor_price >= 0 and start_price >= floor_price and rate >= 0, "bad prices")
    return new_auction({"kind": "dutch", "seller": ctx.sender, "collection": collection,
                        "item": item, "start_price": start_price, "floor": floor_price,
                        "rate": rate, "start": ctx.time, "settled": False})


def open_auction(auction: int, kind: str) -> dict:
    entry = auctions.get(auction)
    require(entry is not None, "no such auction")
    if kind == "english":
        require(entry["kind"] == kind, "not an English auction")
    else:
        require(entry["kind"] == kind, "not a Dutch auction")
    require(not entry["settled"], "already settled")
    return entry


@export
def bid(auction: int, amount: int):
    entry = open_auction(auction, "english")
    require(ctx.time < entry["end"], "auction ended")
    require(ctx.sender != entry["seller"], "seller may not bid")
    require(amount >= entry["reserve"] and amount > 0, "bid below reserve")
    previous = entry["bidder"]
    if len(previous) > 0:
        require(amount >= entry["bid"] + entry["step"], "bid too low")
        refunds[previous] = refunds.get(previous, 0) + entry["bid"]
    entry["bidder"] = ctx.sender
    entry["bid"] = amount
    auctions[auction] = entry
    emit("Bid", auction=auction, bidder=ctx.sender, amount=amount)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=amount)


@export
def withdraw() -> int:
    amount = refunds.get(ctx.sender, 0)
    require(amount > 0, "nothing to withdraw")
    del refunds[ctx.sender]
    emit("Withdrawn", who=ctx.sender, amount=amount)
    call(token.get(), "transfer", to=ctx.sender, amount=amount)
    return amount


def pay_out(entry: dict, price: int) -> list:
    """Pays royalty, fee and proceeds on `price` from this contract; returns them."""
    royalty_entry = call(entry["collection"], "royalty_info", token=entry["item"],
                         price=price)
    royalty = royalty_entry[1]
    fee = price * fee_bp.get() // BASIS_POINTS
    require(royalty >= 0 and royalty + fee <= price, "royalty and fee exceed the price")
    proceeds = price - royalty - fee
    currency = token.get()
    if royalty > 0:
        call(currency, "transfer", to=royalty_entry[0], amount=royalty)
    if fee > 0:
        call(currency, "transfer", to=fee_recipient.get(), amount=fee)
    if proceeds > 0:
        call(currency, "transfer", to=entry["seller"], amount=proceeds)
    return [royalty, fee, proceeds]


@export
def settle(auction: int):
    entry = open_auction(auction, "english")
    require(ctx.time >= entry["end"], "auction not ended")
    entry["settled"] = True
    auctions[auction] = entry
    winner = entry["bidder"]
    if len(winner) == 0:
        emit("Settled", auction=auction, winner=b"", price=0, royalty=0, fee=0, proceeds=0)
        call(entry["collection"], "transfer", to=entry["seller"], token=entry["item"])
        return
    parts = pay_out(entry, entry["bid"])
    emit("Settled", auction=auction, winner=winner, price=entry["bid"], royalty=parts[0],
         fee=parts[1], proceeds=parts[2])
    call(entry["collection"], "transfer", to=winner, token=entry["item"])


def current_price(entry: dict) -> int:
    drop = entry["rate"] * (ctx.time - entry["start"])
    return max(entry["floor"], entry["start_price"] - drop)


@export
def buy_dutch(auction: int, payment: int):
    entry = open_auction(auction, "dutch")
    require(ctx.sender != entry["seller"], "seller may not bid")
    price = current_price(entry)
    require(payment >= price and payment > 0, "payment below price")
    entry["settled"] = True
    auctions[auction] = entry
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=payment)
    parts = pay_out(entry, price)
    refund = payment - price
    if refund > 0:
        call(token.get(), "transfer", to=ctx.sender, amount=refund)
    emit("Bought", auction=auction, buyer=ctx.sender, price=price, paid=payment,
         refund=refund, royalty=parts[0], fee=parts[1], proceeds=parts[2])
    call(entry["collection"], "transfer", to=ctx.sender, token=entry["item"])


@export
def cancel(auction: int):
    entry = auctions.get(auction)
    require(entry is not None, "no such auction")
    require(not entry["settled"], "already settled")
    require(ctx.sender == entry["seller"], "only the seller")
    if entry["kind"] == "english":
        require(len(entry["bidder"]) == 0, "has bids")
    entry["settled"] = True
    auctions[auction] = entry
    emit("Cancelled", auction=auction)
    call(entry["collection"], "transfer", to=entry["seller"], token=entry["item"])


@view
def auction_of(auction: int) -> dict:
    entry = auctions.get(auction)
    require(entry is not None, "no such auction")
    return entry


@view
def dutch_price(auction: int) -> int:
    entry = auctions.get(auction)
    require(entry is not None and entry["kind"] == "dutch", "not a Dutch auction")
    return current_price(entry)


@view
def refund_of(who: bytes) -> int:
    return refunds.get(who, 0)
