"""vLLM-named Prometheus metrics on a registry owned by one simulator app."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# bucket edges as vLLM uses them for request-level latencies (seconds)
_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
_TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
_ITL_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0,
)  # fmt: skip


class FastHistogram(Collector):
    """A single-label histogram with lock-free bisect observation.

    prometheus_client's `Histogram.observe` takes locks and updates several value objects; at
    one observation per streamed token that was 15% of the server's CPU. The event loop is
    single-threaded, so plain counters are safe here.
    """

    def __init__(
        self, name: str, documentation: str, label: str, buckets: tuple[float, ...]
    ) -> None:
        self._name = name
        self._doc = documentation
        self._label = label
        self._bounds = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last slot is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one value (seconds)."""
        # bisect_left: a value equal to a bound falls in that bound's `le` bucket
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self.sum += value
        self.count += 1

    def collect(self) -> Iterator[Metric]:
        """The family in Prometheus form (cumulative buckets)."""
        family = HistogramMetricFamily(self._name, self._doc, labels=["model_name"])
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, n in zip((*self._bounds, float("inf")), self._counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        family.add_metric([self._label], buckets, self.sum)
        yield family


class SimMetrics:
    """The metric families the simulator exports, each bound to its `model_name` label."""

    def __init__(self, model_name: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        label = ["model_name"]

        def hist(name: str, doc: str, buckets: tuple[float, ...]) -> FastHistogram:
            histogram = FastHistogram(name, doc, model_name, buckets)
            r.register(histogram)
            return histogram

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, label, registry=r).labels(model_name)

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, label, registry=r).labels(model_name)

        self.ttft = hist(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
            _TTFT_BUCKETS,
        )  # fmt: skip
        self.e2e = hist(
            "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
            _LATENCY_BUCKETS,
        )  # fmt: skip
        self.itl = hist(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
            _ITL_BUCKETS,
        )  # fmt: skip
        self.queue = hist(
            "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase.",
            _LATENCY_BUCKETS,
        )  # fmt: skip
        self.prefill = hist(
            "vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase.",
            _LATENCY_BUCKETS,
        )  # fmt: skip
        self.decode = hist(
            "vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase.",
            _LATENCY_BUCKETS,
        )  # fmt: skip
        self.running = gauge("vllm:num_requests_running", "Number of requests in RUNNING.")
        self.waiting = gauge("vllm:num_requests_waiting", "Number of requests WAITING.")
        self.kv_usage = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent.")
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter(
            "vllm:generation_tokens", "Number of generation tokens processed."
        )
        self.success = counter("vllm:request_success", "Count of successfully processed requests.")
        self.preemptions = counter("vllm:num_preemptions", "Cumulative number of preemptions.")
        self.prefix_queries = counter(
            "vllm:prefix_cache_queries",
            "Prefix cache queries, in terms of number of queried tokens.",
        )
        self.prefix_hits = counter(
            "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens."
        )

    def exposition(self) -> bytes:
        """Prometheus text format of every family."""
        return generate_latest(self.registry)
