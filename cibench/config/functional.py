"""Functional suite model (`configs/tests/functional/<suite>.yaml`): cases as data."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from cibench.config.base import StrictModel
from cibench.config.relations import parse_relation

Capability = Literal[
    "chat",
    "completions",
    "function_call",
    "guided_decoding",
    "reasoning",
    "logprobs",
    "n",
    "tokenize",
    "metrics",
    "deterministic",
    "min_tokens",
    "version",
    "strict_validation",
    "model_check",
    "echo",
    "completions_logprobs",
    "top_logprobs_zero",
    "continuous_usage",
    "vllm_tokenize",
    "vllm_metrics",
]
# The first ten are generic OpenAI-API features; the rest (from min_tokens on) are behaviours
# vLLM has and other OpenAI-compatible servers (llama.cpp's llama-server, for one) may lack or
# do differently.
CAPABILITIES: tuple[Capability, ...] = get_args(Capability)
Api = Literal[
    "chat", "completions", "models", "health", "version", "metrics", "tokenize", "detokenize", "raw"
]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]

# Where each api lives and how it is called; `raw` takes its method and path from the case.
API_ROUTES: dict[str, tuple[str, str]] = {
    "chat": ("POST", "/v1/chat/completions"),
    "completions": ("POST", "/v1/completions"),
    "models": ("GET", "/v1/models"),
    "health": ("GET", "/health"),
    "version": ("GET", "/version"),
    "metrics": ("GET", "/metrics"),
    "tokenize": ("POST", "/tokenize"),
    "detokenize": ("POST", "/detokenize"),
}
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from exc
    return value


class Expectations(StrictModel):
    """What a response must satisfy; every field is optional and unset fields check nothing.

    Some checks always run (they are conformance, not opinion): the response schema, SSE
    framing of streams, choice indices, tool-call arguments being JSON, and
    `total_tokens == prompt_tokens + completion_tokens`.
    """

    status: int | list[int] = 200
    error_body: bool | None = None  # None: checked whenever the expected status is >= 400
    error_message_regex: str | None = None
    healthy_after: bool = False
    validate_schema: bool = True
    finish_reason: FinishReason | list[FinishReason] | None = None
    content_regex: str | None = None
    content_not_regex: str | None = None
    content_empty: bool = False
    content_is_json: bool = False
    content_json_schema: dict[str, Any] | None = None
    tool_calls: bool | None = None
    tool_name: str | None = None
    tool_arguments_valid: bool = False
    reasoning: bool | None = None
    choices: int | None = Field(default=None, ge=0)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0)
    usage: list[str] = Field(default_factory=list)
    usage_chunk: bool = False
    matches_non_stream: bool = False
    repeatable: bool = False
    models_served: bool = False
    choices_differ: bool = False
    prompt_tokens_match_tokenize: bool = False
    stop_from_answer: bool = False
    metrics_move: bool = False
    sdk_parse: bool = False
    prometheus: bool = False
    metric_names: list[str] = Field(default_factory=list)
    json_keys: list[str] = Field(default_factory=list)

    @field_validator("content_regex", "content_not_regex", "error_message_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return _check_regex(value)

    @field_validator("usage")
    @classmethod
    def _relations_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_relation(text)
        return value

    @field_validator("content_json_schema")
    @classmethod
    def _schema_is_valid(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            # imported here: jsonschema costs every pytest run a third of a second otherwise
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON schema ({exc.message})") from exc
        return value

    @property
    def statuses(self) -> tuple[int, ...]:
        """The accepted HTTP statuses."""
        return tuple(self.status) if isinstance(self.status, list) else (self.status,)

    @property
    def expects_error(self) -> bool:
        """Whether the case expects an error answer (every accepted status is >= 400)."""
        return all(code >= 400 for code in self.statuses)


class FunctionalCase(StrictModel):
    """One request (plus optional follow-up turns) and what its answer must look like."""

    id: str = Field(pattern=_ID_PATTERN)
    description: str = ""
    api: Api = "chat"
    method: Literal["GET", "POST"] | None = None
    path: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    raw_body: str | None = None
    content_type: str = "application/json"
    send_model: bool = True
    client: Literal["http", "openai"] = "http"
    stream: bool = False
    followups: list[str] = Field(default_factory=list)
    requires: list[Capability] = Field(default_factory=list)
    expect: Expectations = Expectations()

    @model_validator(mode="after")
    def _consistent(self) -> FunctionalCase:
        if self.api == "raw" and not (self.path and self.method):
            raise ValueError("api 'raw' needs 'method' and 'path'")
        if self.api != "raw" and (self.path or self.method):
            raise ValueError(
                f"'method'/'path' are only for api 'raw'; api '{self.api}' has a route"
            )
        if self.stream and self.api not in ("chat", "completions"):
            raise ValueError("'stream: true' is only for api 'chat' or 'completions'")
        if self.followups and self.api != "chat":
            raise ValueError("'followups' are only for api 'chat'")
        if self.raw_body is not None and self.body:
            raise ValueError("give either 'body' or 'raw_body', not both")
        if "stream" in self.body:
            raise ValueError("set streaming with the case's 'stream' key, not body.stream")
        if self.api not in ("chat", "completions"):
            for name in ("choices_differ", "prompt_tokens_match_tokenize", "stop_from_answer"):
                if getattr(self.expect, name):
                    raise ValueError(f"expect.{name} is only for api 'chat' or 'completions'")
        if self.client == "openai" and (
            self.api not in ("chat", "completions", "models") or self.raw_body is not None
        ):
            raise ValueError("client 'openai' sends chat, completions or models requests as JSON")
        if self.expect.sdk_parse and self.client != "openai":
            raise ValueError("expect.sdk_parse needs client: openai")
        if self.expect.metrics_move and self.api != "metrics":
            raise ValueError("expect.metrics_move is only for api 'metrics'")
        stream_only = ("usage_chunk", "matches_non_stream")
        for name in stream_only:
            if getattr(self.expect, name) and not self.stream:
                raise ValueError(f"expect.{name} needs 'stream: true'")
        return self

    @property
    def route(self) -> tuple[str, str]:
        """(HTTP method, path) this case calls."""
        if self.api == "raw" and self.method is not None and self.path is not None:
            return self.method, self.path
        return API_ROUTES[self.api]

    @property
    def capabilities_needed(self) -> tuple[Capability, ...]:
        """`requires` plus the endpoint capability implied by `api` and by expectations."""
        implied: dict[str, Capability] = {
            "chat": "chat",
            "completions": "completions",
            "tokenize": "tokenize",
            "detokenize": "tokenize",
            "metrics": "metrics",
            "version": "version",
        }
        needed: list[Capability] = [implied[self.api]] if self.api in implied else []
        # expectations that need a second request of another kind need what it needs
        if self.expect.prompt_tokens_match_tokenize:
            needed.append("vllm_tokenize")
        if self.expect.stop_from_answer:
            needed.append("deterministic")
        needed.extend(c for c in self.requires if c not in needed)
        return tuple(needed)


class FunctionalSuite(StrictModel):
    """A named list of cases."""

    suite: str = Field(pattern=_ID_PATTERN)
    description: str = ""
    cases: list[FunctionalCase] = Field(min_length=1)

    @model_validator(mode="after")
    def _case_ids_unique(self) -> FunctionalSuite:
        seen: set[str] = set()
        for index, case in enumerate(self.cases):
            if case.id in seen:
                raise ValueError(f"cases[{index}].id: duplicate case id '{case.id}'")
            seen.add(case.id)
        return self
