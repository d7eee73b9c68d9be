"""Fungible token (ERC-20-like) with allowances: the Agora side of bench/evm/erc20.vy."""

balances = Map()
allowances = Map()
supply = Value()
name = Value()


@export
def init(token_name: str, amount: int):
    require(amount >= 0, "negative supply")
    name.set(token_name)
    supply.set(amount)
    balances[ctx.sender] = amount
    emit("Transfer", sender=b"", to=ctx.sender, amount=amount)


def move(source: bytes, to: bytes, amount: int):
    require(amount > 0, "amount must be positive")
    have = balances.get(source, 0)
    require(have >= amount, "insufficient balance")
    balances[source] = have - amount
    balances[to] = balances.get(to, 0) + amount
    emit("Transfer", sender=source, to=to, amount=amount)


@export
def transfer(to: bytes, amount: int) -> bool:
    move(ctx.sender, to, amount)
    return True


@export
def approve(spender: bytes, amount: int) -> bool:
    require(amount >= 0, "negative allowance")
    allowances[(ctx.sender, spender)] = amount
    emit("Approval", owner=ctx.sender, spender=spender, amount=amount)
    return True


@export
def transfer_from(source: bytes, to: bytes, amount: int) -> bool:
    allowed = allowances.get((source, ctx.sender), 0)
    require(allowed >= amount, "allowance exceeded")
    allowances[(source, ctx.sender)] = allowed - amount
    move(source, to, amount)
    return True


@view
def balance_of(who: bytes) -> int:
    return balances.get(who, 0)


@view
def allowance(owner: bytes, spender: bytes) -> int:
    return allowances.get((owner, spender), 0)


@view
def total_supply() -> int:
    return supply.get(0)
