"""Fungible token (ERC-20-like): the platform currency, with allowances, issuer minting
and an optional KYC/AML registry hook.

Methods:
    init(token_name, amount, kyc_registry=b"")  deployer is the issuer and holds `amount`
    transfer(to, amount) -> True                 from the sender
    approve(spender, amount) -> True             sets (not adds to) an allowance
    transfer_from(source, to, amount) -> True    spends the sender's allowance from source
    mint(to, amount)                             issuer only; raises the supply
    set_registry(kyc_registry)                   issuer only; b"" switches the hook off
    set_issuer(new_issuer)                       issuer only
    views: balance_of(who), allowance(owner, spender), total_supply(), name_of(),
           issuer_of(), registry_of()

Events: Transfer(sender, to, amount) (sender b"" for a mint), Approval(owner, spender,
amount), RegistrySet(registry), IssuerSet(issuer).

Errors (all REVERT): "amount must be positive", "insufficient balance",
"allowance exceeded", "negative allowance", "negative supply", "only the issuer",
"sender is frozen or revoked".

Invariants: the sum of all balances equals total_supply(); only mint changes the supply;
a failed call changes nothing. With a registry configured (vm/templates/kyc.py), an
account the registry reports as blocked (frozen or revoked) cannot send, neither by
transfer nor through an allowance; unknown accounts and contracts are not blocked.
"""

balances = Map()
allowances = Map()
supply = Value()
name = Value()
issuer = Value()
registry = Value()


@export
def init(token_name: str, amount: int, kyc_registry: bytes = b""):
    require(amount >= 0, "negative supply")
    name.set(token_name)
    supply.set(amount)
    issuer.set(ctx.sender)
    if len(kyc_registry) > 0:
        registry.set(kyc_registry)
    balances[ctx.sender] = amount
    emit("Transfer", sender=b"", to=ctx.sender, amount=amount)


def check_not_blocked(who: bytes):
    kyc = registry.get()
    if kyc is not None:
        require(not call(kyc, "is_blocked", who=who), "sender is frozen or revoked")


def move(source: bytes, to: bytes, amount: int):
    require(amount > 0, "amount must be positive")
    have = balances.get(source, 0)
    require(have >= amount, "insufficient balance")
    check_not_blocked(source)
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


def only_issuer():
    require(ctx.sender == issuer.get(), "only the issuer")


@export
def mint(to: bytes, amount: int):
    only_issuer()
    require(amount > 0, "amount must be positive")
    supply.set(supply.get(0) + amount)
    balances[to] = balances.get(to, 0) + amount
    emit("Transfer", sender=b"", to=to, amount=amount)


@export
def set_registry(kyc_registry: bytes):
    only_issuer()
    if len(kyc_registry) > 0:
        registry.set(kyc_registry)
    elif registry.get() is not None:
        registry.set(None)
    emit("RegistrySet", registry=kyc_registry)


@export
def set_issuer(new_issuer: bytes):
    only_issuer()
    issuer.set(new_issuer)
    emit("IssuerSet", issuer=new_issuer)


@view
def balance_of(who: bytes) -> int:
    return balances.get(who, 0)


@view
def allowance(owner: bytes, spender: bytes) -> int:
    return allowances.get((owner, spender), 0)


@view
def total_supply() -> int:
    return supply.get(0)


@view
def name_of() -> str:
    return name.get("")


@view
def issuer_of() -> bytes:
    return issuer.get()


@view
def registry_of() -> bytes:
    return registry.get(b"")
