"""A prefix cache for the simulator: prompt tokens already seen skip their prefill time.

Modelled on vLLM's automatic prefix caching: the prompt is cut into full blocks of
`block_tokens` tokens; each block is keyed by the hash of everything up to its end, so a
block hits only when the whole prefix before it matches. A request's cached tokens are its
leading run of hit blocks; the blocks it brings are then stored, oldest evicted first beyond
`capacity_blocks`. Counters match vLLM's `prefix_cache_queries` (prompt tokens looked up)
and `prefix_cache_hits` (tokens found).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

__all__ = ["PrefixCache"]


class PrefixCache:
    """LRU set of prompt-block hashes; `lookup_and_store` answers how many tokens hit."""

    def __init__(self, block_tokens: int = 16, capacity_blocks: int = 65_536) -> None:
        """Stores the geometry; the cache starts empty."""
        if block_tokens < 1 or capacity_blocks < 1:
            raise ValueError("block_tokens and capacity_blocks must be >= 1")
        self.block_tokens = block_tokens
        self.capacity_blocks = capacity_blocks
        self._blocks: OrderedDict[bytes, None] = OrderedDict()
        self.queries = 0
        self.hits = 0

    def _keys(self, tokens: Sequence[str]) -> list[bytes]:
        digest = hashlib.blake2b(digest_size=16)
        keys: list[bytes] = []
        size = self.block_tokens
        for end in range(size, len(tokens) + 1, size):
            digest.update("\x00".join(tokens[end - size : end]).encode("utf-8"))
            digest.update(b"\x01")
            keys.append(digest.copy().digest())
        return keys

    def lookup_and_store(self, tokens: Sequence[str]) -> int:
        """Prompt tokens served from the cache (a multiple of the block size); stores the
        prompt's full blocks for later requests."""
        keys = self._keys(tokens)
        hit_blocks = 0
        for key in keys:
            if key not in self._blocks:
                break
            hit_blocks += 1
        for key in keys:
            self._blocks[key] = None
            self._blocks.move_to_end(key)
        while len(self._blocks) > self.capacity_blocks:
            self._blocks.popitem(last=False)
        cached = hit_blocks * self.block_tokens
        self.queries += len(tokens)
        self.hits += cached
        return cached
