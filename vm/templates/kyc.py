"""KYC/AML registry: verifiers register, freeze, unfreeze and revoke identities; other
contracts (token, marketplace, auctions) consult it through views.

Statuses: 0 NONE (never registered), 1 ACTIVE, 2 FROZEN, 3 REVOKED (final).

Methods:
    init()                                   the deployer is the admin
    add_verifier(verifier), remove_verifier(verifier)      admin only
    set_admin(new_admin)                                   admin only
    register(who, level, expires_time=0)     verifier; NONE -> ACTIVE (0: never expires)
    renew(who, expires_time)                 verifier; ACTIVE or FROZEN; new expiry
    freeze(who)                              verifier; ACTIVE -> FROZEN
    unfreeze(who)                            verifier; FROZEN -> ACTIVE
    revoke(who)                              verifier; ACTIVE or FROZEN -> REVOKED
    views: status_of(who) -> int, identity_of(who) -> [status, level, verifier, expires],
           is_verified(who) -> bool (ACTIVE and not expired at block time),
           is_blocked(who) -> bool (FROZEN or REVOKED), is_verifier(who) -> bool

Events: VerifierAdded(verifier), VerifierRemoved(verifier), AdminSet(admin),
Registered(who, level, verifier, expires), Renewed(who, verifier, expires), Frozen(who, verifier),
Unfrozen(who, verifier), Revoked(who, verifier).

Errors (REVERT): "only the admin", "only a verifier", "already registered",
"not active", "not frozen", "not registered or already revoked", "bad level",
"expiry in the past".

Invariants: a revoked identity never becomes active again; only verifiers change
identities and only the admin changes verifiers; the token's "frozen accounts cannot send"
rule reads is_blocked, the marketplace's allow-list reads is_verified.
"""

NONE = 0
ACTIVE = 1
FROZEN = 2
REVOKED = 3

admin = Value()
verifiers = Map()
identities = Map()  # who -> [status, level, verifier, expires_time]


@export
def init():
    admin.set(ctx.sender)
    emit("AdminSet", admin=ctx.sender)


def only_admin():
    require(ctx.sender == admin.get(), "only the admin")


def only_verifier():
    require(ctx.sender in verifiers, "only a verifier")


@export
def add_verifier(verifier: bytes):
    only_admin()
    verifiers[verifier] = True
    emit("VerifierAdded", verifier=verifier)


@export
def remove_verifier(verifier: bytes):
    only_admin()
    require(verifier in verifiers, "only a verifier")
    del verifiers[verifier]
    emit("VerifierRemoved", verifier=verifier)


@export
def set_admin(new_admin: bytes):
    only_admin()
    admin.set(new_admin)
    emit("AdminSet", admin=new_admin)


@export
def register(who: bytes, level: int, expires_time: int = 0):
    only_verifier()
    require(who not in identities, "already registered")
    require(level >= 1 and level <= 255, "bad level")
    require(expires_time == 0 or expires_time > ctx.time, "expiry in the past")
    identities[who] = [ACTIVE, level, ctx.sender, expires_time]
    emit("Registered", who=who, level=level, verifier=ctx.sender, expires=expires_time)


@export
def renew(who: bytes, expires_time: int):
    only_verifier()
    status = status_of(who)
    require(status == ACTIVE or status == FROZEN, "not registered or already revoked")
    require(expires_time == 0 or expires_time > ctx.time, "expiry in the past")
    entry = identities[who]
    entry[3] = expires_time
    identities[who] = entry
    emit("Renewed", who=who, verifier=ctx.sender, expires=expires_time)


def set_status(who: bytes, status: int):
    entry = identities[who]
    entry[0] = status
    identities[who] = entry


@export
def freeze(who: bytes):
    only_verifier()
    require(status_of(who) == ACTIVE, "not active")
    set_status(who, FROZEN)
    emit("Frozen", who=who, verifier=ctx.sender)


@export
def unfreeze(who: bytes):
    only_verifier()
    require(status_of(who) == FROZEN, "not frozen")
    set_status(who, ACTIVE)
    emit("Unfrozen", who=who, verifier=ctx.sender)


@export
def revoke(who: bytes):
    only_verifier()
    status = status_of(who)
    require(status == ACTIVE or status == FROZEN, "not registered or already revoked")
    set_status(who, REVOKED)
    emit("Revoked", who=who, verifier=ctx.sender)


@view
def status_of(who: bytes) -> int:
    entry = identities.get(who)
    if entry is None:
        return NONE
    return entry[0]


@view
def identity_of(who: bytes) -> list:
    return identities.get(who, [NONE, 0, b"", 0])


@view
def is_verified(who: bytes) -> bool:
    entry = identities.get(who)
    if entry is None or entry[0] != ACTIVE:
        return False
    return entry[3] == 0 or entry[3] > ctx.time


@view
def is_blocked(who: bytes) -> bool:
    status = status_of(who)
    return status == FROZEN or status == REVOKED


@view
def is_verifier(who: bytes) -> bool:
    return who in verifiers
