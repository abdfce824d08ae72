"""Capabilities declared on the command line: --features and --expect-capabilities FILE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cibench.config.declared import (
    DeclaredCapabilitiesError,
    features_from_document,
    features_from_file,
    parse_features,
    with_declared,
)
from cibench.config.scenario import Features


def test_a_features_list_declares_each_name_on_unless_told_otherwise() -> None:
    assert parse_features("chat, logprobs,n=false,tokenize=yes") == {
        "chat": True,
        "logprobs": True,
        "n": False,
        "tokenize": True,
    }


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        DeclaredCapabilitiesError, match=r"unknown capability 'logprob'; known: chat"
    ):
        parse_features("logprob")
    with pytest.raises(DeclaredCapabilitiesError, match="must be true or false"):
        parse_features("chat=maybe")


def test_a_file_may_list_names_map_them_or_be_an_earlier_capabilities_json(
    tmp_path: Path,
) -> None:
    listed = tmp_path / "caps.yaml"
    listed.write_text("[chat, n]\n")
    assert features_from_file(listed) == {"chat": True, "n": True}
    probe_output = {
        "scenario_id": "s",
        "findings": {
            "chat": {"support": "yes", "evidence": "200"},
            "n": {"support": "no", "evidence": "400"},
            "echo": {"support": "unknown", "evidence": "500"},
        },
    }
    earlier = tmp_path / "capabilities.json"
    earlier.write_text(json.dumps(probe_output))
    assert features_from_file(earlier) == {"chat": True}
    assert features_from_document({"n": False}, "x") == {"n": False}
    with pytest.raises(DeclaredCapabilitiesError, match="x: n: expected true or false"):
        features_from_document({"n": "no"}, "x")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeclaredCapabilitiesError, match=r"--expect-capabilities .*cannot read"):
        features_from_file(tmp_path / "nope.yaml")


def test_declarations_override_the_scenario_file() -> None:
    merged = with_declared(Features(n=True, echo=False), {"n": False, "chat": True})
    assert (merged.n, merged.echo, merged.chat, merged.logprobs) == (False, False, True, None)
