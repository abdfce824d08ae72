"""The simulator's prefix cache: whole blocks of a matching prefix hit, oldest blocks go first."""

from __future__ import annotations

import pytest

from cibench.sim.prefix_cache import PrefixCache


def tokens(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def test_only_whole_blocks_of_the_same_prefix_hit() -> None:
    cache = PrefixCache(block_tokens=4)
    shared = tokens("s", 10)
    assert cache.lookup_and_store(shared + tokens("a", 6)) == 0
    assert cache.lookup_and_store(shared + tokens("b", 6)) == 8  # 2 whole blocks of 10 tokens
    assert cache.lookup_and_store(tokens("x", 1) + shared) == 0  # same tokens, other prefix
    assert (cache.queries, cache.hits) == (16 + 16 + 11, 8)


def test_the_least_recently_used_blocks_are_evicted() -> None:
    cache = PrefixCache(block_tokens=2, capacity_blocks=2)
    first, second = tokens("f", 4), tokens("s", 4)
    cache.lookup_and_store(first)
    cache.lookup_and_store(second)  # evicts both blocks of `first`
    assert cache.lookup_and_store(first) == 0
    assert cache.lookup_and_store(first) == 4


def test_geometry_must_be_positive() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        PrefixCache(block_tokens=0)
