"""Collectible (ERC-721-like): one owner per item, approvals, operator approvals, metadata
URI and content hash, per-item royalties (ERC-2981-like) and a time-bounded user right
(ERC-4907-like) for rentals.

Methods:
    init()                                     the deployer is the minter
    mint(to, token, royalty_bp, uri="", content_hash=b"", royalty_receiver=b"")
        minter only; royalty_bp in 0..10000; the royalty receiver defaults to the minter
    approve(spender, token)                    owner or operator; b"" clears
    set_approval_for_all(operator, approved)   for the sender's items
    transfer(to, token)                        owner, approved account or operator
    transfer_from(source, to, token)           same, and source must be the owner
    set_user(token, user, expires)             owner, approved or operator; expires > now;
                                               refused while another rental is running
    end_user(token)                            the current user gives the right back early
    set_minter(new_minter)                     minter only
    views: owner_of(token), balance_of(who), get_approved(token),
           is_approved_for_all(owner, operator), token_uri(token), content_hash_of(token),
           royalty_info(token, price) -> [receiver, amount], user_of(token) -> bytes (b""
           once expired), user_expires(token), exists(token)

Events: Transfer(sender, to, token) (sender b"" for a mint), Approval(owner, spender,
token), ApprovalForAll(owner, operator, approved), UpdateUser(token, user, expires),
MinterSet(minter).

Errors (REVERT): "only the minter mints", "token exists", "bad royalty", "no such token",
"not allowed", "not the owner", "expiry in the past", "token is rented",
"not the user", "only the minter", "no user".

Invariants: one owner per item, balance_of(x) counts x's items; a transfer clears the
item's approval and its user; royalty amount = price * bp // 10000 <= price; the user
right ends at `expires` (block time) without any transaction; rentals never overlap.
"""

owners = Map()
counts = Map()
approvals = Map()
royalties = Map()
operators = Map()  # (owner, operator) -> True
uris = Map()
hashes = Map()
users = Map()  # token -> [user, expires]
minter = Value()
BASIS_POINTS = 10000


@export
def init():
    minter.set(ctx.sender)
    emit("MinterSet", minter=ctx.sender)


@export
def mint(to: bytes, token: int, royalty_bp: int, uri: str = "", content_hash: bytes = b"",
         royalty_receiver: bytes = b""):
    require(ctx.sender == minter.get(), "only the minter mints")
    require(token not in owners, "token exists")
    require(royalty_bp >= 0 and royalty_bp <= BASIS_POINTS, "bad royalty")
    owners[token] = to
    counts[to] = counts.get(to, 0) + 1
    receiver = royalty_receiver
    if len(receiver) == 0:
        receiver = ctx.sender
    royalties[token] = [receiver, royalty_bp]
    if len(uri) > 0:
        uris[token] = uri
    if len(content_hash) > 0:
        hashes[token] = content_hash
    emit("Transfer", sender=b"", to=to, token=token)


def is_operator(owner: bytes, who: bytes) -> bool:
    return (owner, who) in operators


def may_move(owner: bytes, who: bytes, token: int) -> bool:
    if who == owner or is_operator(owner, who):
        return True
    return approvals.get(token) == who


@export
def approve(spender: bytes, token: int):
    owner = owners.get(token)
    require(owner is not None, "no such token")
    require(owner == ctx.sender or is_operator(owner, ctx.sender), "not the owner")
    if len(spender) == 0:
        if token in approvals:
            del approvals[token]
    else:
        approvals[token] = spender
    emit("Approval", owner=owner, spender=spender, token=token)


@export
def set_approval_for_all(operator: bytes, approved: bool):
    key = (ctx.sender, operator)
    if approved:
        operators[key] = True
    elif key in operators:
        del operators[key]
    emit("ApprovalForAll", owner=ctx.sender, operator=operator, approved=approved)


def move(owner: bytes, to: bytes, token: int):
    if token in approvals:
        del approvals[token]
    if token in users:
        del users[token]
        emit("UpdateUser", token=token, user=b"", expires=0)
    owners[token] = to
    counts[owner] = counts[owner] - 1
    counts[to] = counts.get(to, 0) + 1
    emit("Transfer", sender=owner, to=to, token=token)


@export
def transfer(to: bytes, token: int):
    owner = owners.get(token)
    require(owner is not None, "no such token")
    require(may_move(owner, ctx.sender, token), "not allowed")
    move(owner, to, token)


@export
def transfer_from(source: bytes, to: bytes, token: int):
    owner = owners.get(token)
    require(owner is not None, "no such token")
    require(owner == source, "not the owner")
    require(may_move(owner, ctx.sender, token), "not allowed")
    move(owner, to, token)


@export
def set_user(token: int, user: bytes, expires: int):
    owner = owners.get(token)
    require(owner is not None, "no such token")
    require(may_move(owner, ctx.sender, token), "not allowed")
    require(len(user) > 0, "no user")
    require(expires > ctx.time, "expiry in the past")
    require(len(user_of(token)) == 0, "token is rented")
    users[token] = [user, expires]
    emit("UpdateUser", token=token, user=user, expires=expires)


@export
def end_user(token: int):
    current = user_of(token)
    require(len(current) > 0 and current == ctx.sender, "not the user")
    del users[token]
    emit("UpdateUser", token=token, user=b"", expires=0)


@export
def set_minter(new_minter: bytes):
    require(ctx.sender == minter.get(), "only the minter")
    minter.set(new_minter)
    emit("MinterSet", minter=new_minter)


@view
def owner_of(token: int) -> bytes:
    owner = owners.get(token)
    require(owner is not None, "no such token")
    return owner


@view
def exists(token: int) -> bool:
    return token in owners


@view
def balance_of(who: bytes) -> int:
    return counts.get(who, 0)


@view
def get_approved(token: int) -> bytes:
    return approvals.get(token, b"")


@view
def is_approved_for_all(owner: bytes, operator: bytes) -> bool:
    return is_operator(owner, operator)


@view
def token_uri(token: int) -> str:
    require(token in owners, "no such token")
    return uris.get(token, "")


@view
def content_hash_of(token: int) -> bytes:
    require(token in owners, "no such token")
    return hashes.get(token, b"")


@view
def royalty_info(token: int, price: int) -> list:
    entry = royalties.get(token)
    require(entry is not None, "no such token")
    return [entry[0], price * entry[1] // BASIS_POINTS]


@view
def user_of(token: int) -> bytes:
    entry = users.get(token)
    if entry is None or entry[1] <= ctx.time:
        return b""
    return entry[0]


@view
def user_expires(token: int) -> int:
    entry = users.get(token)
    if entry is None or entry[1] <= ctx.time:
        return 0
    return entry[1]
