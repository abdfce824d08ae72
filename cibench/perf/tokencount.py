"""Ask the server how many tokens a prompt is: `/tokenize` when it has one, else a usage probe.

Runs while the workload is built, before any clock starts. For chat the count includes the
chat template, so it matches the `usage.prompt_tokens` the server will report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from cibench.config.perf import Sizing
from cibench.errors import CibenchError
from cibench.perf.workload import chat_body

__all__ = ["PROBE_CALIBRATION_PROMPTS", "TokenCounter", "open_counter"]

PROBE_CALIBRATION_PROMPTS = 4
"""Calibration prompts sized by usage probes; the measured prompts take their pooled
tokens-per-unit ratio and are never probed themselves (`cibench.perf.workload.build_prompts`)."""


@dataclass(slots=True)
class TokenCounter:
    """Counts prompt tokens through `method` ('tokenize' or 'usage')."""

    client: httpx.Client
    base_url: str
    model: str
    api: str
    method: str
    calls: int = 0
    cache: dict[str, int] = field(default_factory=dict)
    """Counts already asked for (sizing re-measures the same prefixes; a dict is thread-safe
    for these single reads and writes)."""

    def __call__(self, text: str) -> int:
        """The prompt tokens the server reports for `text` (asked once per distinct text)."""
        known = self.cache.get(text)
        if known is not None:
            return known
        self.calls += 1
        count = self._tokenize(text) if self.method == "tokenize" else self._probe(text)
        self.cache[text] = count
        return count

    def _prompt(self, text: str) -> dict[str, Any]:
        return chat_body(text) if self.api == "chat" else {"prompt": text}

    def _tokenize(self, text: str) -> int:
        url = f"{self.base_url}/tokenize"
        response = self.client.post(url, json={"model": self.model, **self._prompt(text)})
        if response.status_code != 200:
            raise CibenchError(
                f"POST {url} answered {response.status_code}: {response.text[:200]}. "
                "Set `sizing: usage` in the perf profile if this server's /tokenize differs."
            )
        count = response.json().get("count")
        if not isinstance(count, int):
            raise CibenchError(f"POST {url}: no integer 'count' in the answer")
        return count

    def _probe(self, text: str) -> int:
        path = "/v1/chat/completions" if self.api == "chat" else "/v1/completions"
        url = f"{self.base_url}{path}"
        body = {"model": self.model, "max_tokens": 1, "stream": False, **self._prompt(text)}
        response = self.client.post(url, json=body)
        if response.status_code != 200:
            raise CibenchError(
                f"POST {url} (a 1-token probe to size prompts) answered "
                f"{response.status_code}: {response.text[:200]}"
            )
        usage = response.json().get("usage") or {}
        tokens = usage.get("prompt_tokens")
        if not isinstance(tokens, int):
            raise CibenchError(
                f"POST {url}: the answer has no usage.prompt_tokens, so prompts cannot be "
                "sized in tokens. Use a server that reports usage or provides /tokenize."
            )
        return tokens


def open_counter(
    client: httpx.Client, base_url: str, model: str, api: str, sizing: Sizing
) -> TokenCounter:
    """A counter using /tokenize (`auto` tries it first) or usage probes."""
    counter = TokenCounter(client, base_url, model, api, "tokenize")
    if sizing == "usage":
        counter.method = "usage"
    elif sizing == "auto":
        try:
            counter("probe")
        except (CibenchError, httpx.HTTPError, ValueError):
            counter.method = "usage"
    return counter
