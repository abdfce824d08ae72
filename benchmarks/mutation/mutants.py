"""The mutants: one named server bug each, applied by the proxy to requests or responses.

A mutant rewrites what the simulator is asked (a server that ignores a parameter: the proxy
drops it before the simulator sees it) or what it answers (a server that gets a field, the
framing, usage or an error wrong). Every rewrite is deterministic except where the bug is
non-determinism itself, so one run of the suite either kills a mutant or it does not.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

GENERATION = ("/v1/chat/completions", "/v1/completions")
Json = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One proxied request and the answer the client will receive."""

    method: str
    path: str
    request: Json | None
    status: int
    content_type: str
    body: bytes

    @property
    def streamed(self) -> bool:
        """Whether the answer is a server-sent event stream."""
        return self.content_type.startswith("text/event-stream")

    @property
    def generation(self) -> bool:
        """Whether this is a chat or completions call."""
        return self.path in GENERATION


RequestRewrite = Callable[[str, Json], Json]
ResponseRewrite = Callable[[Exchange], Exchange]


@dataclass(frozen=True, slots=True)
class Mutant:
    """A named bug: how it rewrites requests and/or responses."""

    name: str
    category: str
    bug: str
    on_request: RequestRewrite | None = None
    on_response: ResponseRewrite | None = None
    state: dict[str, Any] = field(default_factory=dict, compare=False)


# ---- helpers over bodies and streams ---------------------------------------------------------


def sse_events(body: bytes) -> list[bytes]:
    """The `data:` payloads of a stream, in order (`[DONE]` included)."""
    events = []
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                events.append(line[5:].strip())
    return events


def render_sse(payloads: list[bytes]) -> bytes:
    """Payloads back into `data: ...` events."""
    return b"".join(b"data: " + payload + b"\n\n" for payload in payloads)


def _chunks(body: bytes) -> tuple[list[Json], bool]:
    payloads = sse_events(body)
    done = bool(payloads) and payloads[-1] == b"[DONE]"
    chunks = [json.loads(p) for p in payloads if p != b"[DONE]"]
    return chunks, done


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def map_chunks(ex: Exchange, fn: Callable[[list[Json]], list[Json]]) -> Exchange:
    """Rewrite a generation stream's JSON chunks as a list ([DONE] kept as it was)."""
    if not (ex.generation and ex.streamed and ex.status == 200):
        return ex
    chunks, done = _chunks(ex.body)
    payloads = [_dump(c) for c in fn(chunks)] + ([b"[DONE]"] if done else [])
    return replace(ex, body=render_sse(payloads))


def map_objects(ex: Exchange, fn: Callable[[Json], None]) -> Exchange:
    """Apply `fn` (in place) to a generation answer's JSON body, or to each of its chunks."""
    if not ex.generation or ex.status != 200:
        return ex
    if ex.streamed:

        def each(chunks: list[Json]) -> list[Json]:
            for chunk in chunks:
                fn(chunk)
            return chunks

        return map_chunks(ex, each)
    body = json.loads(ex.body)
    fn(body)
    return replace(ex, body=_dump(body))


def choices(obj: Json) -> Iterator[Json]:
    """Each choice of a body or chunk."""
    yield from (c for c in obj.get("choices") or [] if isinstance(c, MutableMapping))


def messages_of(choice: Json) -> Json:
    """Where a choice's text lives: `message`, `delta`, or the choice itself (completions)."""
    for key in ("message", "delta"):
        if isinstance(choice.get(key), MutableMapping):
            return choice[key]  # type: ignore[no-any-return]
    return choice


def text_key(holder: Json) -> str:
    return "text" if "text" in holder else "content"


def on_text(fn: Callable[[str], str]) -> ResponseRewrite:
    """A response rewrite of every piece of generated text (content / text)."""

    def rewrite(obj: Json) -> None:
        for choice in choices(obj):
            holder = messages_of(choice)
            key = text_key(holder)
            if isinstance(holder.get(key), str) and holder[key]:
                holder[key] = fn(holder[key])

    return lambda ex: map_objects(ex, rewrite)


def on_objects(fn: Callable[[Json], None]) -> ResponseRewrite:
    return lambda ex: map_objects(ex, fn)


def drop_keys(*keys: str, paths: tuple[str, ...] = GENERATION) -> RequestRewrite:
    """A server that ignores request keys: they never reach the simulator."""

    def rewrite(path: str, body: Json) -> Json:
        if path in paths:
            for key in keys:
                body.pop(key, None)
        return body

    return rewrite


def status_route(
    path: str, status: int, body: bytes = b'{"detail":"Not Found"}'
) -> ResponseRewrite:
    """A route that answers `status` (e.g. a vanished route: 404)."""

    def rewrite(ex: Exchange) -> Exchange:
        if ex.path != path:
            return ex
        return replace(ex, status=status, content_type="application/json", body=body)

    return rewrite


# ---- the bugs ----------------------------------------------------------------------------------


def _truncate_stream(ex: Exchange) -> Exchange:
    if not (ex.generation and ex.streamed):
        return ex
    return replace(ex, body=ex.body[: len(ex.body) * 2 // 3])


def _merge_events(ex: Exchange) -> Exchange:
    if not (ex.generation and ex.streamed):
        return ex
    return replace(ex, body=ex.body.replace(b"\n\n", b"\n", 2))


def _after_done(ex: Exchange) -> Exchange:
    if not (ex.generation and ex.streamed):
        return ex
    chunks, _ = _chunks(ex.body)
    extra = [_dump(chunks[-1])] if chunks else []
    return replace(ex, body=ex.body + render_sse(extra))


def _double_done(ex: Exchange) -> Exchange:
    if not (ex.generation and ex.streamed):
        return ex
    return replace(ex, body=ex.body + render_sse([b"[DONE]"]))


def _drop_done(ex: Exchange) -> Exchange:
    if not (ex.generation and ex.streamed):
        return ex
    payloads = [p for p in sse_events(ex.body) if p != b"[DONE]"]
    return replace(ex, body=render_sse(payloads))


def _set(key: str, value: Callable[[Any], Any]) -> Callable[[Json], None]:
    def rewrite(obj: Json) -> None:
        if key in obj:
            obj[key] = value(obj[key])

    return rewrite


def _vary_ids(chunks: list[Json]) -> list[Json]:
    for number, chunk in enumerate(chunks):
        if "id" in chunk:
            chunk["id"] = f"{chunk['id']}-{number}"
    return chunks


def _drop_first_role(chunks: list[Json]) -> list[Json]:
    for chunk in chunks[:1]:
        for choice in choices(chunk):
            delta = choice.get("delta")
            if isinstance(delta, MutableMapping):
                delta.pop("role", None)
    return chunks


def _usage(fn: Callable[[Json], None]) -> ResponseRewrite:
    def rewrite(obj: Json) -> None:
        usage = obj.get("usage")
        if isinstance(usage, MutableMapping) and "completion_tokens" in usage:
            fn(usage)

    return on_objects(rewrite)


def _completion_plus_one(usage: Json) -> None:
    usage["completion_tokens"] += 1


def _total_plus_one(usage: Json) -> None:
    usage["total_tokens"] += 1


def _prompt_minus_one(usage: Json) -> None:
    if usage.get("prompt_tokens", 0) > 1:
        usage["prompt_tokens"] -= 1
        usage["total_tokens"] -= 1


def _drop_usage_chunk(chunks: list[Json]) -> list[Json]:
    return [c for c in chunks if c.get("choices") or not c.get("usage")]


def _max_tokens_plus(path: str, body: Json) -> Json:
    for key in ("max_tokens", "max_completion_tokens"):
        if path in GENERATION and isinstance(body.get(key), int) and body[key] > 0:
            body[key] += 2
    return body


def _random_seed(path: str, body: Json) -> Json:
    if path in GENERATION and "seed" in body:
        body["seed"] = random.randrange(1 << 30)
    return body


def _hot_temperature(path: str, body: Json) -> Json:
    if path in GENERATION and body.get("temperature") == 0:
        body["temperature"] = 1.0
        body.setdefault("seed", None)
        body.pop("seed")
    return body


def _drop_system(path: str, body: Json) -> Json:
    if path == "/v1/chat/completions" and isinstance(body.get("messages"), list):
        body["messages"] = [m for m in body["messages"] if m.get("role") != "system"]
    return body


def _drop_history(path: str, body: Json) -> Json:
    messages = body.get("messages")
    if path == "/v1/chat/completions" and isinstance(messages, list) and len(messages) > 1:
        last = messages[-1]
        if last.get("role") == "user" and not any(m.get("role") == "tool" for m in messages):
            body["messages"] = [last]
    return body


def _tool_calls(fn: Callable[[Json], None]) -> ResponseRewrite:
    def rewrite(obj: Json) -> None:
        for choice in choices(obj):
            holder = messages_of(choice)
            for call in holder.get("tool_calls") or []:
                function = call.get("function")
                if isinstance(function, MutableMapping):
                    fn(function)

    return on_objects(rewrite)


def _cut_arguments(function: Json) -> None:
    arguments = function.get("arguments")
    if isinstance(arguments, str) and len(arguments) > 1:
        function["arguments"] = arguments[:-1]


def _rename_tool(function: Json) -> None:
    if isinstance(function.get("name"), str):
        function["name"] += "_v2"


def _finish(old: str, new: str) -> ResponseRewrite:
    def rewrite(obj: Json) -> None:
        for choice in choices(obj):
            if choice.get("finish_reason") == old:
                choice["finish_reason"] = new

    return on_objects(rewrite)


def _corrupt_json_content(ex: Exchange) -> Exchange:
    request = ex.request or {}
    if "response_format" not in request:
        return ex
    if ex.streamed:

        def cut_last(chunks: list[Json]) -> list[Json]:
            for chunk in reversed(chunks):
                for choice in choices(chunk):
                    delta = messages_of(choice)
                    if isinstance(delta.get("content"), str) and delta["content"]:
                        delta["content"] = delta["content"][:-1]
                        return chunks
            return chunks

        return map_chunks(ex, cut_last)
    return on_text(lambda text: text[:-1])(ex)


def _drop_reasoning(obj: Json) -> None:
    for choice in choices(obj):
        holder = messages_of(choice)
        for key in ("reasoning", "reasoning_content"):
            holder.pop(key, None)


def _reasoning_into_content(obj: Json) -> None:
    for choice in choices(obj):
        holder = messages_of(choice)
        for key in ("reasoning", "reasoning_content"):
            thought = holder.pop(key, None)
            if isinstance(thought, str) and thought:
                holder["content"] = thought + (holder.get("content") or "")


def _errors_500(ex: Exchange) -> Exchange:
    if 400 <= ex.status < 500 and ex.status != 404:
        return replace(ex, status=500)
    return ex


def _error_plain_text(ex: Exchange) -> Exchange:
    if 400 <= ex.status < 500:
        return replace(ex, content_type="text/plain", body=b"bad request")
    return ex


def _accept_invalid(ex: Exchange) -> Exchange:
    """A lenient server: a 400 for an invalid value becomes a 200 answer."""
    if ex.status != 400 or ex.path != "/v1/chat/completions":
        return ex
    body = {
        "id": "chatcmpl-lenient",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": (ex.request or {}).get("model", "x"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return replace(ex, status=200, content_type="application/json", body=_dump(body))


def _noise(text: str) -> str:
    return text + random.choice("abcdefghij")


def _noisy_non_stream(ex: Exchange) -> Exchange:
    return ex if ex.streamed else on_text(_noise)(ex)


def _same_choices(obj: Json) -> None:
    found = list(choices(obj))
    if len(found) < 2 or "message" not in found[0]:
        return
    for choice in found[1:]:
        choice["message"] = dict(found[0]["message"])


def _replacement_char(text: str) -> str:
    return text[:-1] + "\ufffd" if len(text) > 2 else text


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _positive_logprobs(obj: Json) -> None:
    for choice in choices(obj):
        logprobs = choice.get("logprobs")
        if not isinstance(logprobs, MutableMapping):
            continue
        for entry in logprobs.get("content") or []:
            entry["logprob"] = abs(entry.get("logprob", 0.0)) + 0.25
        values = logprobs.get("token_logprobs")
        if isinstance(values, list):
            logprobs["token_logprobs"] = [None if v is None else abs(v) + 0.25 for v in values]


def _frozen_metrics(mutant_state: dict[str, Any]) -> ResponseRewrite:
    def rewrite(ex: Exchange) -> Exchange:
        if ex.path != "/metrics" or ex.status != 200:
            return ex
        first = mutant_state.setdefault("metrics", ex.body)
        return replace(ex, body=first)

    return rewrite


def _wrong_model(obj: Json) -> None:
    if "model" in obj:
        obj["model"] = "some-other-model"


def _object_swapped(obj: Json) -> None:
    swap = {
        "chat.completion": "chat.completion.chunk",
        "chat.completion.chunk": "chat.completion",
        "text_completion": "completion",
    }
    if obj.get("object") in swap:
        obj["object"] = swap[obj["object"]]


def _first_model_renamed(ex: Exchange) -> Exchange:
    if ex.path != "/v1/models" or ex.status != 200:
        return ex
    body = json.loads(ex.body)
    for model in body.get("data") or []:
        model["id"] = str(model.get("id")) + "-renamed"
    return replace(ex, body=_dump(body))


def _usage_everywhere(chunks: list[Json]) -> list[Json]:
    usage = next((c["usage"] for c in chunks if isinstance(c.get("usage"), dict)), None)
    if usage is None:
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    for chunk in chunks:
        chunk["usage"] = dict(usage)
    return chunks


def _drop_stop_reason(obj: Json) -> None:
    for choice in choices(obj):
        choice.pop("stop_reason", None)


def _fingerprint_number(obj: Json) -> None:
    obj["system_fingerprint"] = 42


def _drop_reasoning_tokens(obj: Json) -> None:
    usage = obj.get("usage")
    if isinstance(usage, MutableMapping):
        usage.pop("completion_tokens_details", None)


def _upper_streamed_reasoning(chunks: list[Json]) -> list[Json]:
    for chunk in chunks:
        for choice in choices(chunk):
            delta = messages_of(choice)
            for key in ("reasoning", "reasoning_content"):
                if isinstance(delta.get(key), str):
                    delta[key] = delta[key].upper()
    return chunks


def _build() -> list[Mutant]:
    frozen_state: dict[str, Any] = {}
    m = Mutant
    return [
        # framing
        m("drop_done", "framing", "streams end without `data: [DONE]`", on_response=_drop_done),
        m(
            "double_done",
            "framing",
            "streams end with two `[DONE]` events",
            on_response=_double_done,
        ),
        m("chunk_after_done", "framing", "a chunk follows `[DONE]`", on_response=_after_done),
        m(
            "merged_events",
            "framing",
            "two SSE events lack the blank line between them",
            on_response=_merge_events,
        ),
        m(
            "truncated_stream",
            "framing",
            "streams are cut a third before their end",
            on_response=_truncate_stream,
        ),
        # response fields
        m(
            "wrong_model_field",
            "fields",
            "responses name another model",
            on_response=on_objects(_wrong_model),
        ),
        m(
            "created_milliseconds",
            "fields",
            "`created` in milliseconds",
            on_response=on_objects(_set("created", lambda v: v * 1000)),
        ),
        m(
            "created_string",
            "fields",
            "`created` as a string",
            on_response=on_objects(_set("created", str)),
        ),
        m(
            "object_swapped",
            "fields",
            "`object` of the other endpoint type",
            on_response=on_objects(_object_swapped),
        ),
        m(
            "stream_ids_vary",
            "fields",
            "every chunk of a stream has its own `id`",
            on_response=lambda ex: map_chunks(ex, _vary_ids),
        ),
        m(
            "first_role_missing",
            "fields",
            "the first chat chunk has no `delta.role`",
            on_response=lambda ex: map_chunks(ex, _drop_first_role),
        ),
        m(
            "models_id_renamed",
            "fields",
            "/v1/models lists a name responses do not use",
            on_response=_first_model_renamed,
        ),
        Mutant(
            "stop_reason_dropped",
            "fields",
            "vLLM's extra `stop_reason` field is missing",
            on_response=on_objects(_drop_stop_reason),
        ),
        Mutant(
            "fingerprint_not_string",
            "fields",
            "`system_fingerprint` is a number",
            on_response=on_objects(_fingerprint_number),
        ),
        # usage
        m(
            "completion_tokens_plus_one",
            "usage",
            "`completion_tokens` one too many",
            on_response=_usage(_completion_plus_one),
        ),
        m(
            "total_tokens_plus_one",
            "usage",
            "`total_tokens` one too many",
            on_response=_usage(_total_plus_one),
        ),
        m(
            "prompt_tokens_minus_one",
            "usage",
            "`prompt_tokens` (and total) one too few, sums still add up",
            on_response=_usage(_prompt_minus_one),
        ),
        m(
            "stream_usage_dropped",
            "usage",
            "no final usage chunk with include_usage",
            on_response=lambda ex: map_chunks(ex, _drop_usage_chunk),
        ),
        m(
            "usage_in_every_chunk",
            "usage",
            "usage in every chunk, asked for or not",
            on_response=lambda ex: map_chunks(ex, _usage_everywhere),
        ),
        Mutant(
            "reasoning_tokens_dropped",
            "usage",
            "usage has no `completion_tokens_details.reasoning_tokens`",
            on_response=on_objects(_drop_reasoning_tokens),
        ),
        # parameters the server ignores
        m("ignores_stop", "parameters", "`stop` ignored", on_request=drop_keys("stop")),
        m(
            "ignores_min_tokens",
            "parameters",
            "`min_tokens` ignored",
            on_request=drop_keys("min_tokens"),
        ),
        m(
            "max_tokens_off_by_two",
            "parameters",
            "generates two tokens past `max_tokens`",
            on_request=_max_tokens_plus,
        ),
        m("ignores_n", "parameters", "`n` ignored (one choice)", on_request=drop_keys("n")),
        m(
            "ignores_seed",
            "parameters",
            "`seed` ignored (a random one used)",
            on_request=_random_seed,
        ),
        m(
            "ignores_temperature_zero",
            "parameters",
            "temperature 0 sampled as 1.0",
            on_request=_hot_temperature,
        ),
        m(
            "ignores_logprobs",
            "parameters",
            "`logprobs` / `top_logprobs` ignored",
            on_request=drop_keys("logprobs", "top_logprobs"),
        ),
        m(
            "ignores_stream_options",
            "parameters",
            "`stream_options` ignored",
            on_request=drop_keys("stream_options"),
        ),
        m(
            "drops_system_prompt",
            "parameters",
            "system messages dropped from the prompt",
            on_request=_drop_system,
        ),
        m(
            "drops_history",
            "parameters",
            "only the last user turn reaches the model",
            on_request=_drop_history,
        ),
        # tools
        m(
            "tools_ignored",
            "tools",
            "`tools` / `tool_choice` ignored",
            on_request=drop_keys("tools", "tool_choice"),
        ),
        m(
            "tool_arguments_cut",
            "tools",
            "tool-call arguments lose their last character (not JSON)",
            on_response=_tool_calls(_cut_arguments),
        ),
        m(
            "tool_name_renamed",
            "tools",
            "tool calls name a function that was not offered",
            on_response=_tool_calls(_rename_tool),
        ),
        m(
            "tool_finish_stop",
            "tools",
            "finish_reason `stop` instead of `tool_calls`",
            on_response=_finish("tool_calls", "stop"),
        ),
        # structured output
        m(
            "response_format_ignored",
            "structured",
            "`response_format` ignored",
            on_request=drop_keys("response_format"),
        ),
        m(
            "json_output_cut",
            "structured",
            "structured output loses its last character",
            on_response=_corrupt_json_content,
        ),
        # reasoning
        m(
            "reasoning_dropped",
            "reasoning",
            "no reasoning field",
            on_response=on_objects(_drop_reasoning),
        ),
        m(
            "reasoning_in_content",
            "reasoning",
            "reasoning leaks into content",
            on_response=on_objects(_reasoning_into_content),
        ),
        m(
            "include_reasoning_ignored",
            "reasoning",
            "`include_reasoning: false` ignored",
            on_request=drop_keys("include_reasoning"),
        ),
        Mutant(
            "stream_reasoning_differs",
            "reasoning",
            "streamed reasoning differs from the non-streamed reasoning (upper case)",
            on_response=lambda ex: map_chunks(ex, _upper_streamed_reasoning),
        ),
        # errors
        m("errors_become_500", "errors", "invalid requests answered 500", on_response=_errors_500),
        m(
            "error_body_plain_text",
            "errors",
            "4xx bodies are plain text, not OpenAI errors",
            on_response=_error_plain_text,
        ),
        m(
            "invalid_values_accepted",
            "errors",
            "400s for invalid values become 200 answers",
            on_response=_accept_invalid,
        ),
        # determinism and sampling
        m(
            "non_stream_noise",
            "determinism",
            "non-streamed answers get a random trailing letter",
            on_response=_noisy_non_stream,
        ),
        m(
            "n_choices_identical",
            "determinism",
            "every choice of `n` repeats the first",
            on_response=on_objects(_same_choices),
        ),
        # encoding, logprobs
        m(
            "replacement_char",
            "encoding",
            "the last character of a text becomes U+FFFD",
            on_response=on_text(_replacement_char),
        ),
        m("mojibake", "encoding", "UTF-8 text decoded as Latin-1", on_response=on_text(_mojibake)),
        m(
            "positive_logprobs",
            "logprobs",
            "logprob values above 0",
            on_response=on_objects(_positive_logprobs),
        ),
        m(
            "finish_length_as_stop",
            "fields",
            "finish_reason `stop` when `max_tokens` cut the answer",
            on_response=_finish("length", "stop"),
        ),
        # routes
        m(
            "tokenize_gone",
            "routes",
            "/tokenize answers 404",
            on_response=status_route("/tokenize", 404),
        ),
        m(
            "metrics_gone",
            "routes",
            "/metrics answers 404",
            on_response=status_route("/metrics", 404),
        ),
        m(
            "models_gone",
            "routes",
            "/v1/models answers 404",
            on_response=status_route("/v1/models", 404),
        ),
        m(
            "completions_gone",
            "routes",
            "/v1/completions answers 404",
            on_response=status_route("/v1/completions", 404),
        ),
        m(
            "metrics_frozen",
            "routes",
            "/metrics values never move",
            on_response=_frozen_metrics(frozen_state),
            state=frozen_state,
        ),
    ]


MUTANTS: dict[str, Mutant] = {mutant.name: mutant for mutant in _build()}
