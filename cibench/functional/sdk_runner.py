"""Run a case through the official `openai` Python SDK: the view most clients have.

A server whose answers pass the raw-JSON checks can still break the SDK (a field of the
wrong type, a stream the SDK cannot iterate, an error status the SDK does not map to its
typed exception). `client: openai` cases send their body through `openai.OpenAI`, and every
exception the SDK raises while parsing is a failure. The SDK is imported here, on first use,
not when the plugin loads.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel

from cibench.config.functional import FunctionalCase
from cibench.functional.runner import build_request

if TYPE_CHECKING:
    import openai

# The typed exception the SDK raises for each status (openai._exceptions).
EXCEPTION_FOR_STATUS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}


class CityWeather(BaseModel):
    """The model `sdk_parse` cases ask for through `response_format` (`parse`)."""

    city: str
    temperature_c: int


def sdk_client(http: httpx.Client) -> openai.OpenAI:
    """An SDK client on the same server and key as `http` (no retries: a failure shows)."""
    import openai

    key = http.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return openai.OpenAI(
        base_url=str(http.base_url).rstrip("/") + "/v1",
        api_key=key or "EMPTY",
        max_retries=0,
        timeout=60.0,
    )


def _expected_error(case: FunctionalCase) -> str | None:
    statuses = case.expect.statuses
    if not case.expect.expects_error:
        return None
    names = {EXCEPTION_FOR_STATUS.get(s, "APIStatusError") for s in statuses}
    return sorted(names)[0] if len(names) == 1 else "APIStatusError"


def _call(client: openai.OpenAI, case: FunctionalCase, body: dict[str, Any]) -> Any:
    """One SDK call for the case; streams are iterated to the end."""
    body = {k: v for k, v in body.items() if k != "stream"}
    extra = {k: body.pop(k) for k in list(body) if k in _VLLM_EXTRAS}
    if extra:
        body["extra_body"] = extra
    if case.api == "models":
        return list(client.models.list())
    if case.api == "completions":
        if case.stream:
            return list(client.completions.create(stream=True, **body))
        return client.completions.create(**body)
    if case.expect.sdk_parse:
        return client.chat.completions.parse(response_format=CityWeather, **body)
    if case.stream:
        return list(client.chat.completions.create(stream=True, **body))
    return client.chat.completions.create(**body)


# vLLM's own request fields: the SDK has no parameter for them, so they go in extra_body.
_VLLM_EXTRAS = ("top_k", "min_p", "min_tokens", "ignore_eos", "repetition_penalty")


def run_sdk_case(http: httpx.Client, case: FunctionalCase, model: str) -> list[str]:
    """Send `case` through the SDK; every way the SDK's view misses the case, or []."""
    import openai

    client = sdk_client(http)
    body = build_request(case, model)
    wanted_error = _expected_error(case)
    try:
        result = _call(client, case, body)
    except openai.APIStatusError as exc:
        name = type(exc).__name__
        if wanted_error is None:
            return [f"the SDK raised {name} (HTTP {exc.status_code}): {str(exc)[:200]}"]
        if wanted_error not in ("APIStatusError", name):
            return [f"the SDK raised {name} (HTTP {exc.status_code}), expected {wanted_error}"]
        if exc.status_code not in case.expect.statuses:
            return [f"HTTP {exc.status_code} through the SDK, expected {case.expect.statuses}"]
        return []
    except (openai.APIError, ValueError, TypeError) as exc:
        # APIResponseValidationError, a stream the SDK cannot decode, a parse that fails
        return [f"the SDK could not read the answer: {type(exc).__name__}: {str(exc)[:240]}"]
    finally:
        client.close()
    if wanted_error is not None:
        return [f"the SDK returned an answer, expected {wanted_error}"]
    return _check_result(case, result)


def _check_result(case: FunctionalCase, result: Any) -> list[str]:
    if case.api == "models":
        ids = [m.id for m in result]
        return [] if ids else ["client.models.list() returned no model"]
    if case.stream:
        return _check_stream(case, result)
    failures: list[str] = []
    if not result.choices:
        return ["the SDK's answer has no choices"]
    choice = result.choices[0]
    if case.api == "completions":
        if not isinstance(choice.text, str):
            failures.append(f"choices[0].text is {choice.text!r}")
        return failures
    message = choice.message
    if case.expect.sdk_parse and not isinstance(message.parsed, CityWeather):
        failures.append(f"message.parsed is {message.parsed!r}, expected a CityWeather")
    if case.expect.tool_calls:
        calls = message.tool_calls or []
        if not calls:
            failures.append("message.tool_calls is empty")
        for call in calls:
            try:
                arguments = json.loads(call.function.arguments)
            except json.JSONDecodeError:
                failures.append(f"tool call arguments are not JSON: {call.function.arguments!r}")
                continue
            if not isinstance(arguments, dict):
                failures.append(f"tool call arguments are not an object: {arguments!r}")
    if case.expect.logprobs:
        content = choice.logprobs.content if choice.logprobs else None
        if not content:
            failures.append("choice.logprobs.content is empty")
        elif any(item.logprob > 0 for item in content):
            failures.append("a logprob above 0 in choice.logprobs.content")
    return failures


def _check_stream(case: FunctionalCase, chunks: list[Any]) -> list[str]:
    texts: list[str] = []
    finish: list[str] = []
    for chunk in chunks:
        for choice in chunk.choices:
            piece = choice.text if case.api == "completions" else choice.delta.content
            texts.append(piece or "")
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    failures = []
    if len(finish) != 1:
        failures.append(f"{len(finish)} streamed finish_reasons through the SDK, expected one")
    if not "".join(texts) and case.api == "completions":
        failures.append("the streamed text is empty")
    return failures
