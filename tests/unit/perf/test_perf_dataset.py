"""Dataset prompts: the three formats, chat turns kept, seeded sampling, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cibench.cli import main
from cibench.config.perf import DatasetSpec
from cibench.errors import CibenchError
from cibench.perf.dataset import load_dataset, read_rows
from tests.support.configs import configs_for_a_busy_host
from tests.support.csv_cells import read_requests, read_summary

REPO = Path(__file__).parents[3]
SAMPLES = REPO / "configs" / "datasets"


@pytest.mark.parametrize(
    ("name", "fmt", "rows"),
    [("perf_synthetic.jsonl", "jsonl", 40), ("perf_synthetic.csv", "csv", 30),
     ("perf_synthetic_sharegpt.json", "sharegpt", 24)],
)  # fmt: skip
def test_the_shipped_samples_load_in_every_format(name: str, fmt: str, rows: int) -> None:
    spec = DatasetSpec(path=str(SAMPLES / name), format=fmt)  # type: ignore[arg-type]
    prompts = list(read_rows(spec, Path(spec.path)))
    assert len(prompts) == rows
    assert all(p.messages[-1]["role"] == "user" and p.output_tokens for p in prompts)
    chosen = load_dataset(spec, 10, seed="1", count=None)
    assert chosen == load_dataset(spec, 10, seed="1", count=None)  # seeded
    assert chosen != load_dataset(spec, 10, seed="2", count=None)


def test_sharegpt_keeps_the_turns_up_to_the_last_human_one(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    turns = [
        {"from": "human", "value": "hi"},
        {"from": "gpt", "value": "hello there"},
        {"from": "human", "value": "how are you"},
        {"from": "gpt", "value": "x" * 40},
    ]
    path.write_text(json.dumps([{"conversations": turns}]))
    (prompt,) = read_rows(DatasetSpec(path=str(path), format="sharegpt"), path)
    assert [m["role"] for m in prompt.messages] == ["user", "assistant", "user"]
    assert prompt.output_tokens == 10  # the final reply's length, ~4 characters per token


def test_length_bounds_filter_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"prompt": "w " * n}) + "\n" for n in (5, 50, 500)))
    spec = DatasetSpec(path=str(path), min_input_tokens=10, max_input_tokens=100)
    (only,) = load_dataset(spec, 1, seed="0", count=lambda text: len(text.split()))
    assert len(only.text.split()) == 50


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        (None, "jsonl", "not found: give the file's path in dataset.path"),
        ('{"prompt": "a"}\nnot json\n', "jsonl", "line 2: not a JSON object"),
        ('{"text": "a"}\n', "jsonl", "line 1: no 'prompt' field (set dataset.prompt_field)"),
        ('{"prompt": "a"}\n', "sharegpt", "whole file: a ShareGPT file is a JSON list"),
        ('[{"conversations": [{"from": "robot", "value": "x"}]}]', "sharegpt",
         "row 0: unknown speaker 'robot'"),
        ("question,answer\nq,a\n", "csv", "line 2: no 'prompt' field"),
        ('{"prompt": "a", "output_tokens": "many"}\n', "jsonl", "'many' is not a whole number"),
        ('{"prompt": "a"}\n{"prompt": "b"}\n', "jsonl", "2 usable rows of 2 within the length"),
    ],
)  # fmt: skip
def test_bad_datasets_are_clear_errors(
    tmp_path: Path, content: str | None, fmt: str, message: str
) -> None:
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_text(content)
    spec = DatasetSpec(path=str(path), format=fmt)  # type: ignore[arg-type]
    with pytest.raises(CibenchError, match="dataset") as caught:
        load_dataset(spec, 3, seed="0", count=None)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_the_dataset_example_profile_runs_against_local_sim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # the profile's path is relative to the repository root
    code = main(
        ["perf", "--configs", str(configs_for_a_busy_host(tmp_path / "configs")),
         "--artifacts", str(tmp_path), "--scenario", "local-sim", "--profile", "dataset"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().out
    (row,) = read_summary(next(tmp_path.glob("*/local-sim/perf/summary_*.csv")))
    assert row["Dataset"] == "perf_synthetic_sharegpt"
    assert row["Sizing_Method"] == "dataset"
    prompts = {r["Prompt_Tokens"] for r in read_requests(next(tmp_path.glob("*/*/perf/req*.csv")))}
    assert len(prompts) > 5  # each row its own length
