"""HTTP routes of the simulator (aiohttp), driving the engine with real sleeps to deadlines."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cibench.sim import protocol, tokenizer
from cibench.sim.engine import Capacity, Engine, SeqState, Sequence, TimingModel
from cibench.sim.faults import Faults, FaultSettings
from cibench.sim.metrics import SimMetrics
from cibench.sim.options import SimOptions
from cibench.sim.plan import ChoicePlan, PlanSettings, plan_choices
from cibench.sim.prefix_cache import PrefixCache
from cibench.sim.protocol import ApiError, GenRequest
from cibench.sim.render import DONE, Renderer, RenderSettings, error_body, sse
from cibench.sim.waits import Waker

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("cibench.sim")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Simulator:
    """One simulator instance: options, engine, faults and metrics, plus the request handlers."""

    def __init__(
        self,
        options: SimOptions,
        clock: Callable[[], float] = time.monotonic,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        """:param exit_process: called by --crash-after (the default really kills the process)."""
        self.options = options
        self._clock = clock
        self._exit = exit_process
        self._rng = random.Random(options.seed)
        self._leak_bytes = options.leak_kb_per_request * 1024
        self._leaked: list[bytearray] = []
        ms = 1e-3
        self.engine = Engine(
            TimingModel(
                prefill_base_s=options.prefill_base_ms * ms,
                prefill_per_token_s=options.prefill_per_token_ms * ms,
                itl_base_s=options.itl_base_ms * ms,
                itl_per_running_seq_s=options.itl_per_running_seq_ms * ms,
                jitter=options.jitter,
                slowdown=options.slowdown,
                degrade_per_request=options.degrade_per_request,
            ),
            Capacity(options.max_num_seqs, options.kv_cache_tokens),
            clock,
            random.Random(options.seed + 1),
            on_admit=self._wake,
        )
        self.faults = Faults(
            FaultSettings(
                error_ratio=options.error_ratio,
                sse_error_ratio=options.sse_error_ratio,
                stall_ratio=options.stall_ratio,
                stall_seconds=options.stall_seconds,
                slow_start_seconds=options.slow_start_seconds,
                crash_after=options.crash_after,
                unhealthy_after_bad_request=options.unhealthy_after_bad_request,
            ),
            random.Random(options.seed + 2),
            clock,
        )
        self.metrics = SimMetrics(options.model_names[0])
        self.prefix_cache = (
            PrefixCache(options.prefix_block_tokens) if options.enable_prefix_caching else None
        )
        self._exported_preemptions = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._plan_settings = PlanSettings(options.reasoning, options.ignore_json_schema)
        self._waker = Waker(clock)

    # ---- app wiring --------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application serving every route."""
        # vLLM guards only the /v1 routes with its API key; /health, /metrics stay open.
        middlewares = [self._require_api_key] if self.options.api_key else []
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=middlewares)
        app.add_routes(
            [
                web.get("/health", self.health),
                web.get("/ping", self.health),
                web.get("/version", self.version),
                web.get("/v1/models", self.models),
                web.get("/metrics", self.prometheus),
                web.post("/tokenize", self.tokenize),
                web.post("/detokenize", self.detokenize),
                web.post("/v1/chat/completions", self.chat),
                web.post("/v1/completions", self.completions),
            ]
        )
        return app

    @web.middleware
    async def _require_api_key(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            expected = f"Bearer {self.options.api_key}"
            if request.headers.get("Authorization") != expected:
                return web.json_response({"error": "Unauthorized"}, status=401)
        return await handler(request)

    # ---- simple endpoints -------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """200 when healthy, 503 during slow start or after a poisoning bad request."""
        return web.Response(status=200 if self.faults.healthy() else 503)

    async def version(self, request: web.Request) -> web.Response:
        """The configured vLLM version."""
        return web.json_response({"version": self.options.vllm_version})

    async def models(self, request: web.Request) -> web.Response:
        """vLLM's model list: one entry per served name, `root` = --model."""
        created = int(time.time())
        data: list[dict[str, Any]] = [
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": self.options.model,
                "parent": None,
                "max_model_len": self.options.max_model_len,
                "permission": [],
            }
            for name in self.options.model_names
        ]
        return web.json_response({"object": "list", "data": data})

    async def prometheus(self, request: web.Request) -> web.Response:
        """Prometheus text exposition; gauges are sampled from the engine now."""
        m = self.metrics
        m.running.set(self.engine.num_running)
        m.waiting.set(self.engine.num_waiting)
        m.kv_usage.set(self.engine.kv_usage)
        preemptions = self.engine.num_preemptions
        m.preemptions.inc(preemptions - self._exported_preemptions)
        self._exported_preemptions = preemptions
        return web.Response(
            body=m.exposition(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def tokenize(self, request: web.Request) -> web.Response:
        """`{prompt}` or `{messages[, tools, add_generation_prompt]}` to count/tokens."""
        try:
            body = await self._json_body(request)
            self._check_model(body.get("model"))
            if "messages" in body:
                messages = body["messages"]
                if not isinstance(messages, list):
                    raise ApiError("messages must be an array.", param="messages")
                text = tokenizer.render_chat(
                    messages,
                    body.get("tools") or None,
                    add_generation_prompt=body.get("add_generation_prompt", True) is not False,
                )
            elif isinstance(body.get("prompt"), str):
                text = body["prompt"]
            else:
                raise ApiError("tokenize needs `prompt` (a string) or `messages`.", param="prompt")
        except ApiError as exc:
            return self._error(exc)
        pieces = tokenizer.split(text)
        return web.json_response(
            {
                "count": len(pieces),
                "max_model_len": self.options.max_model_len,
                "tokens": [tokenizer.piece_id(p) for p in pieces],
                "token_strs": pieces if body.get("return_token_strs") is True else None,
            }
        )

    async def detokenize(self, request: web.Request) -> web.Response:
        """`{tokens}` to `{prompt}`."""
        try:
            body = await self._json_body(request)
            self._check_model(body.get("model"))
            tokens = body.get("tokens")
            if not isinstance(tokens, list) or not all(tokenizer.is_valid_id(t) for t in tokens):
                raise ApiError(
                    "tokens must be a list of token ids in the vocabulary.", param="tokens"
                )
        except ApiError as exc:
            return self._error(exc)
        return web.json_response({"prompt": tokenizer.decode(tokens)})

    # ---- generation --------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """`/v1/chat/completions`."""
        return await self._generate(request, "chat")

    async def completions(self, request: web.Request) -> web.StreamResponse:
        """`/v1/completions`."""
        return await self._generate(request, "completions")

    async def _generate(self, request: web.Request, api: str) -> web.StreamResponse:
        arrival = self._clock()
        try:
            body = await self._json_body(request)
            req = protocol.parse_chat(body) if api == "chat" else protocol.parse_completion(body)
            self._check_model(req.model)
            budgets = self._budgets(req)
        except ApiError as exc:
            return self._error(exc)
        if self.faults.fail_request():
            return self._error(
                ApiError("Injected internal server error.", 500, "InternalServerError")
            )
        plans = plan_choices(req, self._plan_settings, budgets, self._rng)
        prompt_tokens = sum(req.prompt_tokens)
        renderer = Renderer(
            api,
            f"{'chatcmpl' if api == 'chat' else 'cmpl'}-{uuid.uuid4().hex}",
            int(time.time()),
            req.model or self.options.model_names[0],
            plans,
            prompt_tokens,
            RenderSettings(
                reasoning=self.options.reasoning,
                reasoning_key=self.options.reasoning_key,
                wrong_finish_reason=self.options.wrong_finish_reason,
                include_reasoning=req.include_reasoning,
            ),
            logprobs=req.logprobs,
            prompts=req.prompts,
            echo=req.echo,
        )
        steps = max(p.num_tokens for p in plans)
        cached = 0
        if self.prefix_cache is not None:
            cached = self.prefix_cache.lookup_and_store(tokenizer.split("".join(req.prompts)))
            self.metrics.prefix_queries.inc(prompt_tokens)
            self.metrics.prefix_hits.inc(min(cached, prompt_tokens))
        seq = self.engine.submit(
            prompt_tokens, steps, weight=len(plans), arrival_s=arrival, cached_tokens=cached
        )
        self.metrics.prompt_tokens.inc(prompt_tokens)
        timings = _Timings()
        try:
            if req.stream:
                response = await self._stream(request, req, plans, renderer, seq, timings)
            else:
                for _ in range(steps):
                    await self._next_token(seq)
                    self._token_emitted(timings)
                response = web.json_response(renderer.body(), dumps=_dumps)
        finally:
            # frees the batch slot when the client went away or the server is stopping;
            # a no-op for a finished sequence
            self.engine.abort(seq)
        self._finished(seq, plans, arrival, timings)
        return response

    async def _stream(
        self,
        request: web.Request,
        req: GenRequest,
        plans: list[ChoicePlan],
        renderer: Renderer,
        seq: Sequence,
        timings: _Timings,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        try:
            await self._stream_tokens(response, req, plans, renderer, seq, timings)
        except ConnectionResetError:
            timings.failed = True  # the client went away; nothing more to send
        return response

    async def _stream_tokens(
        self,
        response: web.StreamResponse,
        req: GenRequest,
        plans: list[ChoicePlan],
        renderer: Renderer,
        seq: Sequence,
        timings: _Timings,
    ) -> None:
        steps = seq.output_tokens
        error_at = steps // 2 if self.faults.sse_error() else -1
        stall_s = self.faults.stall_seconds()
        stall_at = steps // 2 if stall_s else -1
        continuous = req.continuous_usage
        step = 0
        while step < steps:
            if step == error_at:
                payload = error_body(
                    self.options.error_envelope,
                    "Injected in-band error.",
                    "InternalServerError",
                    500,
                    None,
                )
                tail = b"" if self.options.omit_done else DONE
                await response.write_eof(sse(payload) + tail)
                timings.failed = True
                return
            if step == stall_at:
                await asyncio.sleep(stall_s)
            await self._next_token(seq)
            parts = [renderer.opening(p) for p in plans] if step == 0 else []
            while True:
                parts.extend(
                    renderer.token_chunk(plan, step, continuous)
                    for plan in plans
                    if step < plan.num_tokens
                )
                self._token_emitted(timings)
                step += 1
                # tokens already due go out in the same write (a server that is behind, or a
                # zero-latency one): one send instead of one per token
                if (
                    step >= steps
                    or step in (error_at, stall_at)
                    or seq.state is not SeqState.RUNNING
                    or not self._waker.due(seq.deadline_s)
                ):
                    break
                self.engine.complete_token(seq)
            if step < steps:
                await response.write(b"".join(parts))
        # the last tokens, the usage chunk, [DONE] and the end of the chunked body: one send
        if req.include_usage:
            parts.append(renderer.usage_chunk())
        if not self.options.omit_done:
            parts.append(DONE)
        await response.write_eof(b"".join(parts))

    async def _next_token(self, seq: Sequence) -> None:
        """Wait until `seq`'s next token is due, then record it in the engine."""
        loop = asyncio.get_running_loop()
        while True:
            if seq.state is SeqState.WAITING:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters[seq.seq_id] = waiter
                try:
                    await waiter
                finally:
                    # a cancelled (disconnected) request must not leave its waiter behind
                    self._waiters.pop(seq.seq_id, None)
                continue
            if seq.state is SeqState.FINISHED:
                raise RuntimeError(f"sequence {seq.seq_id} finished before its last token")
            if self._waker.due(seq.deadline_s):
                self.engine.complete_token(seq)
                return
            # re-checked after waking: a preemption may have moved the deadline meanwhile
            await self._waker.sleep_toward(seq.deadline_s)

    def _wake(self, seq: Sequence) -> None:
        waiter = self._waiters.pop(seq.seq_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _token_emitted(self, timings: _Timings) -> None:
        now = self._clock()
        if timings.first_s is None:
            timings.first_s = now
        else:
            self.metrics.itl.observe(now - timings.last_s)
        timings.last_s = now

    def _finished(
        self, seq: Sequence, plans: list[ChoicePlan], arrival: float, timings: _Timings
    ) -> None:
        m = self.metrics
        if timings.first_s is not None and not timings.failed:
            admitted = seq.first_admitted_s if seq.first_admitted_s is not None else arrival
            m.ttft.observe(timings.first_s - arrival)
            m.queue.observe(admitted - arrival)
            m.prefill.observe(timings.first_s - admitted)
            m.decode.observe(timings.last_s - timings.first_s)
            m.e2e.observe(timings.last_s - arrival)
            m.generation_tokens.inc(sum(p.num_tokens for p in plans))
            m.success.inc()
        if self._leak_bytes:
            self._leaked.append(bytearray(b"\x01" * self._leak_bytes))  # touched: counts in RSS
        if self.faults.request_completed():
            log.warning("--crash-after reached: exiting")
            # let the last response reach the client before dying
            asyncio.get_running_loop().call_later(0.05, self._exit, 1)

    # ---- helpers -----------------------------------------------------------------------------

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type in _FORM_TYPES:
            raise ApiError(
                f"Unsupported Content-Type {request.content_type!r}; send application/json."
            )
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(f"Invalid JSON body: {exc}.") from exc
        if not isinstance(body, dict):
            raise ApiError("The request body must be a JSON object.")
        return body

    def _check_model(self, model: object) -> None:
        if model and model not in self.options.model_names:
            raise ApiError(f"The model `{model}` does not exist.", 404, "NotFoundError", "model")

    def _budgets(self, req: GenRequest) -> list[int]:
        """max_tokens in force per prompt; 400 when a prompt cannot fit the context window."""
        limit = self.options.max_model_len
        budgets = []
        for tokens in req.prompt_tokens:
            wanted = req.max_tokens if req.max_tokens is not None else max(1, limit - tokens)
            if tokens + wanted > limit:
                raise ApiError(
                    f"This model's maximum context length is {limit} tokens. However, you "
                    f"requested {tokens + wanted} tokens ({tokens} in the messages, {wanted} in "
                    "the completion). Please reduce the length of the messages or completion.",
                    param="input_tokens",
                )
            budgets.append(wanted)
        return budgets

    def _error(self, exc: ApiError) -> web.Response:
        status, err_type = exc.status, exc.err_type
        if status == 400:
            self.faults.bad_request()
            if self.options.invalid_params_500:
                status, err_type = 500, "InternalServerError"
        body = error_body(self.options.error_envelope, exc.message, err_type, status, exc.param)
        return web.json_response(body, status=status, dumps=_dumps)


class _Timings:
    """Emission times of one request, for the latency histograms."""

    __slots__ = ("failed", "first_s", "last_s")

    def __init__(self) -> None:
        self.first_s: float | None = None
        self.last_s = 0.0
        self.failed = False


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
