"""Game items (ERC-1155-like): fungible balances per item kind, batch transfers, operator
approvals and a lock that holds items while they move from one game to another.

Methods:
    init()                                         the deployer is the admin and minter
    mint(to, kind, amount)                         admin only
    set_uri(kind, uri)                             admin only
    add_game(game), remove_game(game)              admin only; games finish moves
    set_approval_for_all(operator, approved)
    transfer_from(source, to, kind, amount)        source or its operator
    batch_transfer_from(source, to, kinds, amounts)   same; lengths equal, 1..64 entries
    lock(source, kind, amount, game) -> move id    source or its operator; game registered
    unlock(move)                                   the move's game or the admin; once
    views: balance_of(who, kind), balance_of_batch(whos, kinds), locked_of(who, kind),
           available_of(who, kind), supply_of(kind), uri_of(kind), move_of(move),
           is_approved_for_all(owner, operator), is_game(game)

Events: AdminSet(admin), TransferSingle(operator, sender, to, kind, amount) (sender b"" for a mint),
TransferBatch(operator, sender, to, kinds, amounts), ApprovalForAll(owner, operator,
approved), URI(kind, uri), GameAdded(game), GameRemoved(game),
Locked(move, owner, kind, amount, game), Unlocked(move, owner, kind, amount, game).

Errors (REVERT): "only the admin", "not allowed", "amount must be positive",
"insufficient unlocked balance", "batch lengths differ", "batch size out of range",
"unknown game", "no such move", "move already unlocked", "not the move's game".

Invariants: for each kind, the sum of balances equals the minted supply; a balance never
goes below its locked part (no overdraft); locked items cannot be transferred; a move is
unlocked at most once; a batch either moves everything or nothing.
"""

BATCH_ENTRIES_MAX = 64

admin = Value()
balances = Map()  # (who, kind) -> amount, locked part included
locked = Map()  # (who, kind) -> amount held by open moves
supplies = Map()  # kind -> minted amount
uris = Map()
operators = Map()  # (owner, operator) -> True
games = Map()
moves = Map()  # move id -> [owner, kind, amount, game, open]
move_count = Value()


@export
def init():
    admin.set(ctx.sender)
    emit("AdminSet", admin=ctx.sender)


def only_admin():
    require(ctx.sender == admin.get(), "only the admin")


def check_operator(source: bytes):
    require(ctx.sender == source or (source, ctx.sender) in operators, "not allowed")


@export
def mint(to: bytes, kind: int, amount: int):
    only_admin()
    require(amount > 0, "amount must be positive")
    balances[(to, kind)] = balances.get((to, kind), 0) + amount
    supplies[kind] = supplies.get(kind, 0) + amount
    emit("TransferSingle", operator=ctx.sender, sender=b"", to=to, kind=kind, amount=amount)


@export
def set_uri(kind: int, uri: str):
    only_admin()
    uris[kind] = uri
    emit("URI", kind=kind, uri=uri)


@export
def add_game(game: bytes):
    only_admin()
    games[game] = True
    emit("GameAdded", game=game)


@export
def remove_game(game: bytes):
    only_admin()
    require(game in games, "unknown game")
    del games[game]
    emit("GameRemoved", game=game)


@export
def set_approval_for_all(operator: bytes, approved: bool):
    key = (ctx.sender, operator)
    if approved:
        operators[key] = True
    elif key in operators:
        del operators[key]
    emit("ApprovalForAll", owner=ctx.sender, operator=operator, approved=approved)


def move_items(source: bytes, to: bytes, kind: int, amount: int):
    require(amount > 0, "amount must be positive")
    have = balances.get((source, kind), 0)
    require(have - locked.get((source, kind), 0) >= amount, "insufficient unlocked balance")
    balances[(source, kind)] = have - amount
    balances[(to, kind)] = balances.get((to, kind), 0) + amount


@export
def transfer_from(source: bytes, to: bytes, kind: int, amount: int):
    check_operator(source)
    move_items(source, to, kind, amount)
    emit("TransferSingle", operator=ctx.sender, sender=source, to=to, kind=kind,
         amount=amount)


@export
def batch_transfer_from(source: bytes, to: bytes, kinds: list, amounts: list):
    check_operator(source)
    require(len(kinds) == len(amounts), "batch lengths differ")
    require(len(kinds) >= 1 and len(kinds) <= BATCH_ENTRIES_MAX, "batch size out of range")
    for kind, amount in zip(kinds, amounts):
        move_items(source, to, kind, amount)
    emit("TransferBatch", operator=ctx.sender, sender=source, to=to, kinds=kinds,
         amounts=amounts)


@export
def lock(source: bytes, kind: int, amount: int, game: bytes) -> int:
    check_operator(source)
    require(game in games, "unknown game")
    require(amount > 0, "amount must be positive")
    held = locked.get((source, kind), 0)
    require(balances.get((source, kind), 0) - held >= amount, "insufficient unlocked balance")
    locked[(source, kind)] = held + amount
    move = move_count.get(0) + 1
    move_count.set(move)
    moves[move] = [source, kind, amount, game, True]
    emit("Locked", move=move, owner=source, kind=kind, amount=amount, game=game)
    return move


@export
def unlock(move: int):
    entry = moves.get(move)
    require(entry is not None, "no such move")
    require(entry[4], "move already unlocked")
    require(ctx.sender == entry[3] or ctx.sender == admin.get(), "not the move's game")
    owner = entry[0]
    kind = entry[1]
    left = locked[(owner, kind)] - entry[2]
    if left == 0:
        del locked[(owner, kind)]
    else:
        locked[(owner, kind)] = left
    entry[4] = False
    moves[move] = entry
    emit("Unlocked", move=move, owner=owner, kind=kind, amount=entry[2], game=entry[3])


@view
def balance_of(who: bytes, kind: int) -> int:
    return balances.get((who, kind), 0)


@view
def balance_of_batch(whos: list, kinds: list) -> list:
    require(len(whos) == len(kinds), "batch lengths differ")
    require(len(whos) <= BATCH_ENTRIES_MAX, "batch size out of range")
    return [balances.get((who, kind), 0) for who, kind in zip(whos, kinds)]


@view
def locked_of(who: bytes, kind: int) -> int:
    return locked.get((who, kind), 0)


@view
def available_of(who: bytes, kind: int) -> int:
    return balances.get((who, kind), 0) - locked.get((who, kind), 0)


@view
def supply_of(kind: int) -> int:
    return supplies.get(kind, 0)


@view
def uri_of(kind: int) -> str:
    return uris.get(kind, "")


@view
def move_of(move: int) -> list:
    entry = moves.get(move)
    require(entry is not None, "no such move")
    return entry


@view
def is_approved_for_all(owner: bytes, operator: bytes) -> bool:
    return (owner, operator) in operators


@view
def is_game(game: bytes) -> bool:
    return game in games
