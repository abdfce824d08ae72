"""`configs/pricing.yaml`: what an hour of each hardware label costs (and draws), for compare."""

from __future__ import annotations

from pydantic import Field

from cibench.config.base import StrictModel

PRICING_FILE = "pricing.yaml"


class HardwarePrice(StrictModel):
    """One hardware label (a scenario's `hardware`)."""

    price_per_hour: float = Field(ge=0)
    """What one hour of this hardware costs, in `currency`."""
    power_watts: float | None = Field(default=None, gt=0)
    """Average power draw under load; gives energy per 1M tokens when set."""


class Pricing(StrictModel):
    """The whole file."""

    currency: str = "USD"
    hardware: dict[str, HardwarePrice] = Field(default_factory=dict)

    def price(self, label: str) -> HardwarePrice | None:
        """The entry for a hardware label, or None when the file does not price it."""
        return self.hardware.get(label)
