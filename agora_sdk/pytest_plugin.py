"""The ``agora_chain`` pytest fixture: a fresh in-process :class:`TestChain` per test.

Registered through the ``pytest11`` entry point of the ``agora`` package, so any project
with Agora installed can write ``def test_x(agora_chain): ...`` without a conftest.
"""

from __future__ import annotations

import pytest

from agora_sdk.testing import TestChain


@pytest.fixture
def agora_chain() -> TestChain:
    """A one-shard chain in memory with five funded accounts (``agora_chain.accounts``)."""
    return TestChain()
