"""Accuracy profile model (`configs/tests/accuracy/*.yaml`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from cibench.config.base import StrictModel

# simple-evals' `--debug` runs this many questions when `--examples` is not given.
DEBUG_NUM_EXAMPLES = 5


class AccuracyProfile(StrictModel):
    """How to run simple-evals GPQA against a scenario and the score it must reach."""

    runner: Literal["simple-evals"] = "simple-evals"
    dataset: Literal["gpqa"] = "gpqa"
    variant: Literal["diamond", "main", "extended"] = "diamond"
    debug: bool = False
    num_examples: PositiveInt | None = None
    n_repeats: PositiveInt = 1
    seed: int = 0
    max_tokens: PositiveInt = 2048
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    num_threads: PositiveInt = 4
    request_timeout_seconds: PositiveFloat = 300.0
    max_retries: int = Field(default=2, ge=0, le=10)
    retry_backoff_seconds: NonNegativeFloat = Field(default=1.0, le=60.0)
    dataset_path: str | None = None
    dataset_url: str | None = Field(default=None, pattern=r"^https?://")
    cache_dir: str | None = None
    threshold: NonNegativeFloat = Field(default=0.0, le=1.0)
    # More failed requests than this share fails the stage whatever the score: a run where
    # the server answered nothing measured nothing.
    max_error_ratio: NonNegativeFloat = Field(default=0.05, le=1.0)
    synthetic: bool = False
    html_conversations: bool = True

    @model_validator(mode="after")
    def _repeats_only_without_subset(self) -> AccuracyProfile:
        # simple-evals refuses n_repeats > 1 together with a sampled subset; keep the same rule.
        if self.num_examples is not None and self.n_repeats > 1:
            raise ValueError("n_repeats > 1 is only allowed when num_examples is not set")
        if self.debug and self.n_repeats > 1:
            raise ValueError("debug runs one repeat (as simple-evals --debug); set n_repeats: 1")
        return self

    @property
    def sample_count(self) -> int | None:
        """Questions to sample from the file (None = all), after the `debug` default."""
        if self.num_examples is not None:
            return self.num_examples
        return DEBUG_NUM_EXAMPLES if self.debug else None
