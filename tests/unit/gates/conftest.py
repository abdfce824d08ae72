"""Fixtures: a real Pushgateway on loopback (wiped per test) and `promtool check metrics`."""

from cibench.metrics.testing import check_metrics, pushgateway, pushgateway_server

__all__ = ["check_metrics", "pushgateway", "pushgateway_server"]
