"""The consortium genesis flow, command by command, as members run it (#18 point 1)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from consensus.types import Signer
from node.genesis import load_genesis
from tests.node.agora_cli import agora, ok

faucet = "ab" * 32


def _member(root: Path, index: int) -> Path:
    home = root / f"member{index}"
    ok("keygen", "--validator", "--out", home, "--name", f"org{index}",
       "--p2p-address", f"127.0.0.1:{31000 + index}",
       "--rpc-address", f"http://127.0.0.1:{32000 + index}", "--metrics-port", 33000 + index)
    return home


def _assemble(root: Path, members: int = 4) -> tuple[Path, list[Path]]:
    homes = [_member(root, index) for index in range(members)]
    genesis = root / "genesis.json"
    ok("genesis", "new", genesis, "--chain-id", "consortium-test", "--shards", "2")
    for home in homes:
        ok("genesis", "add-validator", genesis, "--card", home / "validator.json")
    ok("genesis", "add-balance", genesis, "--address", faucet, "--amount", "1000", "--issuer")
    return genesis, homes


def test_keygen_validator_writes_a_private_key_0600_and_a_public_card(tmp_path: Path) -> None:
    home = _member(tmp_path, 0)
    key = home / "node_key.hex"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    card = json.loads((home / "validator.json").read_text())
    assert set(card) == {"name", "public_key", "p2p_address", "rpc_address"}
    secret = key.read_text().strip()
    assert card["public_key"] == Signer(bytes.fromhex(secret)).public_key.hex()
    assert secret not in (home / "validator.json").read_text()
    assert secret not in (home / "config.toml").read_text()
    # A second keygen into the same home must not destroy the key.
    again = agora("keygen", "--validator", "--out", home)
    assert again.returncode == 3 and "already exists" in again.stderr
    assert key.read_text().strip() == secret


def test_four_cards_make_a_valid_genesis_whose_hash_every_member_computes(
        tmp_path: Path) -> None:
    genesis, homes = _assemble(tmp_path)
    out = ok("genesis", "validate", genesis)
    assert "4 validators (f = 1)" in out
    digest = ok("genesis", "hash", genesis).strip()
    assert digest == load_genesis(genesis).hash().hex() and f"hash {digest}" in out
    loaded = load_genesis(genesis)
    assert [item.name for item in loaded.validators] == ["org0", "org1", "org2", "org3"]
    assert loaded.issuers == (bytes.fromhex(faucet),)
    for index, home in enumerate(homes):
        (home / "genesis.json").write_text(genesis.read_text())
        checked = ok("config", "check", "--home", home)
        assert f"validator {index} (org{index})" in checked and digest in checked


def test_genesis_set_changes_typed_fields_and_refuses_unknown_ones(tmp_path: Path) -> None:
    genesis, _ = _assemble(tmp_path)
    before = ok("genesis", "hash", genesis)
    ok("genesis", "set", genesis, "consensus.checkpoint_interval_blocks=8",
       "genesis_time_ms=1700000000000")
    loaded = load_genesis(genesis)
    assert loaded.consensus.checkpoint_interval_blocks == 8
    assert loaded.genesis_time_ms == 1_700_000_000_000
    assert ok("genesis", "hash", genesis) != before
    unknown = agora("genesis", "set", genesis, "consensus.nonsense=1")
    assert unknown.returncode == 3 and "not a settable genesis field" in unknown.stderr
    wrong_type = agora("genesis", "set", genesis, "shard_count=two")
    assert wrong_type.returncode == 3 and "must be an integer" in wrong_type.stderr
    assert "Traceback" not in unknown.stderr + wrong_type.stderr


def test_an_incomplete_or_duplicated_genesis_is_refused_with_every_problem(
        tmp_path: Path) -> None:
    homes = [_member(tmp_path, index) for index in range(2)]
    genesis = tmp_path / "genesis.json"
    ok("genesis", "new", genesis, "--chain-id", "c", "--shards", "1")
    for home in homes:
        ok("genesis", "add-validator", genesis, "--card", home / "validator.json")
    duplicate = agora("genesis", "add-validator", genesis, "--card", homes[0] / "validator.json")
    assert duplicate.returncode == 3
    assert "already in the genesis" in duplicate.stderr
    assert "already validator" in duplicate.stderr  # name and key both named
    result = agora("genesis", "validate", genesis)
    assert result.returncode == 3
    assert "2 validators tolerate no fault" in result.stderr


def test_a_key_that_is_not_in_the_genesis_is_its_own_error(tmp_path: Path) -> None:
    genesis, homes = _assemble(tmp_path)
    stranger = _member(tmp_path, 9)
    (stranger / "genesis.json").write_text(genesis.read_text())
    result = agora("config", "check", "--home", stranger)
    assert result.returncode == 4, result.stderr
    assert "not a validator of the genesis" in result.stderr
    # A typed node_index that disagrees with the key is refused the same way.
    home = homes[1]
    (home / "genesis.json").write_text(genesis.read_text())
    config = home / "config.toml"
    config.write_text(config.read_text().replace("node_index = -1", "node_index = 2"))
    typed = agora("config", "check", "--home", home)
    assert typed.returncode == 4 and "is validator 1" in typed.stderr
