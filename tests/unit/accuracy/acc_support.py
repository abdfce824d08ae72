"""Helpers shared by the accuracy unit tests: endpoints, profiles and scripted replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cibench.client.endpoint import Endpoint
from cibench.config.accuracy import AccuracyProfile
from cibench.config.scenario import Scenario

SIM_MODEL = "org/sim-model"


@dataclass
class Reply:
    """What the scripted server sends back: a status and a JSON body, or nothing at all."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    hang: bool = False


@dataclass
class ScriptedServer:
    """A tiny HTTP server on 127.0.0.1 whose answer to every POST/GET is `script(path, body)`."""

    base_url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


def endpoint_for(base_url: str, model: str = SIM_MODEL, api_key: str | None = None) -> Endpoint:
    """An `Endpoint` for a server that is already running (an external scenario)."""
    scenario = Scenario(id="acc-test", mode="external", model=model, base_url=base_url)
    return Endpoint(scenario, base_url, model, api_key=api_key)


def make_profile(csv_path: Path, **overrides: Any) -> AccuracyProfile:
    """A fast profile over `csv_path` (absolute, so the configs root does not matter)."""
    values: dict[str, Any] = {
        "dataset_path": str(csv_path),
        "synthetic": True,
        "max_tokens": 256,
        "num_threads": 4,
        "request_timeout_seconds": 10,
        "max_retries": 0,
        "retry_backoff_seconds": 0,
    }
    values.update(overrides)
    return AccuracyProfile.model_validate(values)


def chat_reply(content: str | None, finish_reason: str = "stop", **message: Any) -> Reply:
    """A 200 chat completion with this content (None = JSON null) and extra message fields."""
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": SIM_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, **message},
                    "finish_reason": finish_reason,
                }
            ],
        }
    )
