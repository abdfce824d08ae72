"""Our functional stage: the plugin parametrizes `functional_case` from configs/, probes the
server's capabilities once (`functional_server`, `capabilities.json`) and writes each case's
row to `functional.csv`; `check_functional_case` runs the case and fails or skips the test."""

import pytest

from cibench.stages import check_functional_case

pytestmark = pytest.mark.functional


def test_my_functional(functional_case, functional_server, http_client, functional_record):
    check_functional_case(functional_case, functional_server, http_client, functional_record)
