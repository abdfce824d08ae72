"""Server-side figures of a load point from two `/metrics` scrapes (pure: text in, numbers out).

vLLM exports request-level histograms; the mean over the load point is
Δ`_sum` / Δ`_count` between a scrape just before the measured phase and one just after.
llama.cpp's server only has counters: its mean decode time per token maps to TPOT and its
prompt seconds per request to prefill. Anything the server does not export stays None.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ServerMetrics", "parse_totals", "prefix_cache_hit_rate", "server_metrics"]

# metric family -> field, first match wins (newer vLLM names first)
_VLLM_HISTOGRAMS: dict[str, tuple[str, ...]] = {
    "ttft_s": ("vllm:time_to_first_token_seconds",),
    "tpot_s": (
        "vllm:request_time_per_output_token_seconds",
        "vllm:time_per_output_token_seconds",
        "vllm:inter_token_latency_seconds",
    ),
    "e2e_s": ("vllm:e2e_request_latency_seconds",),
    "queue_s": ("vllm:request_queue_time_seconds",),
    "prefill_s": ("vllm:request_prefill_time_seconds",),
    "decode_s": ("vllm:request_decode_time_seconds",),
}
_PREEMPTIONS = ("vllm:num_preemptions_total", "vllm:num_preemptions")
# (queried tokens, hit tokens) counters, V1 names first; V0's hit-rate gauge as a last resort
_PREFIX_CACHE = (
    ("vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"),
    ("vllm:gpu_prefix_cache_queries_total", "vllm:gpu_prefix_cache_hits_total"),
)
_PREFIX_HIT_RATE_GAUGE = "vllm:gpu_prefix_cache_hit_rate"


@dataclass(frozen=True, slots=True)
class ServerMetrics:
    """Server-reported means over a load point, in seconds; preemptions as a count."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None
    queue_s: float | None = None
    prefill_s: float | None = None
    decode_s: float | None = None
    preemptions: float | None = None
    prefix_cache_hit_rate: float | None = None
    """Prompt tokens served from the prefix cache / prompt tokens looked up (0-1)."""


def prefix_cache_hit_rate(before: dict[str, float], after: dict[str, float]) -> float | None:
    """Δhits / Δqueries of the prefix-cache token counters (None: not exported, or no query)."""
    for queries_name, hits_name in _PREFIX_CACHE:
        queries = _delta(before, after, queries_name)
        hits = _delta(before, after, hits_name)
        if queries is not None and hits is not None:
            return hits / queries if queries > 0 else None
    return after.get(_PREFIX_HIT_RATE_GAUGE)


def parse_totals(text: str) -> dict[str, float]:
    """Every sample name of a Prometheus text exposition summed over its label sets.

    Samples keep their own names: histograms `x_sum`/`x_count`, counters `x_total`.
    """
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket") or sample.name.endswith("_created"):
                continue
            totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    return totals


def _delta(before: dict[str, float], after: dict[str, float], name: str) -> float | None:
    if name not in after:
        return None
    return after[name] - before.get(name, 0.0)


def _histogram_mean(before: dict[str, float], after: dict[str, float], name: str) -> float | None:
    total = _delta(before, after, f"{name}_sum")
    count = _delta(before, after, f"{name}_count")
    if total is None or not count or count <= 0:
        return None
    return total / count


def _first(
    before: dict[str, float], after: dict[str, float], names: tuple[str, ...]
) -> float | None:
    for name in names:
        value = _histogram_mean(before, after, name)
        if value is not None:
            return value
    return None


def _llamacpp(before: dict[str, float], after: dict[str, float], requests: int) -> ServerMetrics:
    decode_s = _delta(before, after, "llamacpp:tokens_predicted_seconds_total")
    decoded = _delta(before, after, "llamacpp:tokens_predicted_total")
    prompt_s = _delta(before, after, "llamacpp:prompt_seconds_total")
    return ServerMetrics(
        tpot_s=decode_s / decoded if decode_s is not None and decoded else None,
        prefill_s=prompt_s / requests if prompt_s is not None and requests > 0 else None,
    )


def server_metrics(before: str | None, after: str | None, requests: int) -> ServerMetrics:
    """Means over the span between two scrapes; all None when either scrape is missing.

    :param requests: requests sent in the span, used where the server counts time but not
        requests (llama.cpp prompt seconds).
    """
    if before is None or after is None:
        return ServerMetrics()
    start, end = parse_totals(before), parse_totals(after)
    if any(name.startswith("vllm:") for name in end):
        preemptions = None
        for name in _PREEMPTIONS:
            preemptions = _delta(start, end, name)
            if preemptions is not None:
                break
        return ServerMetrics(
            preemptions=preemptions,
            prefix_cache_hit_rate=prefix_cache_hit_rate(start, end),
            **{field: _first(start, end, names) for field, names in _VLLM_HISTOGRAMS.items()},
        )
    if any(name.startswith("llamacpp:") for name in end):
        return _llamacpp(start, end, requests)
    return ServerMetrics()
