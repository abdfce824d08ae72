"""`client: openai` cases: the official SDK's view of a real (simulated) server."""

from __future__ import annotations

import httpx
from func_support import case

from cibench.functional.sdk_runner import run_sdk_case
from cibench.sim.testing import run_simulator

CHAT = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
INVALID = {**CHAT, "temperature": -1}


def test_the_sdk_reads_answers_streams_and_typed_errors() -> None:
    with run_simulator("--model", "m") as url, httpx.Client(base_url=url) as http:
        assert run_sdk_case(http, case(client="openai", body=CHAT), "m") == []
        streamed = case(client="openai", stream=True, body=CHAT)
        assert run_sdk_case(http, streamed, "m") == []
        refused = case(client="openai", body=INVALID, expect={"status": 400})
        assert run_sdk_case(http, refused, "m") == []
        wrong = case(client="openai", body=INVALID, expect={"status": 404})
        assert run_sdk_case(http, wrong, "m") == [
            "the SDK raised BadRequestError (HTTP 400), expected NotFoundError"
        ]
        accepted = case(client="openai", body=CHAT, expect={"status": 400})
        assert run_sdk_case(http, accepted, "m") == [
            "the SDK returned an answer, expected BadRequestError"
        ]


def test_a_500_for_an_invalid_value_is_not_the_sdks_bad_request() -> None:
    with (
        run_simulator("--model", "m", "--invalid-params-500") as url,
        httpx.Client(base_url=url) as http,
    ):
        refused = case(client="openai", body=INVALID, expect={"status": 400})
        found = run_sdk_case(http, refused, "m")
    assert found == ["the SDK raised InternalServerError (HTTP 500), expected BadRequestError"]
