"""Shared fixtures: one default simulator per test module, reached with openai and httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from cibench.sim.testing import run_simulator

MODEL = "sim-model"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """A simulator with the default timing model, serving `MODEL`."""
    with run_simulator("--model", MODEL) as url:
        yield url


@pytest.fixture(scope="module")
def client(sim_url: str) -> Iterator[OpenAI]:
    """The official OpenAI client pointed at the module's simulator."""
    with OpenAI(base_url=f"{sim_url}/v1", api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def http(sim_url: str) -> Iterator[httpx.Client]:
    """A raw HTTP client for the module's simulator."""
    with httpx.Client(base_url=sim_url, timeout=30.0) as c:
        yield c
