"""The strict pydantic base every configuration model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A model that rejects unknown keys, so a typo in YAML is an error rather than ignored.

    `.inf` and `.nan` are refused for every number: an infinite timeout is an endless wait.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
