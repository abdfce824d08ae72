"""Command-line options of the simulator, parsed into one frozen `SimOptions`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Everything the simulator can be told on its command line (times in milliseconds)."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: str = "sim-model"
    served_model_names: tuple[str, ...] = ()
    max_model_len: int = 4096
    max_num_seqs: int = 256
    kv_cache_tokens: int = 1_000_000
    enable_prefix_caching: bool = False
    prefix_block_tokens: int = 16
    prefill_base_ms: float = 5.0
    prefill_per_token_ms: float = 0.02
    itl_base_ms: float = 2.0
    itl_per_running_seq_ms: float = 0.01
    jitter: float = 0.0
    seed: int = 0
    reasoning: bool = False
    reasoning_key: str = "reasoning_content"
    vllm_version: str = "0.11.0"
    error_envelope: str = "nested"
    error_ratio: float = 0.0
    sse_error_ratio: float = 0.0
    slow_start_seconds: float = 0.0
    crash_after: int = 0
    stall_ratio: float = 0.0
    stall_seconds: float = 0.0
    slowdown: float = 1.0
    degrade_per_request: float = 0.0
    leak_kb_per_request: int = 0
    ignore_json_schema: bool = False
    omit_done: bool = False
    wrong_finish_reason: bool = False
    invalid_params_500: bool = False
    unhealthy_after_bad_request: bool = False
    log_level: str = "warning"
    api_key: str | None = field(default=None, repr=False)

    @property
    def model_names(self) -> tuple[str, ...]:
        """Names the server answers to; the first is reported in responses."""
        return self.served_model_names or (self.model,)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0.0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The `python -m cibench.sim` argument parser; every flag is documented in `--help`."""
    d = SimOptions()
    p = argparse.ArgumentParser(
        prog="python -m cibench.sim",
        description=(
            "vLLM-compatible simulator: OpenAI chat/completions API with a continuous-batching "
            "timing model, deterministic tokenizer and fault injection. Times are in ms."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    server = p.add_argument_group("server")
    server.add_argument("--host", default=d.host, help="address to listen on")
    server.add_argument("--port", type=int, default=d.port, help="TCP port to listen on")
    server.add_argument(
        "--model", default=d.model, help="model path/name (the `root` in /v1/models)"
    )
    server.add_argument(
        "--served-model-name",
        nargs="+",
        action="extend",
        default=[],
        dest="served_model_names",
        help="names the API answers to (default: --model); the first is echoed in responses",
    )
    server.add_argument(
        "--max-model-len",
        type=_positive_int,
        default=d.max_model_len,
        help="context window: prompt tokens + max_tokens must fit",
    )
    server.add_argument(
        "--vllm-version", default=d.vllm_version, help="version string for /version"
    )
    server.add_argument(
        "--api-key",
        default=os.environ.get("VLLM_API_KEY"),
        help="require `Authorization: Bearer KEY` on /v1/* routes, as `vllm serve --api-key` "
        "does (default: $VLLM_API_KEY; prefer the env var, a command line is visible to ps)",
    )
    server.add_argument(
        "--error-envelope",
        choices=("nested", "flat"),
        default=d.error_envelope,
        help="error body: nested {'error': {...}} (vLLM >= 0.10.1) or flat "
        "{'object': 'error', ...} (older vLLM)",
    )
    server.add_argument(
        "--reasoning",
        action="store_true",
        help="act as a reasoning model: emit reasoning tokens before the content",
    )
    server.add_argument(
        "--reasoning-key",
        choices=("reasoning_content", "reasoning"),
        default=d.reasoning_key,
        help="field name of the reasoning text",
    )
    server.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seed for unseeded sampling, jitter and fault draws",
    )
    server.add_argument(
        "--log-level",
        default=d.log_level,
        choices=("debug", "info", "warning", "error"),
        help="logging level",
    )

    timing = p.add_argument_group("timing model (continuous batching)")
    timing.add_argument(
        "--max-num-seqs",
        type=_positive_int,
        default=d.max_num_seqs,
        help="most sequences decoding at once; the rest wait in a FIFO queue",
    )
    timing.add_argument(
        "--kv-cache-tokens",
        type=_positive_int,
        default=d.kv_cache_tokens,
        help="KV budget in tokens (prompt + generated of running sequences); "
        "overflow preempts the newest running sequence",
    )
    timing.add_argument(
        "--enable-prefix-caching",
        action="store_true",
        default=d.enable_prefix_caching,
        help="cache prompt blocks as vLLM does: tokens of a prefix already seen skip their "
        "prefill time (counted in vllm:prefix_cache_queries/hits)",
    )
    timing.add_argument(
        "--prefix-block-tokens",
        type=_positive_int,
        default=d.prefix_block_tokens,
        help="prefix-cache block size in tokens (only whole blocks hit)",
    )
    timing.add_argument(
        "--prefill-base-ms",
        type=_non_negative_float,
        default=d.prefill_base_ms,
        help="fixed part of the prefill time (TTFT without queueing)",
    )
    timing.add_argument(
        "--prefill-per-token-ms",
        type=_non_negative_float,
        default=d.prefill_per_token_ms,
        help="prefill time per prompt token",
    )
    timing.add_argument(
        "--itl-base-ms",
        type=_non_negative_float,
        default=d.itl_base_ms,
        help="fixed part of the time between two tokens",
    )
    timing.add_argument(
        "--itl-per-running-seq-ms",
        type=_non_negative_float,
        default=d.itl_per_running_seq_ms,
        help="extra time between two tokens per running sequence",
    )
    timing.add_argument(
        "--jitter",
        type=_fraction,
        default=d.jitter,
        help="each interval is scaled by a seeded uniform factor in [1-j, 1+j]",
    )
    timing.add_argument(
        "--slowdown",
        type=_positive_float,
        default=d.slowdown,
        help="multiply every latency by this factor (fakes a regression)",
    )
    timing.add_argument(
        "--degrade-per-request",
        type=_fraction,
        default=d.degrade_per_request,
        help="every finished request makes later latencies this fraction slower (fakes drift)",
    )

    faults = p.add_argument_group("fault injection")
    faults.add_argument(
        "--leak-kb-per-request",
        type=int,
        default=d.leak_kb_per_request,
        help="keep this many KiB of memory per completed request (fakes a memory leak)",
    )
    faults.add_argument(
        "--error-ratio",
        type=_fraction,
        default=d.error_ratio,
        help="fraction of generation requests answered with HTTP 500",
    )
    faults.add_argument(
        "--sse-error-ratio",
        type=_fraction,
        default=d.sse_error_ratio,
        help="fraction of streams that send an in-band error event mid-way, then [DONE]",
    )
    faults.add_argument(
        "--slow-start-seconds",
        type=_non_negative_float,
        default=d.slow_start_seconds,
        help="/health answers 503 for this long",
    )
    faults.add_argument(
        "--crash-after",
        type=_non_negative_int,
        default=d.crash_after,
        help="exit the process hard after this many completed requests (0: never)",
    )
    faults.add_argument(
        "--stall-ratio",
        type=_fraction,
        default=d.stall_ratio,
        help="fraction of streams that stop sending half-way for --stall-seconds",
    )
    faults.add_argument(
        "--stall-seconds",
        type=_non_negative_float,
        default=d.stall_seconds,
        help="how long a stalled stream sends nothing",
    )

    conf = p.add_argument_group("conformance breakers (to test the functional suite)")
    conf.add_argument(
        "--ignore-json-schema",
        action="store_true",
        help="ignore response_format and answer plain text",
    )
    conf.add_argument("--omit-done", action="store_true", help="never send `data: [DONE]`")
    conf.add_argument(
        "--wrong-finish-reason",
        action="store_true",
        help="report 'stop' for 'length' and 'length' for 'stop'/'tool_calls'",
    )
    conf.add_argument(
        "--invalid-params-500",
        action="store_true",
        help="answer invalid parameters with 500 instead of 400",
    )
    conf.add_argument(
        "--unhealthy-after-bad-request",
        action="store_true",
        help="after any 400 answer, /health turns 503 for good",
    )
    return p


def parse_options(argv: Sequence[str] | None = None) -> SimOptions:
    """Parse a command line into `SimOptions` (argparse exits with a usage error on bad input)."""
    ns = build_parser().parse_args(argv)
    values = vars(ns)
    values["served_model_names"] = tuple(values["served_model_names"])
    return SimOptions(**values)
