"""Revenue split: tokens that reach this contract are shared among payees in basis points
and paid out by pull-based claims.

Default tiers (the platform's convention): rights holder 30 %, issuer 40 %, channel 30 %,
i.e. init(token_address, [rights_holder, issuer, channel]) with shares_bp left empty.

Remainder rule: each distribution of an amount A gives payee i floor(A * share_i / 10000);
the remainder A - sum(floors) (at most len(payees) - 1 units) goes to the first payee
(the rights holder in the default tiers). So the credits of one distribution sum to A
exactly, and all credits ever made sum to the gross received.

Methods:
    init(token_address, payee_list, shares_bp=())
                                         1..16 distinct payees; shares positive, sum 10000;
                                         empty shares with three payees means 3000/4000/3000
    distribute() -> amount               anyone: credits whatever arrived since last time
                                         (token balance minus what is still owed)
    claim() -> amount                    a payee: distributes, then pays what it is owed
    views: payees_of(), shares_of(), owed(who), claimed_of(who), gross_received(),
           token_of()

Events: Configured(token, payees, shares), Distributed(amount, credits), Claimed(payee, amount).

Errors (REVERT): "payees and shares differ in length", "1 to 16 payees",
"duplicate payee", "shares must be positive", "shares must sum to 10000",
"not a payee", "nothing to claim".

Invariants: sum of credits == gross received; each payee's claimed <= credited, and every
credited unit is paid at most once; token balance of the split == gross - total claimed
(after a distribute).
"""

BASIS_POINTS = 10000
PAYEES_MAX = 16

token = Value()
payees = Value()
shares = Value()
credited = Map()
claimed = Map()
gross = Value()
paid = Value()


@export
def init(token_address: bytes, payee_list: list, shares_bp: list = ()):
    share_list = shares_bp
    if len(share_list) == 0 and len(payee_list) == 3:
        share_list = [3000, 4000, 3000]
    require(len(share_list) == len(payee_list), "payees and shares differ in length")
    require(len(payee_list) >= 1 and len(payee_list) <= PAYEES_MAX, "1 to 16 payees")
    seen = {}
    for payee in payee_list:
        require(payee not in seen, "duplicate payee")
        seen[payee] = True
    for share in share_list:
        require(share > 0, "shares must be positive")
    require(sum(share_list) == BASIS_POINTS, "shares must sum to 10000")
    token.set(token_address)
    payees.set(payee_list)
    shares.set(share_list)
    emit("Configured", token=token_address, payees=payee_list, shares=share_list)


@export
def distribute() -> int:
    owed_total = gross.get(0) - paid.get(0)
    balance = call(token.get(), "balance_of", who=ctx.address)
    amount = balance - owed_total
    if amount <= 0:
        return 0
    payee_list = payees.get()
    share_list = shares.get()
    credits = [amount * share // BASIS_POINTS for share in share_list]
    credits[0] = credits[0] + amount - sum(credits)
    for payee, credit in zip(payee_list, credits):
        if credit > 0:
            credited[payee] = credited.get(payee, 0) + credit
    gross.set(gross.get(0) + amount)
    emit("Distributed", amount=amount, credits=credits)
    return amount


@export
def claim() -> int:
    require(ctx.sender in shares_by_payee(), "not a payee")
    distribute()
    due = credited.get(ctx.sender, 0) - claimed.get(ctx.sender, 0)
    require(due > 0, "nothing to claim")
    claimed[ctx.sender] = claimed.get(ctx.sender, 0) + due
    paid.set(paid.get(0) + due)
    call(token.get(), "transfer", to=ctx.sender, amount=due)
    emit("Claimed", payee=ctx.sender, amount=due)
    return due


def shares_by_payee() -> dict:
    return dict(zip(payees.get(), shares.get()))


@view
def payees_of() -> list:
    return payees.get()


@view
def shares_of() -> list:
    return shares.get()


@view
def owed(who: bytes) -> int:
    return credited.get(who, 0) - claimed.get(who, 0)


@view
def claimed_of(who: bytes) -> int:
    return claimed.get(who, 0)


@view
def gross_received() -> int:
    return gross.get(0)


@view
def token_of() -> bytes:
    return token.get()
