"""The functional stage: every case of configs/tests/functional/*.yaml against the scenario.

The plugin parametrizes `functional_case`, probes the scenario's server once for its
capabilities (`functional_server`), and appends each case's row to the scenario's functional
CSV (`cibench.functional_plugin`); `check_functional_case` runs the case and fails or skips
the test.
"""

from __future__ import annotations

import httpx
import pytest

from cibench.functional.results import CaseRecord
from cibench.functional.stage import Server
from cibench.plan import FunctionalItem
from cibench.stages import check_functional_case

pytestmark = pytest.mark.functional


def test_functional(
    functional_case: FunctionalItem,
    functional_server: Server,
    http_client: httpx.Client,
    functional_record: CaseRecord,
) -> None:
    check_functional_case(functional_case, functional_server, http_client, functional_record)
