"""Bonding-curve sale: units priced by a linear integer curve of the supply, bought from
and sold back to this contract, with a reserve that always covers selling back every unit.

The curve: the k-th unit (k = 0, 1, ...) costs base_price + slope * k tokens. Buying n
units at supply s costs
    cost(s, n) = n * base_price + slope * (n * s + n * (n - 1) / 2)
(exact: n * (n - 1) is even), and selling n units back at supply s refunds cost(s - n, n),
the same prices in reverse. So the reserve is always exactly cost(0, supply) and covers
the sell-back of every unit, in any order. An optional fee in basis points (on top of a
buy, out of a sell's refund) goes to the beneficiary and never touches the reserve; it is
floor(value * fee_bp / 10000).

Payments in the platform token (vm/templates/token.py); buyers approve this contract first.
The units themselves are kept here (balances, `transfer`), like a small token.

Methods:
    init(token_address, base_price, slope, supply_max, fee_bp=0, beneficiary=b"")
    buy(amount, max_cost) -> cost paid       reverts if cost + fee > max_cost (slippage)
    sell(amount, min_refund) -> refund       reverts if refund - fee < min_refund
    transfer(to, amount)
    views: balance_of(who), supply_of(), reserve_of(), buy_quote(amount) -> [cost, fee],
           sell_quote(amount) -> [refund, fee], price_of_next(), config() -> dict

Events: Configured(token, base_price, slope, supply_max, fee_bp, beneficiary),
Bought(buyer, amount, cost, fee, supply), Sold(seller, amount, refund, fee, supply),
Transfer(sender, to, amount).

Errors (REVERT): "bad curve", "bad fee", "amount must be positive", "supply cap reached",
"slippage", "insufficient units".

Invariants: reserve_of() == cost(0, supply_of()) and equals this contract's token balance;
the sum of unit balances equals supply_of() <= supply_max; buying n then selling n at once
returns exactly what the curve took (fees aside). Same-shard tested only: cross-shard txs
do not exist yet.
"""

BASIS_POINTS = 10000
FEE_BP_MAX = 1000

token = Value()
curve = Value()  # {"base", "slope", "supply_max", "fee_bp", "beneficiary"}
supply = Value()
reserve = Value()
balances = Map()


@export
def init(token_address: bytes, base_price: int, slope: int, supply_max: int, fee_bp: int = 0,
         beneficiary: bytes = b""):
    require(base_price > 0 and slope >= 0 and supply_max > 0, "bad curve")
    require(fee_bp >= 0 and fee_bp <= FEE_BP_MAX, "bad fee")
    require(fee_bp == 0 or len(beneficiary) > 0, "bad fee")
    token.set(token_address)
    curve.set({"base": base_price, "slope": slope, "supply_max": supply_max, "fee_bp": fee_bp,
               "beneficiary": beneficiary})
    supply.set(0)
    reserve.set(0)
    emit("Configured", token=token_address, base_price=base_price, slope=slope,
         supply_max=supply_max, fee_bp=fee_bp, beneficiary=beneficiary)


def cost(terms: dict, start: int, amount: int) -> int:
    return amount * terms["base"] + terms["slope"] * (amount * start +
                                                      amount * (amount - 1) // 2)


def fee_of(terms: dict, value: int) -> int:
    return value * terms["fee_bp"] // BASIS_POINTS


@export
def buy(amount: int, max_cost: int) -> int:
    require(amount > 0, "amount must be positive")
    terms = curve.get()
    current = supply.get()
    require(current + amount <= terms["supply_max"], "supply cap reached")
    price = cost(terms, current, amount)
    fee = fee_of(terms, price)
    require(price + fee <= max_cost, "slippage")
    supply.set(current + amount)
    reserve.set(reserve.get() + price)
    balances[ctx.sender] = balances.get(ctx.sender, 0) + amount
    emit("Bought", buyer=ctx.sender, amount=amount, cost=price, fee=fee,
         supply=current + amount)
    currency = token.get()
    call(currency, "transfer_from", source=ctx.sender, to=ctx.address, amount=price)
    if fee > 0:
        call(currency, "transfer_from", source=ctx.sender, to=terms["beneficiary"], amount=fee)
    return price + fee


@export
def sell(amount: int, min_refund: int) -> int:
    require(amount > 0, "amount must be positive")
    have = balances.get(ctx.sender, 0)
    require(have >= amount, "insufficient units")
    terms = curve.get()
    current = supply.get()
    refund = cost(terms, current - amount, amount)
    fee = fee_of(terms, refund)
    require(refund - fee >= min_refund, "slippage")
    supply.set(current - amount)
    reserve.set(reserve.get() - refund)
    if have == amount:
        del balances[ctx.sender]
    else:
        balances[ctx.sender] = have - amount
    emit("Sold", seller=ctx.sender, amount=amount, refund=refund, fee=fee,
         supply=current - amount)
    currency = token.get()
    call(currency, "transfer", to=ctx.sender, amount=refund - fee)
    if fee > 0:
        call(currency, "transfer", to=terms["beneficiary"], amount=fee)
    return refund - fee


@export
def transfer(to: bytes, amount: int):
    require(amount > 0, "amount must be positive")
    have = balances.get(ctx.sender, 0)
    require(have >= amount, "insufficient units")
    balances[ctx.sender] = have - amount
    balances[to] = balances.get(to, 0) + amount
    emit("Transfer", sender=ctx.sender, to=to, amount=amount)


@view
def balance_of(who: bytes) -> int:
    return balances.get(who, 0)


@view
def supply_of() -> int:
    return supply.get()


@view
def reserve_of() -> int:
    return reserve.get()


@view
def buy_quote(amount: int) -> list:
    terms = curve.get()
    price = cost(terms, supply.get(), amount)
    return [price, fee_of(terms, price)]


@view
def sell_quote(amount: int) -> list:
    terms = curve.get()
    require(amount <= supply.get(), "insufficient units")
    refund = cost(terms, supply.get() - amount, amount)
    return [refund, fee_of(terms, refund)]


@view
def price_of_next() -> int:
    terms = curve.get()
    return terms["base"] + terms["slope"] * supply.get()


@view
def config() -> dict:
    return curve.get()
