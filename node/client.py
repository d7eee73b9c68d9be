"""A synchronous Python client for apps: accounts, transaction building, JSON-RPC calls.

Example::

    from node.client import Account, AgoraClient

    alice = Account.generate()
    with AgoraClient("http://127.0.0.1:8545") as client:
        tx = client.build_transfer(alice, bob_address, 10)
        receipt = client.submit_and_wait(tx)
        assert receipt["ok"], receipt["error"]

Transactions are built and signed locally (the seed never leaves the process) and sent
as the hex of their canonical bytes (see ``node/rpc.py``). ``nonce`` defaults to a random
63-bit number: the ledger is nonce-free and the nonce only makes two otherwise equal
transactions distinct. ``expiry_height`` defaults to the latest height of the tx's home
shard plus ``expiry_blocks`` (keep it inside the chain's validity window).

Every server-side error raises :class:`RpcCallError` carrying the JSON-RPC ``code``,
``message`` and ``reason`` (``data.reason``); transport failures raise
:class:`TransportError`.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from pathlib import Path
from typing import Any, Self

import httpx

from consensus import codec
from consensus.errors import AgoraError, ClientError
from consensus.types import Signer, Transaction
from node import keys
from ledger.sharding import home_shard

default_timeout_seconds = 30.0
default_expiry_blocks = 100
default_contract_gas = 2_000_000
gas_margin_percent = 25  # added to a simulated call's gas: state may change before it runs
gas_margin_min = 10_000
_placeholder_signature = b"\x00" * 64


def gas_with_margin(gas_used: int) -> int:
    """A gas limit for a call that used ``gas_used`` in simulation (capped by the VM's
    per-tx maximum)."""
    from vm.gas import gas_limit_tx_max

    return min(gas_limit_tx_max, gas_used + max(gas_margin_min,
                                                gas_used * gas_margin_percent // 100))


class RpcCallError(ClientError):
    """The server answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        self.reason: str | None = data.get("reason") if isinstance(data, dict) else None
        super().__init__(f"RPC error {code} ({self.reason}): {message}")


class TransportError(AgoraError):
    """The server could not be reached or answered with something that is not JSON-RPC."""


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """An ed25519 keypair; ``address`` is the public key (32 bytes)."""

    seed: bytes = dataclasses.field(repr=False)
    signer: Signer = dataclasses.field(repr=False, compare=False)
    address: bytes

    @classmethod
    def from_seed(cls, seed: bytes) -> Account:
        if len(seed) != keys.seed_bytes:
            raise ValueError(f"a seed is {keys.seed_bytes} bytes")
        signer = Signer(seed)
        return cls(seed, signer, signer.public_key)

    @classmethod
    def generate(cls) -> Account:
        return cls.from_seed(keys.generate_seed())

    @classmethod
    def load(cls, path: Path | str) -> Account:
        return cls.from_seed(keys.load_seed(path))

    def save(self, path: Path | str) -> None:
        keys.save_key(path, self.seed)

    def sign(self, tx: Transaction) -> Transaction:
        """``tx`` signed by this account (its ``sender`` must be this account)."""
        if tx.sender != self.address:
            raise ValueError("tx.sender is not this account")
        unsigned = dataclasses.replace(tx, signature=_placeholder_signature)
        return dataclasses.replace(tx, signature=self.signer.sign(unsigned.signing_bytes()))


class AgoraClient:
    """JSON-RPC client over HTTP (httpx, synchronous). Use as a context manager or close()."""

    def __init__(self, url: str, *, timeout_seconds: float = default_timeout_seconds,
                 http: httpx.Client | None = None) -> None:
        self.url = url
        self._http = http or httpx.Client(timeout=timeout_seconds)
        self._ids = itertools.count(1)
        self._chain: tuple[str, int] | None = None  # (chain_id, shard_count), cached

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- raw calls --------------------------------------------------------------------

    def call(self, method: str, *params: Any, timeout_seconds: float | None = None) -> Any:
        """Call one method with positional params; return its result or raise."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                "params": list(params)}
        timeout: Any = (
            httpx.USE_CLIENT_DEFAULT if timeout_seconds is None else timeout_seconds)
        try:
            response = self._http.post(self.url, json=body, timeout=timeout)
            reply = response.json()
        except httpx.HTTPError as error:
            raise TransportError(f"{self.url}: {error}") from error
        except ValueError as error:
            raise TransportError(f"{self.url}: HTTP {response.status_code}, not JSON") from error
        if not isinstance(reply, dict):
            raise TransportError(f"{self.url}: unexpected reply {reply!r:.200}")
        if "error" in reply:
            error_object = reply["error"]
            raise RpcCallError(error_object.get("code", 0), error_object.get("message", ""),
                               error_object.get("data"))
        if "result" not in reply:
            raise TransportError(f"{self.url}: reply has neither result nor error")
        return reply["result"]

    # -- chain facts ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("agora_status")
        return result

    def chain(self) -> tuple[str, int]:
        """(chain_id, shard_count), asked once and cached."""
        if self._chain is None:
            status = self.status()
            self._chain = (status["chain_id"], status["shard_count"])
        return self._chain

    # -- building transactions --------------------------------------------------------

    def build_transfer(self, account: Account, to: bytes, amount: int, **options: Any
                       ) -> Transaction:
        """A signed native transfer of ``amount`` to ``to``."""
        return self.build_call(account, b"", "transfer", (to, amount), **options)

    def build_mint(self, account: Account, to: bytes, amount: int, **options: Any
                   ) -> Transaction:
        """A signed native mint (only genesis issuers may mint)."""
        return self.build_call(account, b"", "mint", (to, amount), **options)

    def build_call(self, account: Account, contract: bytes, method: str,
                   args: tuple[Any, ...] = (), *, nonce: int | None = None,
                   expiry_height: int | None = None, expiry_blocks: int = default_expiry_blocks,
                   gas_limit: int = 0, chain_id: str | None = None) -> Transaction:
        """A signed transaction; ``args`` are plain values (ints, bytes, str, bool, None,
        tuples), encoded canonically."""
        chain, shard_count = self.chain() if chain_id is None else (chain_id, 0)
        unsigned = Transaction(
            chain_id=chain, sender=account.address,
            nonce=secrets.randbits(63) if nonce is None else nonce,
            expiry_height=0, gas_limit=gas_limit, contract=contract, method=method,
            args=codec.pack(tuple(args)), signature=_placeholder_signature)
        if expiry_height is None:
            shard_count = shard_count or self.chain()[1]
            latest = self.latest_block(home_shard(unsigned, shard_count))
            expiry_height = (0 if latest is None else latest["height"]) + expiry_blocks
        return account.sign(dataclasses.replace(unsigned, expiry_height=expiry_height))

    def build_deploy(self, account: Account, source: str,
                     init_args: dict[str, Any] | None = None, *, shard: int | None = None,
                     gas_limit: int | None = None, **options: Any) -> Transaction:
        """A signed deploy of ``source``; the contract address is ``tx.contract``. With
        ``shard`` the address is chosen in that shard (contracts that call each other must
        share one). Without ``gas_limit`` the deploy is simulated first
        (``estimate_gas``)."""
        from ledger.contracts import (contract_address, deploy_args, deploy_method,
                                    find_deploy_nonce)

        _chain, shard_count = self.chain()
        start = secrets.randbits(40)
        nonce = start if shard is None else find_deploy_nonce(
            account.address, shard, shard_count, start)
        return self._build_estimated(account, contract_address(account.address, nonce),
                                     deploy_method, deploy_args(source, init_args),
                                     gas_limit, nonce=nonce, **options)

    def build_contract_call(self, account: Account, contract: bytes, method: str,
                            args: dict[str, Any] | None = None, *,
                            gas_limit: int | None = None, **options: Any
                            ) -> Transaction:
        """A signed call of an exported contract method with named arguments. Without
        ``gas_limit`` the call is simulated first and given what it used plus a margin
        (``estimate_gas``)."""
        from ledger.contracts import encode_args

        return self._build_estimated(account, contract, method, encode_args(dict(args or {})),
                                     gas_limit, **options)

    def _build_estimated(self, account: Account, contract: bytes, method: str, args: bytes,
                         gas_limit: int | None, **options: Any) -> Transaction:
        if gas_limit is not None:
            return self.build_raw(account, contract, method, args, gas_limit=gas_limit,
                                  **options)
        probe = self.build_raw(account, contract, method, args, gas_limit=0, **options)
        return self.build_raw(account, contract, method, args,
                              gas_limit=self.estimate_gas(probe),
                              **{**options, "nonce": probe.nonce,
                                 "expiry_height": probe.expiry_height})

    def estimate_gas(self, tx: Transaction) -> int:
        """Gas for ``tx`` (its signature and gas limit are ignored): the gas an unsigned
        copy used in ``agora_simulate`` against the latest state, plus
        ``gas_margin_percent`` and ``gas_margin_min``. A simulation that fails still gets
        an estimate (the tx will fail the same way on chain, with its receipt)."""
        unsigned = dataclasses.replace(tx, gas_limit=0, signature=_placeholder_signature)
        result = self.call("agora_simulate", unsigned.encoded().hex())
        return gas_with_margin(int(result["gas_used"]))

    def build_raw(self, account: Account, contract: bytes, method: str, args: bytes, *,
                  nonce: int | None = None, expiry_height: int | None = None,
                  expiry_blocks: int = default_expiry_blocks, gas_limit: int = 0,
                  chain_id: str | None = None) -> Transaction:
        """A signed transaction whose ``args`` bytes are given as they are."""
        chain, shard_count = self.chain() if chain_id is None else (chain_id, 0)
        unsigned = Transaction(
            chain_id=chain, sender=account.address,
            nonce=secrets.randbits(63) if nonce is None else nonce,
            expiry_height=0, gas_limit=gas_limit, contract=contract, method=method,
            args=args, signature=_placeholder_signature)
        if expiry_height is None:
            shard_count = shard_count or self.chain()[1]
            latest = self.latest_block(home_shard(unsigned, shard_count))
            expiry_height = (0 if latest is None else latest["height"]) + expiry_blocks
        return account.sign(dataclasses.replace(unsigned, expiry_height=expiry_height))

    def view(self, contract: bytes, method: str, args: dict[str, Any] | None = None,
             sender: bytes | None = None) -> Any:
        """Call a ``@view`` method read-only; returns the decoded value."""
        from ledger.contracts import encode_args
        from vm import codec as vm_codec

        params: list[Any] = [contract.hex(), method, encode_args(dict(args or {})).hex()]
        if sender is not None:
            params.append(sender.hex())
        return vm_codec.decode(bytes.fromhex(self.call("agora_call", *params)))

    def sign(self, account: Account, tx: Transaction) -> Transaction:
        return account.sign(tx)

    # -- submitting -------------------------------------------------------------------

    def submit(self, tx: Transaction) -> bytes:
        """Send a signed tx; returns its hash once the node admitted it to its mempool."""
        return bytes.fromhex(self.call("agora_sendTransaction", tx.encoded().hex()))

    def submit_and_wait(self, tx: Transaction, timeout_seconds: float | None = None
                        ) -> dict[str, Any]:
        """Send and wait for the receipt (the server caps the wait). A receipt with
        ``ok`` false is returned, not raised: the tx committed and failed."""
        params: list[Any] = [tx.encoded().hex()]
        if timeout_seconds is not None:
            params.append(timeout_seconds)
        http_timeout = None if timeout_seconds is None else timeout_seconds + 10
        result: dict[str, Any] = self.call("agora_sendTransactionAndWait", *params,
                                           timeout_seconds=http_timeout)
        return result

    # -- queries ----------------------------------------------------------------------

    def get_receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("agora_getReceipt", tx_hash.hex())
        return result

    def get_transaction(self, tx_hash: bytes) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("agora_getTransaction", tx_hash.hex())
        return result

    def get_block(self, shard: int, height: int, full: bool = False) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("agora_getBlock", shard, height, full)
        return result

    def get_block_by_hash(self, block_hash: bytes, full: bool = False) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("agora_getBlockByHash", block_hash.hex(), full)
        return result

    def latest_block(self, shard: int) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("agora_latestBlock", shard)
        return result

    def get_account(self, address: bytes) -> dict[str, Any]:
        result: dict[str, Any] = self.call("agora_getAccount", address.hex())
        return result

    def balance(self, address: bytes) -> int:
        return int(self.get_account(address)["balance"])

    def get_state(self, shard: int, key: bytes) -> bytes | None:
        value = self.call("agora_getState", shard, key.hex())
        return None if value is None else bytes.fromhex(value)

    def validators(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("agora_validators")
        return result

    def peers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("agora_peers")
        return result

    def mempool(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("agora_mempool")
        return result
