"""Receipt-root attestations: a committee attests (chain, height) -> root, and a root
counts once `threshold` committee members attested the same value. The bridge
(vm/templates/bridge.py) reads `receipts_root(chain, height)` through this narrow
interface.

Why a committee and not a light client: the real proof of a remote block is its header and
commit certificate (2f+1 ed25519 signatures of that chain's validators). The VM has no
signature-verification builtin today, so a contract cannot check a certificate. Until one
exists (or the node relays certified roots as a native transaction, which the cross-shard
work plans), this contract stands in for the light client: its trust assumption is that
fewer than `threshold` committee members lie. Choose the committee as the remote chain's
validators (then the assumption is the same as the remote chain's own, if threshold is
2f+1 of them) and the bridge does not change when the verifier does.

Each member attests a (chain, height) once and cannot change its vote; with threshold >
half the members, two different roots can never both become final. Members that disagree
are visible: `conflicts_of` counts the distinct roots voted beyond the first.

Methods:
    init(members, threshold)             1..MEMBERS_MAX distinct members, 1 <= threshold
                                         <= members, threshold > members / 2
    attest(chain, height, root)          a member; root is 32 bytes; once per member
    views: receipts_root(chain, height) -> root or b"" (not final), votes_of(chain, height,
           root), conflicts_of(chain, height) (distinct roots voted
           beyond the first), members_of(), threshold_of()

Events: Configured(members, threshold), Attested(chain, height, root, member, votes),
Finalized(chain, height, root).

Errors (REVERT): "bad members", "bad threshold", "only a member", "bad root",
"already attested", "bad chain".

Invariants: a final root never changes; it has at least `threshold` distinct member votes.
"""

MEMBERS_MAX = 32
CHAIN_BYTES_MAX = 64

members = Value()
threshold = Value()
votes = Map()  # (chain, height, root) -> count
voted = Map()  # (chain, height, member) -> root
final = Map()  # (chain, height) -> root
distinct = Map()  # (chain, height) -> number of distinct roots voted for


@export
def init(member_list: list, threshold_count: int):
    require(len(member_list) >= 1 and len(member_list) <= MEMBERS_MAX, "bad members")
    for index, who in enumerate(member_list):
        require(len(who) == 32 and member_list.index(who) == index, "bad members")
    require(threshold_count * 2 > len(member_list) and threshold_count <= len(member_list),
            "bad threshold")
    members.set(member_list)
    threshold.set(threshold_count)
    emit("Configured", members=member_list, threshold=threshold_count)


@export
def attest(chain: str, height: int, root: bytes):
    require(ctx.sender in members.get(), "only a member")
    require(len(chain) > 0 and len(chain) <= CHAIN_BYTES_MAX, "bad chain")
    require(len(root) == 32, "bad root")
    require((chain, height, ctx.sender) not in voted, "already attested")
    voted[(chain, height, ctx.sender)] = root
    count = votes.get((chain, height, root), 0) + 1
    votes[(chain, height, root)] = count
    if count == 1:
        distinct[(chain, height)] = distinct.get((chain, height), 0) + 1
    emit("Attested", chain=chain, height=height, root=root, member=ctx.sender, votes=count)
    if count == threshold.get() and (chain, height) not in final:
        final[(chain, height)] = root
        emit("Finalized", chain=chain, height=height, root=root)


@view
def receipts_root(chain: str, height: int) -> bytes:
    return final.get((chain, height), b"")


@view
def votes_of(chain: str, height: int, root: bytes) -> int:
    return votes.get((chain, height, root), 0)


@view
def conflicts_of(chain: str, height: int) -> int:
    return max(0, distinct.get((chain, height), 0) - 1)


@view
def members_of() -> list:
    return members.get()


@view
def threshold_of() -> int:
    return threshold.get()
