"""The genesis: what every validator of a chain must agree on before block 1.

Format (JSON shown; TOML has the same keys, with ``[[validators]]``, ``[[balances]]`` and
``[consensus]`` tables)::

    {
      "chain_id": "agora-local",
      "shard_count": 2,
      "python_version": "3.11",          # CPython major.minor: a consensus parameter
      "genesis_time_ms": 0,              # timestamp of every shard's height-0 block
      "validators": [
        {"name": "v0", "public_key": "<64 hex>", "p2p_address": "127.0.0.1:26700",
         "rpc_address": "127.0.0.1:8545"}, ...],
      "balances": [{"address": "<64 hex>", "amount": 1000000}, ...],
      "issuers": ["<64 hex>", ...],      # accounts allowed to call native `mint`
      "fee_account": "<64 hex>",         # receives fees ("" or absent: fees are pooled)
      "consensus": {"state_root_lag_blocks": 2, "checkpoint_interval_blocks": 16,
                    "watermark_window_blocks": 64, "tx_validity_window_blocks": 1000,
                    "block_time_drift_ms_max": 10000, "gas_price": 1,
                    "block_gas_limit": 20000000, "native_tx_gas": 1000}
    }

Fees (``ledger/fees.py`` has the rules): ``gas_price`` native units per unit of gas (0:
no fees), ``block_gas_limit`` the most gas a block's txs may ask for together (the sum of
their gas caps: ``gas_limit`` of a contract tx, ``native_tx_gas`` of a native one), and
``native_tx_gas`` the fixed gas a native-ledger tx uses. ``fee_account`` is where fees go.

Validator order is consensus-relevant: validator ``i`` is replica id ``i`` and the primary
of shard ``s`` in view ``v`` is ``(v + s) mod n``. Balances are kept in the order given
by sorted address on load, so the genesis hash (SHA-256 of the canonical msgpack of the
whole structure) does not depend on how the file was written.

Invariants checked by ``validate()`` (every problem at once): a non-empty chain id of
at most 64 printable ASCII characters, 1 <= shard_count <= 1024, 1 <= n validators with
n == 1 or n >= 4 (n = 3f + 1 tolerates f >= 1 faults; 2 or 3 would tolerate none and
only look safer), unique names and keys, 32-byte hex keys, amounts in 0..2**63-1 with a
total that still fits, unique balance addresses, positive consensus parameters (the gas
price may be 0), a fee account of 32 bytes or none, and ``native_tx_gas`` and the VM's
per-tx gas maximum within the block gas limit.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from consensus import codec
from consensus.errors import ConfigError
from node.config import NodeConfig
from ledger.sharding import shard_count_max, shard_of_account

amount_max = 2**63 - 1
address_bytes = 32
chain_id_chars_max = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Validator:
    name: str
    public_key: bytes
    p2p_address: str
    rpc_address: str


@dataclasses.dataclass(frozen=True, slots=True)
class Balance:
    address: bytes
    amount: int


@dataclasses.dataclass(frozen=True, slots=True)
class GenesisConsensus:
    """Consensus parameters every validator must share (a mismatch would fork the chain)."""

    state_root_lag_blocks: int = 4
    checkpoint_interval_blocks: int = 16
    watermark_window_blocks: int = 64
    tx_validity_window_blocks: int = 1000
    block_time_drift_ms_max: int = 10_000
    # Fees (ledger/fees.py). The block gas limit is measured, not guessed: the slowest gas
    # known (bench/block_gas_bench.py) fills a block of 20M gas in <= 1 s of CPU on the
    # benchmark machine (bench/RESULTS.md, "Block gas limit").
    gas_price: int = 0
    block_gas_limit: int = 20_000_000
    native_tx_gas: int = 1_000


@dataclasses.dataclass(frozen=True, slots=True)
class Genesis:
    chain_id: str
    shard_count: int
    validators: tuple[Validator, ...]
    balances: tuple[Balance, ...] = ()
    issuers: tuple[bytes, ...] = ()
    fee_account: bytes = b""
    python_version: str = f"{sys.version_info.major}.{sys.version_info.minor}"
    genesis_time_ms: int = 0
    consensus: GenesisConsensus = GenesisConsensus()

    # -- derived ----------------------------------------------------------------------

    @property
    def validator_keys(self) -> tuple[bytes, ...]:
        return tuple(validator.public_key for validator in self.validators)

    @property
    def fault_tolerance(self) -> int:
        return (len(self.validators) - 1) // 3

    @property
    def quorum(self) -> int:
        """2f + 1 for n = 3f + 1 (1 for a single development validator)."""
        return 2 * self.fault_tolerance + 1

    def hash(self) -> bytes:
        return codec.digest(codec.encode(self))

    def balances_of_shard(self, shard: int) -> list[Balance]:
        """Initial balances owned by ``shard``, sorted by address."""
        return [item for item in self.balances
                if shard_of_account(item.address, self.shard_count) == shard]

    # -- checks -----------------------------------------------------------------------

    def problems(self) -> list[str]:
        problems = _chain_problems(self) + _validator_problems(self.validators)
        problems += _balance_problems(self.balances)
        problems += [f"issuers[{index}] must be {address_bytes} bytes"
                     for index, issuer in enumerate(self.issuers)
                     if len(issuer) != address_bytes]
        if len(set(self.issuers)) != len(self.issuers):
            problems.append("issuers must be unique")
        if self.fee_account and len(self.fee_account) != address_bytes:
            problems.append(f"fee_account must be {address_bytes} bytes (or empty)")
        return problems + _consensus_problems(self.consensus)

    def validate(self) -> Genesis:
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self

    def check_python_version(self) -> None:
        """The running CPython must be the genesis one (VM results depend on it)."""
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        if running != self.python_version:
            message = f"genesis requires Python {self.python_version}, this node runs {running}"
            raise ConfigError([message])

    # -- files ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "shard_count": self.shard_count,
            "python_version": self.python_version,
            "genesis_time_ms": self.genesis_time_ms,
            "validators": [
                {"name": item.name, "public_key": item.public_key.hex(),
                 "p2p_address": item.p2p_address, "rpc_address": item.rpc_address}
                for item in self.validators],
            "balances": [{"address": item.address.hex(), "amount": item.amount}
                         for item in self.balances],
            "issuers": [issuer.hex() for issuer in self.issuers],
            "fee_account": self.fee_account.hex(),
            "consensus": dataclasses.asdict(self.consensus),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: Path | str) -> None:
        """Write as JSON (``.json``) or TOML (``.toml``)."""
        path = Path(path)
        text = _to_toml(self.to_dict()) if path.suffix == ".toml" else self.to_json()
        path.write_text(text, encoding="utf-8")


def check_config_against_genesis(config: NodeConfig, genesis: Genesis) -> list[str]:
    """Problems between a node's config and the genesis it runs (empty if none).

    Parameters that must be equal on every validator live in the genesis only; the
    mempool must not admit txs the executor would refuse as too far in the future.
    """
    problems = []
    shared = genesis.consensus
    if config.mempool.validity_window_blocks > shared.tx_validity_window_blocks:
        problems.append(f"mempool.validity_window_blocks must be <= the genesis "
                        f"tx_validity_window_blocks ({shared.tx_validity_window_blocks})")
    if config.node.node_index >= len(genesis.validators):
        problems.append(f"node.node_index {config.node.node_index} is not a validator of the "
                        f"genesis ({len(genesis.validators)} validators)")
    view_change_bound = view_change_messages_bytes_max(genesis)
    if view_change_bound > config.network.max_frame_bytes:
        problems.append(f"network.max_frame_bytes ({config.network.max_frame_bytes}) is below "
                        f"the largest NEW-VIEW of this genesis ({view_change_bound} bytes for "
                        f"{len(genesis.validators)} validators and a window of "
                        f"{shared.watermark_window_blocks} blocks)")
    return problems


def view_change_messages_bytes_max(genesis: Genesis) -> int:
    """The largest VIEW-CHANGE or NEW-VIEW frame a node of ``genesis`` may send or get
    (``consensus.types.new_view_bytes_max`` plus the envelope): they carry digests and
    certificates, never blocks, so this depends on n and the window only."""
    from consensus.types import new_view_bytes_max
    from node.config import frame_overhead_bytes

    return new_view_bytes_max(len(genesis.validators),
                              genesis.consensus.watermark_window_blocks) + frame_overhead_bytes


def _consensus_problems(consensus: GenesisConsensus) -> list[str]:
    from vm.gas import gas_limit_tx_max

    problems = []
    for field in dataclasses.fields(consensus):
        value = getattr(consensus, field.name)
        low = 0 if field.name == "gas_price" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            adjective = "non-negative" if low == 0 else "positive"
            problems.append(f"consensus.{field.name} must be a {adjective} integer")
            return problems
    if consensus.gas_price > amount_max // max(1, consensus.block_gas_limit):
        problems.append(f"consensus.gas_price x block_gas_limit must be <= {amount_max}")
    if consensus.native_tx_gas > consensus.block_gas_limit:
        problems.append("consensus.native_tx_gas must be <= consensus.block_gas_limit")
    if gas_limit_tx_max > consensus.block_gas_limit:
        problems.append(f"consensus.block_gas_limit must be >= the VM's per-tx maximum "
                        f"({gas_limit_tx_max}), or a valid tx could never fit in a block")
    return problems


def _chain_problems(genesis: Genesis) -> list[str]:
    problems = []
    chain_id = genesis.chain_id
    if not (isinstance(chain_id, str) and 0 < len(chain_id) <= chain_id_chars_max
            and chain_id.isascii() and chain_id.isprintable()):
        problems.append(f"chain_id must be 1..{chain_id_chars_max} printable ASCII characters")
    if not 1 <= genesis.shard_count <= shard_count_max:
        problems.append(f"shard_count must be in 1..{shard_count_max}, got {genesis.shard_count}")
    parts = genesis.python_version.split(".")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        problems.append(f"python_version must be major.minor, got {genesis.python_version!r}")
    if genesis.genesis_time_ms < 0:
        problems.append("genesis_time_ms must be >= 0")
    return problems


def _validator_problems(validators: tuple[Validator, ...]) -> list[str]:
    problems = []
    count = len(validators)
    if count == 0:
        problems.append("validators must not be empty")
    elif count in (2, 3):
        problems.append(f"{count} validators tolerate no fault; use 1 (development) or >= 4")
    for index, item in enumerate(validators):
        if len(item.public_key) != address_bytes:
            problems.append(f"validators[{index}].public_key must be {address_bytes} bytes")
        if not item.name:
            problems.append(f"validators[{index}].name must not be empty")
        for name in ("p2p_address", "rpc_address"):
            host, separator, port = getattr(item, name).rpartition(":")
            if not (separator and host and port.isdigit() and 0 < int(port) < 65536):
                problems.append(f"validators[{index}].{name} must be host:port")
    if len({item.name for item in validators}) != count:
        problems.append("validator names must be unique")
    if len({item.public_key for item in validators}) != count:
        problems.append("validator public keys must be unique")
    return problems


def _balance_problems(balances: tuple[Balance, ...]) -> list[str]:
    problems = []
    for index, item in enumerate(balances):
        if len(item.address) != address_bytes:
            problems.append(f"balances[{index}].address must be {address_bytes} bytes")
        if not 0 <= item.amount <= amount_max:
            problems.append(f"balances[{index}].amount must be in 0..{amount_max}")
    if len({item.address for item in balances}) != len(balances):
        problems.append("balances must name each address once")
    if sum(item.amount for item in balances) > amount_max:
        problems.append(f"total of initial balances exceeds {amount_max}")
    return problems


# -- parsing -------------------------------------------------------------------------------


def _hex(value: Any, where: str, problems: list[str]) -> bytes:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    problems.append(f"{where} must be a hex string")
    return b""


def _typed(data: dict[str, Any], key: str, kind: type, default: Any, where: str,
           problems: list[str]) -> Any:
    value = data.get(key, default)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        problems.append(f"{where}{key} must be {kind.__name__}")
        return default
    return value


def genesis_from_dict(data: Any, *, draft: bool = False) -> Genesis:
    """Build and validate a Genesis from parsed JSON/TOML; ConfigError lists every problem.

    ``draft=True`` checks only what each field is (types, hex), not the whole (a genesis
    being assembled by ``agora genesis ...`` has fewer than 4 validators for a while)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(["genesis must be a table/object"])
    known = {"chain_id", "shard_count", "python_version", "genesis_time_ms", "validators",
             "balances", "issuers", "fee_account", "consensus"}
    problems += [f"{key} is not a known genesis field" for key in sorted(data) if key not in known]
    validators = []
    for index, raw in enumerate(_typed(data, "validators", list, [], "", problems)):
        where = f"validators[{index}]."
        if not isinstance(raw, dict):
            problems.append(f"validators[{index}] must be a table")
            continue
        validators.append(Validator(
            name=_typed(raw, "name", str, "", where, problems),
            public_key=_hex(raw.get("public_key"), where + "public_key", problems),
            p2p_address=_typed(raw, "p2p_address", str, "", where, problems),
            rpc_address=_typed(raw, "rpc_address", str, "", where, problems)))
    balances = []
    for index, raw in enumerate(_typed(data, "balances", list, [], "", problems)):
        where = f"balances[{index}]."
        if not isinstance(raw, dict):
            problems.append(f"balances[{index}] must be a table")
            continue
        balances.append(Balance(_hex(raw.get("address"), where + "address", problems),
                                _typed(raw, "amount", int, 0, where, problems)))
    issuers = tuple(_hex(raw, f"issuers[{index}]", problems) for index, raw in
                    enumerate(_typed(data, "issuers", list, [], "", problems)))
    genesis = Genesis(
        chain_id=_typed(data, "chain_id", str, "", "", problems),
        shard_count=_typed(data, "shard_count", int, 1, "", problems),
        validators=tuple(validators),
        balances=tuple(balances),
        issuers=issuers,
        fee_account=_hex(data.get("fee_account", ""), "fee_account", problems),
        python_version=_typed(data, "python_version", str, "", "", problems),
        genesis_time_ms=_typed(data, "genesis_time_ms", int, 0, "", problems),
        consensus=_consensus_from_dict(data.get("consensus", {}), problems))
    if not draft:
        problems += genesis.problems()  # before sorting, so indexes match the file
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(
        genesis, balances=tuple(sorted(balances, key=lambda item: item.address)))


def _consensus_from_dict(raw: Any, problems: list[str]) -> GenesisConsensus:
    if not isinstance(raw, dict):
        problems.append("consensus must be a table")
        return GenesisConsensus()
    names = {field.name for field in dataclasses.fields(GenesisConsensus)}
    problems += [f"consensus.{key} is not a known parameter" for key in sorted(raw)
                 if key not in names]
    defaults = GenesisConsensus()
    return GenesisConsensus(**{name: _typed(raw, name, int, getattr(defaults, name),
                                            "consensus.", problems) for name in sorted(names)})


def load_genesis(path: Path | str, *, draft: bool = False) -> Genesis:
    """Read a genesis from ``.json`` or ``.toml``; ConfigError naming the file on error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError([f"{path}: cannot read genesis: {error}"]) from error
    try:
        return genesis_from_dict(data, draft=draft)
    except ConfigError as error:
        raise ConfigError([f"{path}: {problem}" for problem in error.problems]) from None


def _toml_scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    return str(value)


def _to_toml(data: dict[str, Any]) -> str:
    lines = []
    for key in ("chain_id", "shard_count", "python_version", "genesis_time_ms", "fee_account"):
        lines.append(f"{key} = {_toml_scalar(data[key])}")
    lines.append("issuers = [" + ", ".join(_toml_scalar(item) for item in data["issuers"]) + "]")
    for table in ("validators", "balances"):
        for item in data[table]:
            lines += ["", f"[[{table}]]"]
            lines += [f"{key} = {_toml_scalar(value)}" for key, value in item.items()]
    lines += ["", "[consensus]"]
    lines += [f"{key} = {_toml_scalar(value)}" for key, value in data["consensus"].items()]
    return "\n".join(lines) + "\n"
