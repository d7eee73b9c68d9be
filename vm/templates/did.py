"""DID registry: W3C-style DID documents (did:agora:...) with verification keys, services
and controllers; create, update, deactivate; resolution as a view; KYC through a DID.

A DID is "did:agora:" + the first 16 bytes (hex) of sha256(creator || creation count), so it
is unique and nobody can claim another's. Its document holds controllers (accounts that may
change it; at least one, at most CONTROLLERS_MAX), verification methods [key_id, type,
public_key_hex, purposes] and services [service_id, type, endpoint]. A deactivated
document is final: it keeps its id and controllers but no keys or services, and changes no
more. `resolve` answers a W3C DID Core shaped document (id, controller,
verificationMethod, authentication / assertionMethod by purpose, service) with metadata
(created, updated heights, deactivated).

KYC: a verifier of the KYC registry (vm/templates/kyc.py) checks `is_controller(did, who)`
before registering `who` for a DID; `kyc_verified(did, registry)` answers whether any
controller of the DID is verified in that registry, so a counterparty can require a
KYC-verified DID. A service entry of type "KYCRegistry" can name the registry in the
document itself.

Methods:
    create(keys, services) -> did                   the sender is the first controller
    add_key(did, key_id, key_type, public_key_hex, purposes)   controller
    remove_key(did, key_id)                         controller
    add_service(did, service_id, service_type, endpoint)       controller
    remove_service(did, service_id)                 controller
    add_controller(did, controller), remove_controller(did, controller)   controller
    deactivate(did)                                 controller; final
    views: resolve(did) -> dict, is_controller(did, who), kyc_verified(did, registry),
           dids_created_by(who) -> count

Purposes: "authentication", "assertionMethod", "keyAgreement", "capabilityInvocation",
"capabilityDelegation".

Events: Created(did, controller), KeyAdded(did, key_id), KeyRemoved(did, key_id),
ServiceAdded(did, service_id), ServiceRemoved(did, service_id), ControllerAdded(did,
controller), ControllerRemoved(did, controller), Deactivated(did).

Errors (REVERT): "no such did", "not a controller", "deactivated", "bad key", "bad service",
"duplicate id", "no such key", "no such service", "too many keys", "too many services",
"too many controllers", "already a controller", "last controller", "bad purpose".

Invariants: a document always has 1..CONTROLLERS_MAX controllers; ids are unique within a
document; only controllers change a document; a deactivated document never changes again.
"""

KEYS_MAX = 8
SERVICES_MAX = 8
CONTROLLERS_MAX = 4
TEXT_BYTES_MAX = 256
PURPOSES = ("authentication", "assertionMethod", "keyAgreement", "capabilityInvocation",
            "capabilityDelegation")

documents = Map()  # did -> {"controllers", "keys", "services", "created", "updated",
#                             "deactivated"}
created_count = Map()  # creator -> number of DIDs created


def text_ok(value: str) -> bool:
    return len(value) > 0 and len(value) <= TEXT_BYTES_MAX


def check_key(key: list):
    require(len(key) == 4 and text_ok(key[0]) and text_ok(key[1]) and text_ok(key[2]),
            "bad key")
    require(len(key[3]) > 0 and len(key[3]) <= len(PURPOSES), "bad purpose")
    for purpose in key[3]:
        require(purpose in PURPOSES, "bad purpose")


def check_service(service: list):
    require(len(service) == 3 and text_ok(service[0]) and text_ok(service[1]) and
            text_ok(service[2]), "bad service")


def unique_ids(entries: list):
    ids = [entry[0] for entry in entries]
    for index, entry_id in enumerate(ids):
        require(ids.index(entry_id) == index, "duplicate id")


@export
def create(keys: list, services: list) -> str:
    require(len(keys) <= KEYS_MAX, "too many keys")
    require(len(services) <= SERVICES_MAX, "too many services")
    for key in keys:
        check_key(key)
    for service in services:
        check_service(service)
    unique_ids(keys)
    unique_ids(services)
    count = created_count.get(ctx.sender, 0)
    created_count[ctx.sender] = count + 1
    digest = sha256(ctx.sender + count.to_bytes(8, "big"))
    did = "did:agora:" + digest[:16].hex()
    documents[did] = {"controllers": [ctx.sender], "keys": keys, "services": services,
                      "created": ctx.height, "updated": ctx.height, "deactivated": False}
    emit("Created", did=did, controller=ctx.sender)
    return did


def editable(did: str) -> dict:
    entry = documents.get(did)
    require(entry is not None, "no such did")
    require(ctx.sender in entry["controllers"], "not a controller")
    require(not entry["deactivated"], "deactivated")
    entry["updated"] = ctx.height
    return entry


def index_of(entries: list, entry_id: str) -> int:
    for index, entry in enumerate(entries):
        if entry[0] == entry_id:
            return index
    return -1


@export
def add_key(did: str, key_id: str, key_type: str, public_key_hex: str, purposes: list):
    entry = editable(did)
    key = [key_id, key_type, public_key_hex, purposes]
    check_key(key)
    require(index_of(entry["keys"], key_id) < 0, "duplicate id")
    require(len(entry["keys"]) < KEYS_MAX, "too many keys")
    entry["keys"].append(key)
    documents[did] = entry
    emit("KeyAdded", did=did, key_id=key_id)


@export
def remove_key(did: str, key_id: str):
    entry = editable(did)
    index = index_of(entry["keys"], key_id)
    require(index >= 0, "no such key")
    entry["keys"].pop(index)
    documents[did] = entry
    emit("KeyRemoved", did=did, key_id=key_id)


@export
def add_service(did: str, service_id: str, service_type: str, endpoint: str):
    entry = editable(did)
    service = [service_id, service_type, endpoint]
    check_service(service)
    require(index_of(entry["services"], service_id) < 0, "duplicate id")
    require(len(entry["services"]) < SERVICES_MAX, "too many services")
    entry["services"].append(service)
    documents[did] = entry
    emit("ServiceAdded", did=did, service_id=service_id)


@export
def remove_service(did: str, service_id: str):
    entry = editable(did)
    index = index_of(entry["services"], service_id)
    require(index >= 0, "no such service")
    entry["services"].pop(index)
    documents[did] = entry
    emit("ServiceRemoved", did=did, service_id=service_id)


@export
def add_controller(did: str, controller: bytes):
    entry = editable(did)
    require(controller not in entry["controllers"], "already a controller")
    require(len(entry["controllers"]) < CONTROLLERS_MAX, "too many controllers")
    entry["controllers"].append(controller)
    documents[did] = entry
    emit("ControllerAdded", did=did, controller=controller)


@export
def remove_controller(did: str, controller: bytes):
    entry = editable(did)
    require(controller in entry["controllers"], "not a controller")
    require(len(entry["controllers"]) > 1, "last controller")
    entry["controllers"].remove(controller)
    documents[did] = entry
    emit("ControllerRemoved", did=did, controller=controller)


@export
def deactivate(did: str):
    entry = editable(did)
    entry["deactivated"] = True
    entry["keys"] = []
    entry["services"] = []
    documents[did] = entry
    emit("Deactivated", did=did)


def load(did: str) -> dict:
    entry = documents.get(did)
    require(entry is not None, "no such did")
    return entry


@view
def resolve(did: str) -> dict:
    entry = load(did)
    methods = []
    by_purpose = {purpose: [] for purpose in PURPOSES}
    for key in entry["keys"]:
        key_ref = did + "#" + key[0]
        methods.append({"id": key_ref, "type": key[1], "controller": did,
                        "publicKeyHex": key[2]})
        for purpose in key[3]:
            by_purpose[purpose].append(key_ref)
    document = {"@context": "https://www.w3.org/ns/did/v1", "id": did,
                "controller": [who.hex() for who in entry["controllers"]],
                "verificationMethod": methods,
                "service": [{"id": did + "#" + s[0], "type": s[1], "serviceEndpoint": s[2]}
                            for s in entry["services"]]}
    for purpose in PURPOSES:
        if len(by_purpose[purpose]) > 0:
            document[purpose] = by_purpose[purpose]
    metadata = {"created": entry["created"], "updated": entry["updated"],
                "deactivated": entry["deactivated"]}
    return {"didDocument": document, "didDocumentMetadata": metadata}


@view
def is_controller(did: str, who: bytes) -> bool:
    entry = documents.get(did)
    return entry is not None and not entry["deactivated"] and who in entry["controllers"]


@view
def kyc_verified(did: str, registry: bytes) -> bool:
    entry = load(did)
    if entry["deactivated"]:
        return False
    for who in entry["controllers"]:
        if call(registry, "is_verified", who=who):
            return True
    return False


@view
def dids_created_by(who: bytes) -> int:
    return created_count.get(who, 0)
