"""docs/spec.md's examples hold: value encodings both ways, and the transaction example
(signing bytes, signature, encoded tx, hash) byte for byte."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from agora_sdk.values import encode_json_args, from_json, to_json
from consensus.types import Signer, Transaction, decode_transaction
from vm import codec as vm_codec

SPEC = (Path(__file__).resolve().parents[2] / "docs" / "spec.md").read_text()


def _section(marker: str) -> str:
    start = SPEC.index(f"<!-- {marker}")
    return SPEC[start:SPEC.index(f"<!-- end {marker}", start)]


def _value_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in _section("values-examples").splitlines():
        cells = re.findall(r"`([^`]*)`", line)
        if line.startswith("| `") and len(cells) == 3:
            rows.append((cells[0], cells[1], cells[2]))
    return rows


def test_the_spec_has_value_examples() -> None:
    assert len(_value_rows()) >= 15


@pytest.mark.parametrize("json_in,canonical_hex,json_out", _value_rows())
def test_value_examples(json_in: str, canonical_hex: str, json_out: str) -> None:
    value = from_json(json.loads(json_in))
    assert vm_codec.encode(value, 1000).hex() == canonical_hex
    decoded = vm_codec.decode(bytes.fromhex(canonical_hex))
    assert to_json(decoded) == json.loads(json_out)


def _tx_fields() -> dict[str, str]:
    fields = {}
    for line in _section("tx-example").splitlines():
        match = re.match(r"^([a-z_ ()A-Z]+?)\s{2,}(.+)$", line)
        if match:
            fields[match.group(1).strip()] = match.group(2).strip()
    return fields


def test_the_transaction_example_is_exact() -> None:
    fields = _tx_fields()
    signer = Signer(bytes.fromhex(fields["seed (hex)"]))
    assert signer.public_key.hex() == fields["public key"]
    unsigned = Transaction(
        fields["chain_id"], signer.public_key, int(fields["nonce"]),
        int(fields["expiry_height"]), int(fields["gas_limit"]),
        bytes.fromhex(fields["contract"]), fields["method"],
        encode_json_args(json.loads(fields["args (JSON)"])), b"\x00" * 64)
    assert unsigned.signing_bytes().hex() == fields["signing bytes"]
    signed = dataclasses.replace(unsigned, signature=signer.sign(unsigned.signing_bytes()))
    assert signed.signature.hex() == fields["signature"]
    assert signed.encoded().hex() == fields["encoded tx"]
    assert signed.hash().hex() == fields["tx hash"]
    assert decode_transaction(bytes.fromhex(fields["encoded tx"])) == signed
    assert signed.has_valid_signature()


def test_the_sixteen_byte_integer_quirk_is_as_documented() -> None:
    value = 2**120
    assert vm_codec.encode(value, 10)[:3] == b"\xc7\x10\x01"
    assert vm_codec.encode([value], 10)[1:3] == b"\xd8\x01"
