"""The llama.cpp engine launcher's defaults."""

from __future__ import annotations

from cibench.engines.llamacpp import default_threads


def test_llamacpp_leaves_one_core_for_the_load_generator() -> None:
    assert default_threads(2) == 1
    assert default_threads(16) == 15
    assert default_threads(1) == 1
