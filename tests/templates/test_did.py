"""DID registry (vm/templates/did.py): create, update keys and services, controller
rules, deactivation is final, W3C-shaped resolution, KYC through a DID."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import Chain, account

DIDS = account("did-contract")
KYC = account("kyc-contract")
ADMIN, VERIFIER = account("admin"), account("verifier")
ALICE, BOB, CAROL = account("alice"), account("bob"), account("carol")
KEY = ["key-1", "Ed25519VerificationKey2020", "ab" * 32, ["authentication"]]


def world() -> tuple[Chain, str]:
    chain = Chain()
    chain.deploy("did", DIDS, ADMIN)
    did = chain.ok(DIDS, "create", ALICE, keys=[KEY],
                   services=[["shop", "LinkedDomains", "https://alice.example"]])
    return chain, did


def test_create_and_resolve_a_w3c_shaped_document() -> None:
    chain, did = world()
    expected = "did:agora:" + hashlib.sha256(ALICE + (0).to_bytes(8, "big")).digest()[:16].hex()
    assert did == expected
    resolved = chain.view(DIDS, "resolve", did=did)
    document = resolved["didDocument"]
    assert document["id"] == did and document["controller"] == [ALICE.hex()]
    assert document["verificationMethod"] == [{"id": did + "#key-1",
                                               "type": KEY[1], "controller": did,
                                               "publicKeyHex": KEY[2]}]
    assert document["authentication"] == [did + "#key-1"]
    assert document["service"][0]["serviceEndpoint"] == "https://alice.example"
    assert resolved["didDocumentMetadata"]["deactivated"] is False
    assert chain.ok(DIDS, "create", ALICE, keys=[], services=[]) != did
    chain.fails(DIDS, "create", BOB, "duplicate id", keys=[KEY, KEY], services=[])
    chain.fails(DIDS, "create", BOB, "bad purpose", keys=[[*KEY[:3], ["everything"]]],
                services=[])
    chain.fails(DIDS, "create", BOB, "bad service", keys=[], services=[["x", "y"]])


def test_only_controllers_update_and_deactivation_is_final() -> None:
    chain, did = world()
    chain.fails(DIDS, "add_key", BOB, "not a controller", did=did, key_id="k2",
                key_type="X", public_key_hex="00", purposes=["keyAgreement"])
    chain.fails(DIDS, "add_key", ALICE, "duplicate id", did=did, key_id="key-1",
                key_type="X", public_key_hex="00", purposes=["keyAgreement"])
    chain.ok(DIDS, "add_key", ALICE, did=did, key_id="k2", key_type="X", public_key_hex="00",
             purposes=["keyAgreement"])
    chain.ok(DIDS, "remove_key", ALICE, did=did, key_id="key-1")
    chain.fails(DIDS, "remove_key", ALICE, "no such key", did=did, key_id="key-1")
    chain.fails(DIDS, "remove_controller", ALICE, "last controller", did=did, controller=ALICE)
    chain.ok(DIDS, "add_controller", ALICE, did=did, controller=BOB)
    chain.fails(DIDS, "add_controller", BOB, "already a controller", did=did, controller=ALICE)
    chain.ok(DIDS, "remove_controller", BOB, did=did, controller=ALICE)
    chain.fails(DIDS, "add_service", ALICE, "not a controller", did=did, service_id="s",
                service_type="t", endpoint="e")
    chain.ok(DIDS, "remove_service", BOB, did=did, service_id="shop")
    chain.fails(DIDS, "remove_service", BOB, "no such service", did=did, service_id="shop")
    chain.ok(DIDS, "deactivate", BOB, did=did)
    chain.fails(DIDS, "add_service", BOB, "deactivated", did=did, service_id="s",
                service_type="t", endpoint="e")
    chain.fails(DIDS, "deactivate", BOB, "deactivated", did=did)
    resolved = chain.view(DIDS, "resolve", did=did)
    assert resolved["didDocumentMetadata"]["deactivated"] is True
    assert resolved["didDocument"]["verificationMethod"] == []
    assert not chain.view(DIDS, "is_controller", did=did, who=BOB)
    chain.fails(DIDS, "deactivate", BOB, "no such did", did="did:agora:00")


def test_a_kyc_registry_verifies_a_did_through_its_controllers() -> None:
    chain, did = world()
    chain.deploy("kyc", KYC, ADMIN)
    chain.ok(KYC, "add_verifier", ADMIN, verifier=VERIFIER)
    assert not chain.view(DIDS, "kyc_verified", did=did, registry=KYC)
    assert chain.view(DIDS, "is_controller", did=did, who=ALICE)
    chain.ok(KYC, "register", VERIFIER, who=ALICE, level=2)
    assert chain.view(DIDS, "kyc_verified", did=did, registry=KYC)
    chain.ok(DIDS, "add_service", ALICE, did=did, service_id="kyc", service_type="KYCRegistry",
             endpoint=KYC.hex())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add_controller", "remove_controller",
                                           "add_key", "remove_key", "deactivate"]),
                          st.sampled_from([ALICE, BOB, CAROL]),
                          st.sampled_from([ALICE, BOB, CAROL]), st.integers(0, 9)),
                max_size=25))
def test_a_document_keeps_one_to_four_controllers_and_unique_ids(steps: list) -> None:
    chain, did = world()
    for action, sender, who, number in steps:
        before = chain.view(DIDS, "resolve", did=did)
        if action in ("add_controller", "remove_controller"):
            result = chain.call(DIDS, action, sender, did=did, controller=who)
        elif action == "add_key":
            result = chain.call(DIDS, action, sender, did=did, key_id=f"k{number}",
                                key_type="X", public_key_hex="00", purposes=["authentication"])
        elif action == "remove_key":
            result = chain.call(DIDS, action, sender, did=did, key_id=f"k{number}")
        else:
            result = chain.call(DIDS, action, sender, did=did)
        document = chain.view(DIDS, "resolve", did=did)
        controllers = document["didDocument"]["controller"]
        assert 1 <= len(controllers) <= 4
        ids = [method["id"] for method in document["didDocument"]["verificationMethod"]]
        assert len(ids) == len(set(ids)) <= 8
        if result.ok:
            assert sender.hex() in before["didDocument"]["controller"]
            assert not before["didDocumentMetadata"]["deactivated"]
