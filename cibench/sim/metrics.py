"""vLLM-named Prometheus metrics on a registry owned by one simulator app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# bucket edges as vLLM uses them for request-level latencies (seconds)
_LATENCY_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
_TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
_ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)


class SimMetrics:
    """The metric families the simulator exports, each pre-bound to its `model_name` label."""

    def __init__(self, model_name: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        label = ["model_name"]

        def hist(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, label, registry=r, buckets=buckets)

        self.ttft = hist(
            "vllm:time_to_first_token_seconds", "Time to first token.", _TTFT_BUCKETS
        ).labels(model_name)
        self.e2e = hist(
            "vllm:e2e_request_latency_seconds", "End-to-end request latency.", _LATENCY_BUCKETS
        ).labels(model_name)
        self.itl = hist(
            "vllm:inter_token_latency_seconds", "Time between tokens.", _ITL_BUCKETS
        ).labels(model_name)
        self.queue = hist(
            "vllm:request_queue_time_seconds", "Time waiting in the queue.", _LATENCY_BUCKETS
        ).labels(model_name)
        self.prefill = hist(
            "vllm:request_prefill_time_seconds", "Time in prefill.", _LATENCY_BUCKETS
        ).labels(model_name)
        self.decode = hist(
            "vllm:request_decode_time_seconds", "Time in decode.", _LATENCY_BUCKETS
        ).labels(model_name)
        self.running = Gauge(
            "vllm:num_requests_running", "Requests decoding.", label, registry=r
        ).labels(model_name)
        self.waiting = Gauge(
            "vllm:num_requests_waiting", "Requests queued.", label, registry=r
        ).labels(model_name)
        self.kv_usage = Gauge(
            "vllm:kv_cache_usage_perc", "KV cache usage (1 = 100%).", label, registry=r
        ).labels(model_name)
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Prefill tokens processed.", label, registry=r
        ).labels(model_name)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Generation tokens processed.", label, registry=r
        ).labels(model_name)
        self.success = Counter(
            "vllm:request_success", "Successful requests.", label, registry=r
        ).labels(model_name)
        self.preemptions = Counter(
            "vllm:num_preemptions", "Cumulative preemptions.", label, registry=r
        ).labels(model_name)

    def exposition(self) -> bytes:
        """Prometheus text format of every family."""
        return generate_latest(self.registry)
