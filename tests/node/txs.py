"""Helpers that build signed transactions for the node tests."""

from __future__ import annotations

import dataclasses

from consensus import codec
from consensus.types import Signer, Transaction

CHAIN_ID = "agora-test"


def signer(index: int) -> Signer:
    return Signer(index.to_bytes(32, "big"))


def make_tx(
    sender: Signer,
    *,
    nonce: int = 0,
    expiry_height: int = 100,
    method: str = "transfer",
    args: tuple[object, ...] = (b"\x00" * 32, 1),
    contract: bytes = b"",
    chain_id: str = CHAIN_ID,
    gas_limit: int = 0,
) -> Transaction:
    unsigned = Transaction(chain_id, sender.public_key, nonce, expiry_height, gas_limit,
                           contract, method, codec.pack(args), b"\x00" * 64)
    return dataclasses.replace(unsigned, signature=sender.sign(unsigned.signing_bytes()))
