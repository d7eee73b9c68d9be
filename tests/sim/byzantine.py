"""Byzantine replicas for the simulator.

An :class:`Adversary` controls one validator node (all its shards). Each of its replicas is
an honest :class:`consensus.replica.Replica` whose outputs the adversary mutates, duplicates
or withholds (``transform``), and next to which it synthesizes messages of its own, signed
with its own key or with garbage (``on_tick``). It may also lie when it answers sync
requests (``tamper_sync``). Everything it does draws from the simulator's one
``random.Random``, so a seed replays the same attack.

The adversary may sign anything with its own key: that is what a Byzantine validator can
do. It cannot sign for others; messages claiming another sender carry a bad signature,
unless they are replays of genuine messages it saw.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

from consensus import codec
from consensus.events import Send
from consensus.types import (
    Block,
    Checkpoint,
    Commit,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    Message,
    NewView,
    BlockResponse,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Signer,
    SyncRequest,
    SyncResponse,
    Transaction,
    ViewChange,
    encode_message,
    sign_message,
    tx_root,
)

if TYPE_CHECKING:
    from tests.sim.simulator import Host, Simulator

# What the adversary sends: a recipient (None = every other node) and a message or raw bytes.
Item = tuple[int | None, Message | bytes]

seen_messages_max = 64
huge_values = (2**31, 2**53 + 1, 2**62, 2**63 - 1, 2**64 - 1)


class Adversary:
    """The Byzantine controller of one node; see the module docstring."""

    def __init__(self, sim: Simulator, node: int, behaviours: tuple[str, ...],
                 signer: Signer) -> None:
        self.sim = sim
        self.node = node
        self.behaviours = behaviours
        self.signer = signer
        self.rng: random.Random = sim.rng
        self.seen: list[Message] = []  # reservoir of genuine messages received
        self.seen_view_changes: dict[tuple[int, int, int], ViewChange] = {}  # (shard, view, sender)
        self.actions = 0
        # Equivocation: per (shard, view) the backups shown the other chain, and the other
        # chain's block hash for each block hash of the real one.
        self.forks: dict[tuple[int, int], tuple[list[int], dict[bytes, bytes]]] = {}

    # -- helpers -------------------------------------------------------------------------

    def has(self, behaviour: str) -> bool:
        return behaviour in self.behaviours

    def sign(self, message: Message) -> Message:
        return sign_message(message, self.signer)

    def others(self) -> list[int]:
        return [node for node in range(self.sim.scenario.validators) if node != self.node]

    def other_id(self) -> int:
        return self.rng.choice(self.others())

    def random_digest(self) -> bytes:
        return self.rng.randbytes(32)

    def log(self, host: Host, what: str) -> None:
        self.actions += 1
        self.sim.log(f"byz {self.node}/{host.shard}: {what}")

    # -- incoming ------------------------------------------------------------------------

    def observe(self, host: Host, message: Message) -> None:
        """Remember genuine messages received, for replays and stale certificates."""
        if len(self.seen) < seen_messages_max:
            self.seen.append(message)
        else:
            self.seen[self.rng.randrange(seen_messages_max)] = message
        if isinstance(message, ViewChange):
            key = (message.shard, message.view, message.sender)
            self.seen_view_changes[key] = message
            if len(self.seen_view_changes) > 4 * seen_messages_max:
                del self.seen_view_changes[next(iter(self.seen_view_changes))]

    # -- outgoing ------------------------------------------------------------------------

    def transform(self, host: Host, send: Send) -> list[Item]:
        """What goes out instead of one honest Send of the wrapped replica."""
        if self.has("mute"):
            return []
        message = send.message
        own = message.sender == self.node
        if self.has("silent") and own and isinstance(message, (PrePrepare, NewView)):
            self.log(host, f"withholds {type(message).__name__} v{message.view}")
            return []
        items: list[Item] = [(send.to, message)]
        if own and isinstance(message, NewView) and self.has("equivocate") and \
                self.sim.scenario.fork_equivocation and send.to is None:
            # A NEW-VIEW for only some of the backups: the others must time out or catch up.
            chosen = self.rng.sample(self.others(), self.rng.randint(1, len(self.others())))
            items = [(recipient, message) for recipient in sorted(chosen)]
            self.log(host, f"sends NEW-VIEW v{message.view} only to {sorted(chosen)}")
        if own and isinstance(message, BlockResponse) and self.has("invalid_proposal") \
                and self.rng.random() < 0.7:
            # A body that is not the one asked for: the receiver checks it by its hash.
            header = message.block.header
            wrong = Block(replace(header, timestamp_ms=header.timestamp_ms + 1),
                          message.block.txs)
            items = [(send.to, self.sign(replace(message, block=wrong)))]
            self.log(host, f"answers BLOCK-REQUEST h{message.height} with a wrong body")
        if own and isinstance(message, PrePrepare):
            if self.has("invalid_proposal") and self.rng.random() < 0.7:
                items = self.invalid_proposal(host, send.to, message)
            elif self.has("equivocate") and self.sim.scenario.fork_equivocation:
                items = self.fork_proposal(host, send.to, message)
            elif self.has("equivocate"):
                items = self.equivocate_proposal(host, send.to, message)
        elif own and isinstance(message, (Prepare, Commit)) and self.has("equivocate"):
            # Collude with equivocating primaries: vote for every block proposed at this
            # (shard, view, height), so honest replicas see a "quorum" for each side.
            key = (message.shard, message.view, message.height)
            for digest in self.sim.equivocated.get(key, ()):
                if digest != message.digest:
                    items.append((None, self.sign(replace(message, digest=digest))))
                    self.log(host, f"votes for both sides: {type(message).__name__} "
                                   f"h{message.height}")
            if self.rng.random() < 0.2:
                other = self.sign(replace(message, digest=self.random_digest()))
                half = self.rng.sample(self.others(), max(1, len(self.others()) // 2))
                items += [(to, other) for to in half]
                self.log(host, f"double votes {type(message).__name__} h{message.height}")
        if self.has("forge") and self.rng.random() < 0.3:
            items.append((send.to, self.forged_copy(message)))
            self.log(host, f"forges a copy of {type(message).__name__}")
        return items

    def equivocate_proposal(self, host: Host, to: int | None,
                            message: PrePrepare) -> list[Item]:
        """Different blocks (another timestamp, maybe fewer txs) to a random half of the
        backups, chosen anew for every PRE-PREPARE."""
        header = message.block.header
        alternative = Block(replace(header, timestamp_ms=header.timestamp_ms + 1
                                    + self.rng.randrange(100)), message.block.txs)
        if self.rng.random() < 0.5 and message.block.txs:
            txs = message.block.txs[:-1]
            alternative = Block(replace(header, tx_root=tx_root(txs)), txs)
        other = self.sign(replace(message, block=alternative, digest=alternative.hash()))
        sides = self.sim.equivocated.setdefault(
            (message.shard, message.view, message.height), [])
        sides += [digest for digest in (message.digest, other.digest) if digest not in sides]
        recipients = self.others() if to is None else [to]
        items: list[Item] = []
        for recipient in recipients:
            items.append((recipient, message if self.rng.random() < 0.5 else other))
        self.log(host, f"equivocates PRE-PREPARE v{message.view} h{message.height}")
        return items

    def fork_proposal(self, host: Host, to: int | None,
                            message: PrePrepare) -> list[Item]:
        """Fork the chain: a fixed part of the backups (per shard and view) sees blocks
        that differ from what the others see and chain onto each other, so each side
        can link and prepare; colluding Byzantine backups vote for both sides."""
        rng = self.rng
        group_b, alternative_of = self.forks.setdefault(
            (message.shard, message.view),
            (sorted(rng.sample(self.others(), max(1, len(self.others()) // 2))), {}))
        header = message.block.header
        txs = message.block.txs
        if txs and rng.random() < 0.5:
            txs = txs[:-1]
        alternative = Block(replace(
            header, prev_hash=alternative_of.get(header.prev_hash, header.prev_hash),
            timestamp_ms=header.timestamp_ms + 1 + rng.randrange(100), tx_root=tx_root(txs)),
            txs)
        alternative_of[message.digest] = alternative.hash()
        other = self.sign(replace(message, block=alternative, digest=alternative.hash()))
        sides = self.sim.equivocated.setdefault(
            (message.shard, message.view, message.height), [])
        sides += [digest for digest in (message.digest, other.digest) if digest not in sides]
        recipients = self.others() if to is None else [to]
        self.log(host, f"equivocates PRE-PREPARE v{message.view} h{message.height}: "
                       f"{group_b} see another chain")
        return [(recipient, other if recipient in group_b else message)
                for recipient in recipients]

    def invalid_proposal(self, host: Host, to: int | None, message: PrePrepare) -> list[Item]:
        kind = self.rng.choice((
            "tx_root", "prev_hash", "height", "height_both", "state_root", "receipts_root",
            "app_height", "timestamp_past", "bad_tx", "digest", "view", "proposer", "chain"))
        header = message.block.header
        txs = message.block.txs
        height = message.height
        match kind:
            case "tx_root":
                header = replace(header, tx_root=self.random_digest())
            case "prev_hash":
                header = replace(header, prev_hash=self.random_digest())
            case "height":
                header = replace(header, height=header.height + 1)
            case "height_both":
                height = header.height + self.rng.choice((1, 2, 5))
                header = replace(header, height=height)
            case "state_root":
                header = replace(header, state_root=self.random_digest())
            case "receipts_root":
                header = replace(header, receipts_root=self.random_digest())
            case "app_height":
                header = replace(header, app_height=header.app_height + 1)
            case "timestamp_past":
                header = replace(header, timestamp_ms=max(0, header.timestamp_ms - 10**6))
            case "bad_tx":
                bad = Transaction(self.sim.chain_id, self.rng.randbytes(32), 7, 100, 1000, b"",
                                  "transfer", codec.pack([1]), self.rng.randbytes(64))
                txs = (*txs, bad)
                header = replace(header, tx_root=tx_root(txs))
            case "view":
                header = replace(header, view=header.view + 1)
            case "proposer":
                header = replace(header, proposer=self.other_id())
            case "chain":
                header = replace(header, chain_id="another-chain")
        block = Block(header, txs)
        digest = self.random_digest() if kind == "digest" else block.hash()
        bad_message = self.sign(replace(message, height=height, block=block, digest=digest))
        self.log(host, f"invalid proposal ({kind}) v{message.view} h{message.height}")
        if self.rng.random() < 0.6:
            return [(to, bad_message)]
        recipients = self.others() if to is None else [to]
        return [(r, bad_message if self.rng.random() < 0.5 else message) for r in recipients]

    def forged_copy(self, message: Message) -> Message:
        variant = self.rng.randrange(3)
        if variant == 0:  # claims another sender, keeps our signature
            return replace(message, sender=self.other_id())
        if variant == 1:  # garbage signature
            return replace(message, signature=self.rng.randbytes(64))
        # another sender, changed content, signed with our key
        forged = replace(message, sender=self.other_id())
        if isinstance(forged, (Prepare, Commit, PrePrepare)):
            forged = replace(forged, digest=self.random_digest())
        return sign_message(forged, self.signer)

    # -- synthesized ---------------------------------------------------------------------

    def on_tick(self, host: Host) -> list[Item]:
        """Messages of its own the adversary sends this tick (usually none)."""
        replica = host.replica
        if replica is None or self.has("mute") and len(self.behaviours) == 1:
            return []
        rng = self.rng
        items: list[Item] = []
        if self.has("replay") and self.seen and rng.random() < 0.1:
            for _ in range(rng.randint(1, 3)):
                old = rng.choice(self.seen)
                if old.shard == host.shard:
                    items.append((rng.choice((None, *self.others())), old))
            self.log(host, f"replays {len(items)} old messages")
        if self.has("flood") and rng.random() < 0.08:
            items += self.flood(host)
        if self.has("huge_numbers") and rng.random() < 0.04:
            items.append((None, self.huge(host)))
        if self.has("garbage") and rng.random() < 0.05:
            items += self.garbage(host)
        if self.has("forge") and rng.random() < 0.05:
            kind = rng.choice((Prepare, Commit))
            forged = kind(self.sim.chain_id, host.shard, replica.view, replica.last_delivered + 1,
                          self.other_id(), self.random_digest(), rng.randbytes(64))
            items.append((None, forged))
            self.log(host, f"forges a {kind.__name__} from another sender")
        if self.has("bad_view_change") and rng.random() < 0.03:
            items += self.bad_view_change(host)
        return items

    def flood(self, host: Host) -> list[Item]:
        replica = host.replica
        assert replica is not None
        config = replica.config
        items: list[Item] = []
        for _ in range(self.rng.randint(5, 15)):
            height = replica.low + self.rng.randint(1, config.watermark_window_blocks)
            kind = self.rng.randrange(4)
            message: Message
            if kind == 0:
                message = Prepare(self.sim.chain_id, host.shard, replica.view, height,
                                  self.node, self.random_digest(), b"")
            elif kind == 1:
                message = Commit(self.sim.chain_id, host.shard, replica.view, height,
                                 self.node, self.random_digest(), b"")
            elif kind == 2:
                interval = config.checkpoint_interval_blocks
                message = Checkpoint(self.sim.chain_id, host.shard, replica.view,
                                     (height // interval + 1) * interval, self.node,
                                     self.random_digest(), self.random_digest(), b"")
            else:
                message = SyncRequest(self.sim.chain_id, host.shard, replica.view, 1,
                                      self.node, 1024, b"")
            items.append((self.rng.choice((None, *self.others())), self.sign(message)))
        self.log(host, f"floods {len(items)} messages")
        return items

    def huge(self, host: Host) -> Message:
        replica = host.replica
        assert replica is not None
        big = self.rng.choice(huge_values)
        view = big if self.rng.random() < 0.5 else replica.view
        height = big if view != big or self.rng.random() < 0.5 else replica.last_delivered + 1
        kind = self.rng.randrange(5)
        chain = self.sim.chain_id
        message: Message
        if kind == 0:
            message = Prepare(chain, host.shard, view, height, self.node, self.random_digest(), b"")
        elif kind == 1:
            message = Commit(chain, host.shard, view, height, self.node, self.random_digest(), b"")
        elif kind == 2:
            message = Checkpoint(chain, host.shard, view, height, self.node,
                                 self.random_digest(), self.random_digest(), b"")
        elif kind == 3:
            message = ViewChange(chain, host.shard, view, 0, self.node, (), (), b"")
        else:
            message = SyncRequest(chain, host.shard, view, height, self.node, 1, b"")
        self.log(host, f"sends {type(message).__name__} with view {view} height {height}")
        if big > 2**63 - 1:  # out of range for the wire: signing bytes cannot be encoded
            return replace(message, signature=self.rng.randbytes(64))
        return self.sign(message)

    def garbage(self, host: Host) -> list[Item]:
        rng = self.rng
        kind = rng.randrange(3)
        data: bytes
        if kind == 0 or not self.seen:
            data = rng.randbytes(rng.randint(1, 200))
        else:
            genuine = encode_message(rng.choice(self.seen))
            if kind == 1:
                data = genuine[: rng.randrange(len(genuine))] or b"\x00"
            else:
                index = rng.randrange(len(genuine))
                data = genuine[:index] + bytes([genuine[index] ^ (1 << rng.randrange(8))]) + \
                    genuine[index + 1:]
        self.log(host, f"sends {len(data)} garbage bytes")
        return [(rng.choice((None, *self.others())), data)]

    def bad_view_change(self, host: Host) -> list[Item]:
        replica = host.replica
        assert replica is not None
        config = replica.config
        rng = self.rng
        view = replica.view + rng.choice((1, 1, 2, 3))
        variant = rng.randrange(4)
        chain, shard = self.sim.chain_id, host.shard
        if variant == 0:  # a prepared certificate with forged prepares
            height = replica.low + 1
            fake = Block(replace(self._template_header(host, height),
                                 timestamp_ms=rng.randrange(10**12)), ())
            pre_prepare = self.sign(PrePrepare(chain, shard, max(0, view - 1), height, self.node,
                                               fake.hash(), fake, b""))
            prepares = tuple(
                Prepare(chain, shard, pre_prepare.view, height, sender, fake.hash(),
                        rng.randbytes(64))
                for sender in self.others()[: config.quorum - 1])
            message: Message = self.sign(ViewChange(
                chain, shard, view, replica.low, self.node, replica_low_proof(replica),
                (PreparedCertificate(pre_prepare.head(), fake.header, prepares),), b""))
            what = "forged prepared certificate"
        elif variant == 1:  # a forged checkpoint proof above our low watermark
            height = replica.low + config.checkpoint_interval_blocks
            block_hash, root = self.random_digest(), self.random_digest()
            proof = tuple(
                self.sign(Checkpoint(chain, shard, replica.view, height, self.node, block_hash,
                                     root, b""))
                if sender == self.node else
                Checkpoint(chain, shard, replica.view, height, sender, block_hash, root,
                           rng.randbytes(64))
                for sender in range(config.quorum))
            message = self.sign(ViewChange(chain, shard, view, height, self.node, proof, (),
                                           b""))
            what = "forged checkpoint proof"
        elif variant == 2:  # stale certificates: genuine ones from other view changes
            stale = [vc for (s, _v, _sender), vc in self.seen_view_changes.items()
                     if s == shard and vc.prepared]
            prepared = rng.choice(stale).prepared if stale else ()
            low_height = stale[0].height if stale else 0
            low_proof = stale[0].checkpoint_proof if stale else ()
            message = self.sign(ViewChange(chain, shard, view, low_height, self.node,
                                           low_proof, prepared, b""))
            what = "view change with stale certificates"
        else:
            message = self.forged_new_view(host)
            what = f"forged NEW-VIEW v{message.view}"
        self.log(host, what)
        return [(None, message)]

    def forged_new_view(self, host: Host) -> Message:
        """A NEW-VIEW for a view we are primary of: genuine VIEW-CHANGEs where we have
        them, with tampered re-proposals, or too few of them."""
        replica = host.replica
        assert replica is not None
        config = replica.config
        view = replica.view + 1
        while (view + host.shard) % config.n != self.node:
            view += 1
        chain, shard = self.sim.chain_id, host.shard
        changes = [vc for (s, v, _), vc in self.seen_view_changes.items()
                   if s == shard and v == view][: config.quorum - 1]
        own = self.sign(ViewChange(chain, shard, view, replica.low, self.node,
                                   replica_low_proof(replica), (), b""))
        changes.append(own)
        height = replica.low + 1
        fake = Block(replace(self._template_header(host, height), view=view,
                             proposer=self.node), ())
        pre_prepares = (self.sign(PrePrepare(chain, shard, view, height, self.node,
                                             fake.hash(), fake, b"")).head(),)
        return self.sign(NewView(chain, shard, view, replica.low, self.node,
                                 tuple(sorted(changes, key=lambda vc: vc.sender)),
                                 pre_prepares, b""))

    def _template_header(self, host: Host, height: int):  # type: ignore[no-untyped-def]
        from consensus.types import BlockHeader

        return BlockHeader(self.sim.chain_id, host.shard, height, self.random_digest(), 0,
                           self.node, 0, tx_root(()), 0, bytes(32), bytes(32))

    # -- sync ----------------------------------------------------------------------------

    def tamper_sync(self, host: Host, response: SyncResponse) -> SyncResponse:
        """A lying answer to a sync request (unsigned: the caller signs it)."""
        if not self.has("bad_sync"):
            return response
        rng = self.rng
        blocks = list(response.blocks)
        variant = rng.randrange(4)
        if variant == 0 and blocks:  # a block that is not the certified one
            index = rng.randrange(len(blocks))
            item = blocks[index]
            header = replace(item.block.header, timestamp_ms=item.block.header.timestamp_ms + 1)
            blocks[index] = CommittedBlock(Block(header, item.block.txs), item.certificate)
        elif variant == 1 and blocks:  # a certificate with garbage signatures
            index = rng.randrange(len(blocks))
            item = blocks[index]
            certificate = replace(item.certificate, signatures=tuple(
                CommitSignature(s.replica, rng.randbytes(64)) for s in
                item.certificate.signatures))
            blocks[index] = CommittedBlock(item.block, certificate)
        elif variant == 2 and len(blocks) > 1:  # a gap
            del blocks[rng.randrange(len(blocks))]
        else:  # a forged checkpoint proof far ahead, and a fabricated block
            height = response.height
            fake = Block(self._template_header(host, height), ())
            certificate = CommitCertificate(self.sim.chain_id, host.shard, 0, height,
                                            fake.hash(), tuple(
                                                CommitSignature(r, rng.randbytes(64))
                                                for r in range(len(self.others()) + 1)))
            blocks = [CommittedBlock(fake, certificate)]
        self.log(host, f"answers a sync request with a lie (variant {variant})")
        return replace(response, blocks=tuple(blocks))


def replica_low_proof(replica: object) -> tuple[Checkpoint, ...]:
    """The wrapped replica's stable checkpoint proof (the adversary reads its own replica)."""
    proof = getattr(replica, "_low_proof", ())
    return tuple(proof)
