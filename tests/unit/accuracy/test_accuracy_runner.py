"""A whole accuracy run against the simulator: exact score, faults, verdict, output files."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from acc_support import SIM_MODEL, Reply, ScriptedServer, chat_reply, endpoint_for, make_profile

from cibench.accuracy.runner import run_profile
from cibench.artifacts import AccuracyRow
from cibench.errors import DatasetError
from cibench.sim.testing import run_simulator

Start = Callable[[Callable[[str, bytes], Reply]], ScriptedServer]

TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of "
    "the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n\n{Question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)


def expected_hits(
    csv_path: Path, num_examples: int | None, n_repeats: int, seed: int
) -> list[bool]:
    """Per sample, whether the simulator's letter (sha256 rule) is the gold one: an oracle
    written from the protocol's description, independent of cibench.accuracy.gpqa."""
    with csv_path.open(encoding="utf-8", newline="") as handle:
        examples = list(csv.DictReader(handle))
    rng = random.Random(seed)
    if num_examples:
        examples = rng.sample(examples, num_examples)
    examples = examples * n_repeats
    hits = []
    for row in examples:
        permutation = rng.sample(range(4), 4)
        original = [row["Correct Answer"]] + [row[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
        choices = [original[i] for i in permutation]
        gold = "ABCD"[choices.index(row["Correct Answer"])]
        prompt = TEMPLATE.format(
            Question=row["Question"], A=choices[0], B=choices[1], C=choices[2], D=choices[3]
        )
        answered = "ABCD"[hashlib.sha256(prompt.encode("utf-8")).digest()[0] % 4]
        hits.append(answered == gold)
    return hits


def test_score_matches_the_independent_oracle_exactly(
    sim_url: str, synthetic_csv: Path, tmp_path: Path
) -> None:
    hits = expected_hits(synthetic_csv, num_examples=None, n_repeats=3, seed=0)
    profile = make_profile(synthetic_csv, n_repeats=3)
    outcome = run_profile(profile, endpoint_for(sim_url), tmp_path, tmp_path / "out", "daily")
    assert outcome.n_samples == len(hits) == 36
    assert outcome.score == sum(hits) / len(hits)
    assert 0 < outcome.score < 1  # a score that tells right from wrong, not a degenerate one
    assert (outcome.errors, outcome.null_content) == (0, 0)


def test_debug_subset_matches_the_oracle_and_same_seed_gives_same_score(
    sim_url: str, synthetic_csv: Path, tmp_path: Path
) -> None:
    hits = expected_hits(synthetic_csv, num_examples=8, n_repeats=1, seed=5)
    profile = make_profile(synthetic_csv, debug=True, num_examples=8, seed=5)
    first = run_profile(profile, endpoint_for(sim_url), tmp_path, tmp_path / "a", "pr")
    second = run_profile(profile, endpoint_for(sim_url), tmp_path, tmp_path / "b", "pr")
    assert first.score == second.score == sum(hits) / 8
    assert (first.n_samples, first.n_questions) == (8, 8)
    first_json = json.loads(first.json_path.read_text())
    second_json = json.loads(second.json_path.read_text())
    assert first_json["score:std"] == second_json["score:std"]


def test_server_errors_count_as_wrong_answers(synthetic_csv: Path, tmp_path: Path) -> None:
    profile = make_profile(synthetic_csv, max_retries=1, retry_backoff_seconds=0.01)
    with run_simulator("--served-model-name", SIM_MODEL, "--error-ratio", "1.0") as url:
        outcome = run_profile(profile, endpoint_for(url), tmp_path, tmp_path / "out", "pr")
    assert (outcome.score, outcome.n_samples, outcome.errors) == (0.0, 12, 12)
    assert outcome.first_error is not None
    assert outcome.first_error.startswith("HTTP 500")
    document = json.loads(outcome.json_path.read_text())
    assert (document["n_errors"], document["n_no_answer"]) == (12, 12)


def test_some_errors_lower_the_score_sample_by_sample(synthetic_csv: Path, tmp_path: Path) -> None:
    hits = expected_hits(synthetic_csv, None, 1, 0)
    with run_simulator("--served-model-name", SIM_MODEL, "--error-ratio", "0.5") as url:
        outcome = run_profile(
            make_profile(synthetic_csv), endpoint_for(url), tmp_path, tmp_path / "out", "pr"
        )
    assert 0 < outcome.errors < 12
    html_text = outcome.html_path.read_text()
    assert html_text.count("error: HTTP 500") == outcome.errors
    assert outcome.score <= sum(hits) / 12


def test_slow_server_times_out_and_the_run_stays_bounded(
    synthetic_csv: Path, tmp_path: Path
) -> None:
    # every answer takes >= 1.5 s; 4 prompts x 2 attempts x 0.3 s on 4 threads is about 0.6 s
    profile = make_profile(
        synthetic_csv, num_examples=4, request_timeout_seconds=0.3, max_retries=1
    )
    args = ("--served-model-name", SIM_MODEL, "--prefill-base-ms", "1500")
    with run_simulator(*args) as url:
        started = time.monotonic()
        outcome = run_profile(profile, endpoint_for(url), tmp_path, tmp_path / "out", "pr")
        elapsed = time.monotonic() - started
    assert (outcome.score, outcome.errors) == (0.0, 4)
    assert outcome.first_error == "timed out after 0.3 s (ReadTimeout)"
    assert elapsed < 10, elapsed  # loose: the machine is shared


def test_null_content_scores_zero_and_keeps_the_reasoning(
    synthetic_csv: Path, tmp_path: Path, scripted_server: Start
) -> None:
    server = scripted_server(
        lambda _p, _b: chat_reply(None, "length", reasoning="Answer: A <thinking>")
    )
    profile = make_profile(synthetic_csv, num_examples=4)
    outcome = run_profile(profile, endpoint_for(server.base_url), tmp_path, tmp_path / "o", "pr")
    assert (outcome.score, outcome.null_content, outcome.errors) == (0.0, 4, 0)
    assert len(server.requests) == 4  # no retries
    html_text = outcome.html_path.read_text()
    assert html_text.count("Answer: A &lt;thinking&gt;") == 4
    assert "returned null content" in outcome.summary()


def test_threshold_pass_and_fail(sim_url: str, synthetic_csv: Path, tmp_path: Path) -> None:
    hits = expected_hits(synthetic_csv, num_examples=10, n_repeats=1, seed=0)
    score = sum(hits) / 10
    at = make_profile(synthetic_csv, num_examples=10, threshold=score)
    above = make_profile(synthetic_csv, num_examples=10, threshold=score + 0.05)
    passing = run_profile(at, endpoint_for(sim_url), tmp_path, tmp_path / "out", "pr")
    failing = run_profile(above, endpoint_for(sim_url), tmp_path, tmp_path / "out", "pr")
    assert passing.passed
    assert not failing.passed
    assert failing.summary().startswith(
        f"gpqa synthetic accuracy {score:.4f} (std {failing.score_std:.4f}) is below the "
        f"threshold {score + 0.05:.4f} on n=10 samples (10 questions x 1 repeat; scenario "
        f"'acc-test', profile 'pr', model '{SIM_MODEL}')."
    )
    with (tmp_path / "out/accuracy.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == AccuracyRow.header()
    assert [row["pass"] for row in rows] == ["1", "0"]
    assert rows[1] == {
        "dataset": "gpqa",
        "variant": "synthetic",
        "score": str(score),
        "std": str(failing.score_std),
        "n": "10",
        "threshold": str(score + 0.05),
        "pass": "0",
        "model": SIM_MODEL,
    }


def test_output_files_are_named_by_model_and_hold_simple_evals_keys(
    sim_url: str, synthetic_csv: Path, tmp_path: Path
) -> None:
    profile = make_profile(synthetic_csv, num_examples=5)
    outcome = run_profile(profile, endpoint_for(sim_url), tmp_path, tmp_path / "stage", "pr")
    assert outcome.json_path.parent == tmp_path / "stage/accuracy"
    assert outcome.json_path.name.startswith("gpqa_org_sim-model_")
    assert outcome.html_path == outcome.json_path.with_suffix(".html")
    document = json.loads(outcome.json_path.read_text())
    for key in ("score", "score:std", "chars", "chars:std", "n_samples"):
        assert isinstance(document[key], int | float), key
    assert document["config"] == profile.model_dump(mode="json")
    assert (document["variant"], document["synthetic"], document["pass"]) == (
        "synthetic",
        True,
        True,
    )


def test_html_escapes_the_conversation(sim_url: str, tmp_path: Path) -> None:
    dataset = tmp_path / "tricky.csv"
    dataset.write_text(
        "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
        '"Is <script>alert(1)</script> & co safe?",yes,no,<b>maybe</b>,"""never"""\n'
    )
    outcome = run_profile(
        make_profile(dataset), endpoint_for(sim_url), tmp_path, tmp_path / "out", "pr"
    )
    html_text = outcome.html_path.read_text()
    assert "<script>" not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co safe?" in html_text
    assert "&lt;b&gt;maybe&lt;/b&gt;" in html_text


def test_conversations_can_be_left_out_of_the_html(
    sim_url: str, synthetic_csv: Path, tmp_path: Path
) -> None:
    profile = make_profile(synthetic_csv, num_examples=3, html_conversations=False)
    outcome = run_profile(profile, endpoint_for(sim_url), tmp_path, tmp_path / "out", "pr")
    html_text = outcome.html_path.read_text()
    assert "SYNTHETIC #" not in html_text
    assert html_text.count("<h3") == 3


def test_api_key_reaches_no_output(sim_url: str, synthetic_csv: Path, tmp_path: Path) -> None:
    key = "sk-never-write-me-42"
    endpoint = endpoint_for(sim_url, api_key=key)
    outcome = run_profile(
        make_profile(synthetic_csv, num_examples=3), endpoint, tmp_path, tmp_path / "out", "pr"
    )
    for path in (outcome.json_path, outcome.html_path, outcome.csv_path):
        assert key not in path.read_text()
    assert key not in outcome.summary()
    assert key not in repr(outcome)


def test_missing_dataset_sends_nothing(tmp_path: Path, scripted_server: Start) -> None:
    server = scripted_server(lambda _p, _b: chat_reply("Answer: A"))
    profile = make_profile(tmp_path / "absent.csv")
    with pytest.raises(DatasetError, match="GPQA dataset not found"):
        run_profile(profile, endpoint_for(server.base_url), tmp_path, tmp_path / "out", "pr")
    assert server.requests == []
    assert not (tmp_path / "out/accuracy.csv").exists()
