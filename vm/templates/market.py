"""Marketplace: fixed-price listings of collectibles (vm/templates/nft.py) paid in the
platform token (vm/templates/token.py), with escrow, royalty, platform fee, KYC allow-list
and a price circuit breaker per item class.

How a sale works: `list_item` moves the item into escrow (this contract; the seller must have
made it an operator or approved it for the item). `buy` checks KYC for buyer and seller,
checks the circuit breaker, then pays straight from the buyer's allowance to this
contract: royalty (to the collectible's `royalty_info` receiver, e.g. a revenue split,
whose 30/40/30 tiers then share it), fee (to the fee recipient) and the rest to the
seller; finally the item leaves escrow for the buyer. price = royalty + fee + seller part.
When the royalty receiver is a revenue split the governor registered
(`["register_split", split]`), `buy` also calls its `distribute()`, so the split's payees
are credited in the same transaction as the sale.

Circuit breaker: the item class is the collection. Its reference price is the last
completed sale in that class (chain data). A sale whose price deviates from the reference
by more than `max_deviation_bp` (of the reference) does not happen: `buy` returns False,
emits TradingHalted and the class halts, so the call succeeds and records the halt while
no value moves. A halt ends after `cooldown_seconds` (block time), or earlier by the
governor (`govern(["lift_halt", collection])`); when it ends the reference is cleared (or
set by the governor), so the next sale sets a fresh one.

Methods:
    init(token_address, fee, recipient, kyc_registry=b"", deviation_bp=5000,
         cooldown=3600)                    fee in basis points (<= 1000); the deployer is
                                           the governor; b"" registry: no KYC check
    list_item(collection, item, price) -> listing id   seller; collection allowed; KYC
    cancel(listing)                        the seller; item leaves escrow back to them
    buy(listing) -> bool                   buyer (not the seller); KYC; breaker; pays
    govern(action)                         governor only; action is one of
        ["allow_collection", collection], ["disallow_collection", collection],
        ["register_split", split],
        ["lift_halt", collection], ["set_reference", collection, price],
        ["set_fee", fee_bp, fee_recipient], ["set_governor", governor]
    views: listing_of(id) -> [seller, collection, item, price, status],
           class_of(collection) -> [reference, halted_at], is_halted(collection),
           config() -> [token, fee_bp, fee_recipient, registry, max_deviation_bp,
           cooldown_seconds, governor]

Listing status: 1 OPEN, 2 SOLD, 3 CANCELLED.

Events: Configured(token, fee_bp, fee_recipient, registry, max_deviation_bp,
cooldown_seconds, governor), Listed(listing, seller, collection, item, price), Cancelled(listing),
Sold(listing, buyer, seller, price, royalty, royalty_receiver, fee, proceeds),
TradingHalted(collection, price, reference), HaltLifted(collection, reason),
Governed(action).

Errors (REVERT): "collection not allowed", "price must be positive", "no such listing",
"listing not open", "only the seller", "seller may not buy", "buyer not verified",
"seller not verified", "trading halted", "royalty and fee exceed the price",
"only the governor", "unknown action", "bad fee", "bad breaker", "not halted".

Invariants: an item in an open listing is held by this contract; a listing is sold or
cancelled at most once; value is conserved (buyer pays exactly price = royalty + fee +
proceeds; the contract never keeps tokens); a halted class trades nothing.
"""

BASIS_POINTS = 10000
FEE_BP_MAX = 1000
OPEN = 1
SOLD = 2
CANCELLED = 3

token = Value()
fee_bp = Value()
fee_recipient = Value()
registry = Value()
max_deviation_bp = Value()
cooldown_seconds = Value()
governor = Value()
collections = Map()
splits = Map()  # revenue split contracts to distribute() after paying them a royalty
listings = Map()  # id -> [seller, collection, item, price, status]
listing_count = Value()
references = Map()  # collection -> last sale price
halts = Map()  # collection -> block time of the halt


@export
def init(token_address: bytes, fee: int, recipient: bytes, kyc_registry: bytes = b"",
         deviation_bp: int = 5000, cooldown: int = 3600):
    require(fee >= 0 and fee <= FEE_BP_MAX, "bad fee")
    require(deviation_bp > 0 and cooldown >= 0, "bad breaker")
    token.set(token_address)
    fee_bp.set(fee)
    fee_recipient.set(recipient)
    registry.set(kyc_registry)
    max_deviation_bp.set(deviation_bp)
    cooldown_seconds.set(cooldown)
    governor.set(ctx.sender)
    emit("Configured", token=token_address, fee_bp=fee, fee_recipient=recipient,
         registry=kyc_registry, max_deviation_bp=deviation_bp, cooldown_seconds=cooldown,
         governor=ctx.sender)


def check_verified(who: bytes, message: str):
    kyc = registry.get()
    if len(kyc) > 0:
        require(call(kyc, "is_verified", who=who), message)


@export
def list_item(collection: bytes, item: int, price: int) -> int:
    require(collection in collections, "collection not allowed")
    require(price > 0, "price must be positive")
    check_verified(ctx.sender, "seller not verified")
    listing = listing_count.get(0) + 1
    listing_count.set(listing)
    listings[listing] = [ctx.sender, collection, item, price, OPEN]
    emit("Listed", listing=listing, seller=ctx.sender, collection=collection, item=item,
         price=price)
    call(collection, "transfer_from", source=ctx.sender, to=ctx.address, token=item)
    return listing


def open_listing(listing: int) -> list:
    entry = listings.get(listing)
    require(entry is not None, "no such listing")
    require(entry[4] == OPEN, "listing not open")
    return entry


@export
def cancel(listing: int):
    entry = open_listing(listing)
    require(ctx.sender == entry[0], "only the seller")
    entry[4] = CANCELLED
    listings[listing] = entry
    emit("Cancelled", listing=listing)
    call(entry[1], "transfer", to=entry[0], token=entry[2])


def maybe_end_halt(collection: bytes):
    halted_at = halts.get(collection)
    if halted_at is not None and ctx.time >= halted_at + cooldown_seconds.get():
        del halts[collection]
        if collection in references:
            del references[collection]
        emit("HaltLifted", collection=collection, reason="cooldown")


def deviates(collection: bytes, price: int) -> bool:
    reference = references.get(collection)
    if reference is None:
        return False
    return abs(price - reference) * BASIS_POINTS > max_deviation_bp.get() * reference


@export
def buy(listing: int) -> bool:
    entry = open_listing(listing)
    seller = entry[0]
    collection = entry[1]
    item = entry[2]
    price = entry[3]
    require(ctx.sender != seller, "seller may not buy")
    check_verified(ctx.sender, "buyer not verified")
    check_verified(seller, "seller not verified")
    maybe_end_halt(collection)
    require(collection not in halts, "trading halted")
    if deviates(collection, price):
        halts[collection] = ctx.time
        emit("TradingHalted", collection=collection, price=price,
             reference=references[collection])
        return False
    royalty_entry = call(collection, "royalty_info", token=item, price=price)
    royalty = royalty_entry[1]
    fee = price * fee_bp.get() // BASIS_POINTS
    require(royalty >= 0 and royalty + fee <= price, "royalty and fee exceed the price")
    proceeds = price - royalty - fee
    entry[4] = SOLD
    listings[listing] = entry
    references[collection] = price
    emit("Sold", listing=listing, buyer=ctx.sender, seller=seller, price=price,
         royalty=royalty, royalty_receiver=royalty_entry[0], fee=fee, proceeds=proceeds)
    currency = token.get()
    pay(currency, ctx.sender, royalty_entry[0], royalty)
    pay(currency, ctx.sender, fee_recipient.get(), fee)
    pay(currency, ctx.sender, seller, proceeds)
    call(collection, "transfer", to=ctx.sender, token=item)
    if royalty > 0 and royalty_entry[0] in splits:
        call(royalty_entry[0], "distribute")
    return True


def pay(currency: bytes, source: bytes, to: bytes, amount: int):
    if amount > 0:
        call(currency, "transfer_from", source=source, to=to, amount=amount)


@export
def govern(action: list):
    require(ctx.sender == governor.get(), "only the governor")
    require(len(action) >= 2, "unknown action")
    verb = action[0]
    if verb == "allow_collection":
        collections[action[1]] = True
    elif verb == "disallow_collection":
        if action[1] in collections:
            del collections[action[1]]
    elif verb == "register_split":
        splits[action[1]] = True
    elif verb == "lift_halt":
        require(action[1] in halts, "not halted")
        del halts[action[1]]
        if action[1] in references:
            del references[action[1]]
        emit("HaltLifted", collection=action[1], reason="governance")
    elif verb == "set_reference" and len(action) == 3:
        require(action[2] > 0, "price must be positive")
        references[action[1]] = action[2]
    elif verb == "set_fee" and len(action) == 3:
        require(action[1] >= 0 and action[1] <= FEE_BP_MAX, "bad fee")
        fee_bp.set(action[1])
        fee_recipient.set(action[2])
    elif verb == "set_governor":
        governor.set(action[1])
    else:
        revert("unknown action")
    emit("Governed", action=action)


@view
def listing_of(listing: int) -> list:
    entry = listings.get(listing)
    require(entry is not None, "no such listing")
    return entry


@view
def class_of(collection: bytes) -> list:
    return [references.get(collection, 0), halts.get(collection, 0)]


@view
def is_halted(collection: bytes) -> bool:
    halted_at = halts.get(collection)
    return halted_at is not None and ctx.time < halted_at + cooldown_seconds.get()


@view
def config() -> list:
    return [token.get(), fee_bp.get(), fee_recipient.get(), registry.get(),
            max_deviation_bp.get(), cooldown_seconds.get(), governor.get()]
