"""The strict pydantic base every configuration model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A model that rejects unknown keys, so a typo in YAML is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
