"""Scenario model: how to reach (and maybe start) the server under test."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from cibench.config.base import StrictModel

AUTO_MODEL = "auto"
URL_SCENARIO_KEY_ENV = "CIBENCH_API_KEY"
# An already running server (a URL or a providers.yaml entry) answers within a minute or is down.
EXTERNAL_STARTUP_TIMEOUT_SECONDS = 60.0
SCENARIO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ScenarioMode = Literal["local", "k8s-hybrid", "k8s-pd", "external"]
Quant = Literal["w8a8", "w4a8", "none"]
ArgValue = str | int | float | bool | None | list[str | int | float]


class Features(StrictModel):
    """Capability switches; `None` means "probe the server", a bool forces the capability on/off.

    Every capability of the probe has a switch (docs/functional.md lists them).
    """

    chat: bool | None = None
    completions: bool | None = None
    logprobs: bool | None = None
    n: bool | None = None
    tokenize: bool | None = None
    metrics: bool | None = None
    deterministic: bool | None = None
    guided_decoding: bool | None = None
    function_call: bool | None = None
    reasoning: bool | None = None
    # vLLM behaviours other OpenAI-compatible servers may lack (docs/functional.md, probe);
    # set them true on a vLLM scenario so a regression fails instead of being skipped.
    min_tokens: bool | None = None
    version: bool | None = None
    strict_validation: bool | None = None
    model_check: bool | None = None
    echo: bool | None = None
    completions_logprobs: bool | None = None
    top_logprobs_zero: bool | None = None
    continuous_usage: bool | None = None
    vllm_tokenize: bool | None = None
    vllm_metrics: bool | None = None


class K8sSpec(StrictModel):
    """Where the user-provided manifests deploy the server and how to reach its NodePort."""

    namespace: str = "default"
    manifests: list[str] = Field(min_length=1)
    service_name: str
    port_name: str | None = None
    node_port: int | None = Field(default=None, ge=1, le=65535)
    node_host: str | None = None
    kubeconfig: str | None = None

    def resolved_against(self, base: Path) -> K8sSpec:
        """A copy whose relative `manifests` and `kubeconfig` paths start at `base`.

        The loader passes the configs dir's parent (the repo root for `configs/`), so
        `manifests: [deploy/x.yaml]` means `<repo>/deploy/x.yaml`; `~` is expanded.
        """

        def resolve(raw: str) -> str:
            path = Path(raw).expanduser()
            return str(path if path.is_absolute() else base / path)

        return self.model_copy(
            update={
                "manifests": [resolve(m) for m in self.manifests],
                "kubeconfig": resolve(self.kubeconfig) if self.kubeconfig else None,
            }
        )


class PDSpec(StrictModel):
    """Prefill/decode disaggregation parameters for the `k8s-pd` mode."""

    prefill_params: dict[str, ArgValue] = Field(default_factory=dict)
    decode_params: dict[str, ArgValue] = Field(default_factory=dict)
    scheduler_params: dict[str, ArgValue] = Field(default_factory=dict)


class Scenario(StrictModel):
    """One `configs/scenarios/<id>.yaml`: a model served one particular way."""

    id: str = Field(pattern=SCENARIO_ID_PATTERN)
    mode: ScenarioMode
    model: str
    served_model_name: str | None = None
    quant: Quant = "none"
    features: Features = Features()
    env: dict[str, str] = Field(default_factory=dict)
    args: dict[str, ArgValue] = Field(default_factory=dict)
    command: str | None = None
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    base_url: str | None = None
    startup_timeout_seconds: PositiveFloat = 1200.0
    hardware: str = ""
    api_key_env: str | None = None
    reasoning_key: str | None = None
    k8s: K8sSpec | None = None
    pd: PDSpec | None = None

    @model_validator(mode="after")
    def _mode_has_what_it_needs(self) -> Scenario:
        if self.mode == "local" and not self.command:
            raise ValueError(
                "mode 'local' needs 'command' (a template such as 'vllm serve {model} ...')"
            )
        if self.mode == "external" and not self.base_url:
            raise ValueError("mode 'external' needs 'base_url' (e.g. http://127.0.0.1:8000)")
        if self.mode in ("k8s-hybrid", "k8s-pd") and self.k8s is None:
            raise ValueError(f"mode '{self.mode}' needs a 'k8s' section")
        if self.mode == "k8s-pd" and self.pd is None:
            raise ValueError("mode 'k8s-pd' needs a 'pd' section")
        return self

    @classmethod
    def from_url(
        cls, url: str, model: str = AUTO_MODEL, scenario_id: str | None = None
    ) -> Scenario:
        """An `external` scenario for `--scenario http://host:port` (credentials already removed).

        Its id is `scenario_id`, else the served model's name (so a baseline survives a port
        change), else `host-port` while the model is still `auto`.
        """
        return cls(
            id=scenario_id or slug(model if model != AUTO_MODEL else url.split("://", 1)[-1]),
            mode="external",
            model=model,
            base_url=url,
            startup_timeout_seconds=EXTERNAL_STARTUP_TIMEOUT_SECONDS,
            api_key_env=URL_SCENARIO_KEY_ENV if os.environ.get(URL_SCENARIO_KEY_ENV) else None,
        )

    @property
    def model_name(self) -> str:
        """The name requests must use: `served_model_name`, else `model`."""
        return self.served_model_name or self.model


def slug(text: str) -> str:
    """A scenario id made of `text`: `Qwen/Qwen2.5-0.5B` → `Qwen-Qwen2.5-0.5B`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._") or "external"
