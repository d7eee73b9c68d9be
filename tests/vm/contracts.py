"""Contract sources the VM tests rely on, frozen here so template changes do not move them."""

from __future__ import annotations

from pathlib import Path

_bench = Path(__file__).resolve().parents[2] / "bench" / "evm"
TOKEN = (_bench / "agora_token.py").read_text(encoding="ascii")
NFT = (_bench / "agora_nft.py").read_text(encoding="ascii")
