"""Fixtures: a real Pushgateway on loopback (wiped per test) and `promtool check metrics`."""

from tests.support.pushgateway import check_metrics, pushgateway, pushgateway_server

__all__ = ["check_metrics", "pushgateway", "pushgateway_server"]
