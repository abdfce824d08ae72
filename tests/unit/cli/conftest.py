"""Fixtures: a real Pushgateway on loopback (wiped per test)."""

from tests.support.pushgateway import pushgateway, pushgateway_server

__all__ = ["pushgateway", "pushgateway_server"]
