"""Licences: the rights holder of a work grants licences with a scope (uses), a territory
and an expiry; a licensee may sublicense within its own terms if its licence allows it;
revoking a licence revokes every sublicence below it; `verify` answers from chain state.

Terms are immutable: a licence record is written once by `grant`/`sublicense` and never
rewritten; revocation is a separate flag. A licence is valid at block time t iff neither
it nor any ancestor is revoked and all their expiries are after t; `verify` walks up the
chain (depth <= 4), so revoking a parent needs no loop over its descendants.

Territory "*" means worldwide. Scope is a list of uses ("stream", "print", ...).

Methods:
    register_work(work)                   the sender becomes the work's rights holder
    grant(licensee, work, scope, territory, expires, sublicensable) -> licence id
                                          the work's rights holder
    sublicense(parent, licensee, scope, territory, expires, sublicensable) -> licence id
                                          the parent's licensee; parent valid and
                                          sublicensable; scope, territory and expiry within
                                          the parent's
    revoke(licence)                       its licensor, or the work's rights holder
    views: verify(licensee, work, use, territory="") -> bool, is_valid(licence),
           licence_of(licence) -> terms dict, is_revoked(licence), holder_of(work),
           licences_of(licensee, work) -> ids

Events: WorkRegistered(work, holder), Granted(licence, work, licensor, licensee, scope,
territory, expires, sublicensable, parent), Revoked(licence, by).

Errors (REVERT): "work exists", "no such work", "only the rights holder",
"bad scope", "bad territory", "expiry in the past", "no such licence",
"parent not valid", "only the licensee", "not sublicensable", "scope exceeds parent",
"territory exceeds parent", "expiry exceeds parent", "too deep", "already revoked",
"not allowed", "too many licences".

Invariants: terms never change after the grant; a sublicence's scope, territory and
expiry lie within its parent's; a licence is valid only while its whole chain up to the
rights holder's grant is unrevoked and unexpired, so revoking a licence revokes every
sublicence below it; verify and is_valid read only chain state (block time included).
"""

ANY_TERRITORY = "*"
DEPTH_MAX = 4
ENTRIES_MAX = 16
HELD_MAX = 32

holders = Map()  # work -> rights holder
licences = Map()  # id -> terms (never rewritten)
revoked = Map()  # id -> True
held = Map()  # (licensee, work) -> [ids]
licence_count = Value()


@export
def register_work(work: bytes):
    require(len(work) > 0, "no such work")
    require(work not in holders, "work exists")
    holders[work] = ctx.sender
    emit("WorkRegistered", work=work, holder=ctx.sender)


def check_terms(scope: list, territory: list, expires: int):
    require(len(scope) >= 1 and len(scope) <= ENTRIES_MAX, "bad scope")
    require(len(territory) >= 1 and len(territory) <= ENTRIES_MAX, "bad territory")
    require(expires > ctx.time, "expiry in the past")


def record(work: bytes, licensee: bytes, scope: list, territory: list, expires: int,
           sublicensable: bool, parent: int, depth: int) -> int:
    number = licence_count.get(0) + 1
    licence_count.set(number)
    licences[number] = {"work": work, "licensor": ctx.sender, "licensee": licensee,
                        "scope": scope, "territory": territory, "expires": expires,
                        "sublicensable": sublicensable, "parent": parent, "depth": depth}
    ids = held.get((licensee, work), [])
    require(len(ids) < HELD_MAX, "too many licences")
    ids.append(number)
    held[(licensee, work)] = ids
    emit("Granted", licence=number, work=work, licensor=ctx.sender, licensee=licensee,
         scope=scope, territory=territory, expires=expires, sublicensable=sublicensable,
         parent=parent)
    return number


@export
def grant(licensee: bytes, work: bytes, scope: list, territory: list, expires: int,
          sublicensable: bool) -> int:
    holder = holders.get(work)
    require(holder is not None, "no such work")
    require(ctx.sender == holder, "only the rights holder")
    check_terms(scope, territory, expires)
    return record(work, licensee, scope, territory, expires, sublicensable, 0, 0)


def covers(outer: list, inner: list) -> bool:
    for entry in inner:
        if entry not in outer:
            return False
    return True


@export
def sublicense(parent: int, licensee: bytes, scope: list, territory: list, expires: int,
               sublicensable: bool) -> int:
    terms = licences.get(parent)
    require(terms is not None, "no such licence")
    require(is_valid(parent), "parent not valid")
    require(ctx.sender == terms["licensee"], "only the licensee")
    require(terms["sublicensable"], "not sublicensable")
    require(terms["depth"] + 1 <= DEPTH_MAX, "too deep")
    check_terms(scope, territory, expires)
    require(covers(terms["scope"], scope), "scope exceeds parent")
    if ANY_TERRITORY not in terms["territory"]:
        require(covers(terms["territory"], territory), "territory exceeds parent")
    require(expires <= terms["expires"], "expiry exceeds parent")
    return record(terms["work"], licensee, scope, territory, expires, sublicensable, parent,
                  terms["depth"] + 1)


@export
def revoke(licence: int):
    terms = licences.get(licence)
    require(terms is not None, "no such licence")
    require(licence not in revoked, "already revoked")
    allowed = ctx.sender == terms["licensor"] or ctx.sender == holders.get(terms["work"])
    require(allowed, "not allowed")
    revoked[licence] = True
    emit("Revoked", licence=licence, by=ctx.sender)


@view
def is_valid(licence: int) -> bool:
    current = licence
    steps = 0
    while current != 0 and steps <= DEPTH_MAX:
        terms = licences.get(current)
        if terms is None or current in revoked or terms["expires"] <= ctx.time:
            return False
        current = terms["parent"]
        steps += 1
    return current == 0


@view
def verify(licensee: bytes, work: bytes, use: str, territory: str = "") -> bool:
    for number in held.get((licensee, work), []):
        terms = licences[number]
        if use in terms["scope"] and is_valid(number):
            places = terms["territory"]
            if territory == "" or ANY_TERRITORY in places or territory in places:
                return True
    return False


@view
def licence_of(licence: int) -> dict:
    terms = licences.get(licence)
    require(terms is not None, "no such licence")
    return terms


@view
def is_revoked(licence: int) -> bool:
    return licence in revoked


@view
def holder_of(work: bytes) -> bytes:
    holder = holders.get(work)
    require(holder is not None, "no such work")
    return holder


@view
def licences_of(licensee: bytes, work: bytes) -> list:
    return held.get((licensee, work), [])
