"""Gift cards and vouchers: prepaid value held in escrow, partial redemption at accepting
merchants, expiry with the rest returned to the issuer, optional transferability.

The issuer of a card prepays its value in the platform token (vm/templates/token.py; the
issuer approves this contract first). The holder spends it in parts at merchants the
admin accepts: each redemption pays the merchant straight from escrow. After the expiry
(block time) nothing more can be redeemed and anyone may call `expire`, which returns the
unspent rest to the issuer. A card issued as transferable can be given to someone else.

Methods:
    init(token_address)                  the deployer is the admin
    accept_merchant(merchant, accepted)  admin
    issue(holder, amount, expires_at, transferable, note="") -> card id   issuer = sender
    redeem(card, amount, merchant)       holder; before expiry; amount <= balance
    transfer(card, to)                   holder; transferable cards only
    expire(card)                         anyone; at/after expiry; returns the rest, once
    views: card_of(card) -> dict, balance_of(card), is_merchant(who)

Events: Configured(token, admin), MerchantSet(merchant, accepted),
Issued(card, issuer, holder, amount, expires_at, transferable),
Redeemed(card, holder, merchant, amount, left), CardTransferred(card, source, to),
Expired(card, issuer, returned).

Errors (REVERT): "only the admin", "amount must be positive", "expiry in the past",
"note too long", "no such card", "not the holder", "card expired", "insufficient value",
"merchant not accepted", "not transferable", "not expired", "already closed".

Invariants: per card, amount = redeemed + returned + balance; this contract's balance is
the sum of the balances of open cards; a card is closed (returned) at most once and nothing
is redeemed after its expiry. Same-shard tested only: cross-shard txs do not exist yet.
"""

NOTE_BYTES_MAX = 200

token = Value()
admin = Value()
merchants = Map()
cards = Map()  # id -> {"issuer", "holder", "amount", "balance", "expires_at",
#                       "transferable", "closed", "note"}
card_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    admin.set(ctx.sender)
    emit("Configured", token=token_address, admin=ctx.sender)


@export
def accept_merchant(merchant: bytes, accepted: bool):
    require(ctx.sender == admin.get(), "only the admin")
    if accepted:
        merchants[merchant] = True
    elif merchant in merchants:
        del merchants[merchant]
    emit("MerchantSet", merchant=merchant, accepted=accepted)


@export
def issue(holder: bytes, amount: int, expires_at: int, transferable: bool,
          note: str = "") -> int:
    require(amount > 0, "amount must be positive")
    require(expires_at > ctx.time, "expiry in the past")
    require(len(note) <= NOTE_BYTES_MAX, "note too long")
    number = card_count.get(0) + 1
    card_count.set(number)
    cards[number] = {"issuer": ctx.sender, "holder": holder, "amount": amount,
                     "balance": amount, "expires_at": expires_at,
                     "transferable": transferable, "closed": False, "note": note}
    emit("Issued", card=number, issuer=ctx.sender, holder=holder, amount=amount,
         expires_at=expires_at, transferable=transferable)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=amount)
    return number


def load(card: int) -> dict:
    entry = cards.get(card)
    require(entry is not None, "no such card")
    return entry


def usable(card: int) -> dict:
    entry = load(card)
    require(entry["holder"] == ctx.sender, "not the holder")
    require(ctx.time < entry["expires_at"] and not entry["closed"], "card expired")
    return entry


@export
def redeem(card: int, amount: int, merchant: bytes):
    entry = usable(card)
    require(amount > 0, "amount must be positive")
    require(amount <= entry["balance"], "insufficient value")
    require(merchant in merchants, "merchant not accepted")
    entry["balance"] = entry["balance"] - amount
    cards[card] = entry
    emit("Redeemed", card=card, holder=ctx.sender, merchant=merchant, amount=amount,
         left=entry["balance"])
    call(token.get(), "transfer", to=merchant, amount=amount)


@export
def transfer(card: int, to: bytes):
    entry = usable(card)
    require(entry["transferable"], "not transferable")
    entry["holder"] = to
    cards[card] = entry
    emit("CardTransferred", card=card, source=ctx.sender, to=to)


@export
def expire(card: int) -> int:
    entry = load(card)
    require(ctx.time >= entry["expires_at"], "not expired")
    require(not entry["closed"], "already closed")
    returned = entry["balance"]
    entry["balance"] = 0
    entry["closed"] = True
    cards[card] = entry
    emit("Expired", card=card, issuer=entry["issuer"], returned=returned)
    if returned > 0:
        call(token.get(), "transfer", to=entry["issuer"], amount=returned)
    return returned


@view
def card_of(card: int) -> dict:
    return load(card)


@view
def balance_of(card: int) -> int:
    entry = load(card)
    if ctx.time >= entry["expires_at"]:
        return 0
    return entry["balance"]


@view
def is_merchant(who: bytes) -> bool:
    return who in merchants
