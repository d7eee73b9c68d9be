"""Collectible (ERC-721-like) with royalties: the Agora side of bench/evm/erc721.vy."""

owners = Map()
counts = Map()
approvals = Map()
royalties = Map()
minter = Value()
BASIS_POINTS = 10000


@export
def init():
    minter.set(ctx.sender)


@export
def mint(to: bytes, token: int, royalty_bp: int):
    require(ctx.sender == minter.get(), "only the minter mints")
    require(token not in owners, "token exists")
    require(royalty_bp >= 0 and royalty_bp <= BASIS_POINTS, "bad royalty")
    owners[token] = to
    counts[to] = counts.get(to, 0) + 1
    royalties[token] = [ctx.sender, royalty_bp]
    emit("Transfer", sender=b"", to=to, token=token)


@export
def approve(spender: bytes, token: int):
    require(owners.get(token) == ctx.sender, "not the owner")
    approvals[token] = spender


@export
def transfer(to: bytes, token: int):
    owner = owners.get(token)
    require(owner is not None, "no such token")
    require(owner == ctx.sender or approvals.get(token) == ctx.sender, "not allowed")
    if token in approvals:
        approvals.delete(token)
    owners[token] = to
    counts[owner] = counts[owner] - 1
    counts[to] = counts.get(to, 0) + 1
    emit("Transfer", sender=owner, to=to, token=token)


@view
def owner_of(token: int) -> bytes:
    owner = owners.get(token)
    require(owner is not None, "no such token")
    return owner


@view
def balance_of(who: bytes) -> int:
    return counts.get(who, 0)


@view
def royalty_info(token: int, price: int) -> list:
    entry = royalties[token]
    return [entry[0], price * entry[1] // BASIS_POINTS]
