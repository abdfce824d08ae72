"""Providers model: acs-bench's `providers.yaml`, usable as `external` scenarios."""

from __future__ import annotations

from pydantic import Field

from cibench.config.base import StrictModel
from cibench.config.scenario import EXTERNAL_STARTUP_TIMEOUT_SECONDS, Scenario


class Provider(StrictModel):
    """One acs-bench provider entry. `api_key` is kept as written ('EMPTY' means none)."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str
    api_key: str = "EMPTY"
    base_url: str
    model_name: str
    model_category: str = ""

    def __repr__(self) -> str:
        return (
            f"Provider(id={self.id!r}, base_url={self.base_url!r}, model_name={self.model_name!r})"
        )

    __str__ = __repr__

    def as_scenario(self) -> Scenario:
        """An `external` scenario reaching this provider (the key travels via the Endpoint)."""
        return Scenario(
            id=self.id,
            mode="external",
            model=self.model_name,
            base_url=self.base_url,
            hardware=self.model_category,
            startup_timeout_seconds=EXTERNAL_STARTUP_TIMEOUT_SECONDS,
        )


class Providers(StrictModel):
    """`configs/providers.yaml`."""

    providers: list[Provider] = Field(default_factory=list)
