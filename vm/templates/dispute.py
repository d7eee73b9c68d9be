"""Dispute resolution escrow: buyer protection window, an arbiter's decision splits the
escrow, a default outcome at timeout, each party paid at most once.

The buyer opens an escrow for a seller and an arbiter they agree on, paying `amount` of the
platform token (vm/templates/token.py) into this contract. Until the protection window
ends the buyer may release the money to the seller or raise a dispute; the seller may
refund the buyer at any time before settlement. A dispute gives the arbiter
`arbiter_seconds` to decide a split (the buyer's part in basis points, the rest to the
seller). Timeouts (anyone may call `timeout`):
    - window over, no dispute:           the seller is paid in full;
    - dispute not decided by its deadline: the escrow's `default_buyer_bp` applies
      (10000 refunds the buyer, 0 pays the seller, 5000 splits; fixed at opening).
A split pays the buyer floor(amount * bp / 10000) and the seller the rest.

Methods:
    init(token_address)
    open_escrow(seller, arbiter, amount, protection_seconds, arbiter_seconds,
                default_buyer_bp, reference="") -> escrow id     buyer = sender
    release(escrow)                      buyer; before settlement; seller paid in full
    refund(escrow)                       seller; before settlement; buyer paid in full
    dispute(escrow)                      buyer; within the protection window
    decide(escrow, buyer_bp)             arbiter; disputed; before the decision deadline
    timeout(escrow)                      anyone; applies the default outcome (see above)
    views: escrow_of(escrow) -> dict, status_of(escrow) -> "funded" | "disputed" |
           "settled"

Events: Configured(token), Opened(escrow, buyer, seller, arbiter, amount, window_end,
arbiter_seconds, default_buyer_bp, reference), Disputed(escrow, decision_deadline),
Settled(escrow, how, buyer_amount, seller_amount).

Errors (REVERT): "amount must be positive", "bad parties", "bad window", "bad default",
"reference too long", "no such escrow", "settled", "only the buyer", "only the seller",
"only the arbiter", "window closed", "not disputed", "already disputed", "deadline passed",
"bad split", "too early".

Invariants: an escrow settles once, and settlement pays buyer_amount + seller_amount =
amount (each party at most one payment); this contract's balance is the sum of the amounts
of unsettled escrows. Same-shard tested only: cross-shard txs do not exist yet.
"""

BASIS_POINTS = 10000
REFERENCE_BYTES_MAX = 200
FUNDED = 1
DISPUTED = 2
SETTLED = 3

token = Value()
escrows = Map()  # id -> {"buyer", "seller", "arbiter", "amount", "window_end",
#                         "arbiter_seconds", "deadline", "default_bp", "status"}
escrow_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


@export
def open_escrow(seller: bytes, arbiter: bytes, amount: int, protection_seconds: int,
                arbiter_seconds: int, default_buyer_bp: int, reference: str = "") -> int:
    require(amount > 0, "amount must be positive")
    require(seller != ctx.sender and arbiter != ctx.sender and arbiter != seller,
            "bad parties")
    require(protection_seconds > 0 and arbiter_seconds > 0, "bad window")
    require(default_buyer_bp >= 0 and default_buyer_bp <= BASIS_POINTS, "bad default")
    require(len(reference) <= REFERENCE_BYTES_MAX, "reference too long")
    number = escrow_count.get(0) + 1
    escrow_count.set(number)
    window_end = ctx.time + protection_seconds
    escrows[number] = {"buyer": ctx.sender, "seller": seller, "arbiter": arbiter,
                       "amount": amount, "window_end": window_end,
                       "arbiter_seconds": arbiter_seconds, "deadline": 0,
                       "default_bp": default_buyer_bp, "status": FUNDED}
    emit("Opened", escrow=number, buyer=ctx.sender, seller=seller, arbiter=arbiter,
         amount=amount, window_end=window_end, arbiter_seconds=arbiter_seconds,
         default_buyer_bp=default_buyer_bp, reference=reference)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=amount)
    return number


def unsettled(escrow: int) -> dict:
    entry = escrows.get(escrow)
    require(entry is not None, "no such escrow")
    require(entry["status"] != SETTLED, "settled")
    return entry


def settle(escrow: int, entry: dict, how: str, buyer_bp: int):
    buyer_amount = entry["amount"] * buyer_bp // BASIS_POINTS
    seller_amount = entry["amount"] - buyer_amount
    entry["status"] = SETTLED
    escrows[escrow] = entry
    emit("Settled", escrow=escrow, how=how, buyer_amount=buyer_amount,
         seller_amount=seller_amount)
    currency = token.get()
    if buyer_amount > 0:
        call(currency, "transfer", to=entry["buyer"], amount=buyer_amount)
    if seller_amount > 0:
        call(currency, "transfer", to=entry["seller"], amount=seller_amount)


@export
def release(escrow: int):
    entry = unsettled(escrow)
    require(ctx.sender == entry["buyer"], "only the buyer")
    settle(escrow, entry, "released", 0)


@export
def refund(escrow: int):
    entry = unsettled(escrow)
    require(ctx.sender == entry["seller"], "only the seller")
    settle(escrow, entry, "refunded", BASIS_POINTS)


@export
def dispute(escrow: int):
    entry = unsettled(escrow)
    require(ctx.sender == entry["buyer"], "only the buyer")
    require(entry["status"] == FUNDED, "already disputed")
    require(ctx.time < entry["window_end"], "window closed")
    entry["status"] = DISPUTED
    entry["deadline"] = ctx.time + entry["arbiter_seconds"]
    escrows[escrow] = entry
    emit("Disputed", escrow=escrow, decision_deadline=entry["deadline"])


@export
def decide(escrow: int, buyer_bp: int):
    entry = unsettled(escrow)
    require(ctx.sender == entry["arbiter"], "only the arbiter")
    require(entry["status"] == DISPUTED, "not disputed")
    require(ctx.time < entry["deadline"], "deadline passed")
    require(buyer_bp >= 0 and buyer_bp <= BASIS_POINTS, "bad split")
    settle(escrow, entry, "decided", buyer_bp)


@export
def timeout(escrow: int):
    entry = unsettled(escrow)
    if entry["status"] == FUNDED:
        require(ctx.time >= entry["window_end"], "too early")
        settle(escrow, entry, "window passed", 0)
    else:
        require(ctx.time >= entry["deadline"], "too early")
        settle(escrow, entry, "no decision", entry["default_bp"])


@view
def escrow_of(escrow: int) -> dict:
    entry = escrows.get(escrow)
    require(entry is not None, "no such escrow")
    return entry


@view
def status_of(escrow: int) -> str:
    return ["", "funded", "disputed", "settled"][escrow_of(escrow)["status"]]
