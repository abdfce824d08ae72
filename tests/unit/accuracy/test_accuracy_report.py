"""Report helpers: file names from served model names, the synthetic set."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cibench.accuracy.dataset import load_dataset
from cibench.accuracy.report import output_paths, sanitize_model
from cibench.accuracy.synthetic import SOURCE_LABEL, generate_rows, main
from cibench.config.accuracy import AccuracyProfile

SHIPPED = Path(__file__).resolve().parents[3] / "configs/datasets/gpqa_synthetic.csv"


@pytest.mark.parametrize(
    ("served", "safe"),
    [
        ("Qwen/Qwen3-8B", "Qwen_Qwen3-8B"),
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama_Llama-3.1-8B-Instruct"),
        ("a b:c", "a_b_c"),
        ("../../etc/passwd", "etc_passwd"),
        ("///", "model"),
    ],
)
def test_model_names_become_safe_file_names(served: str, safe: str) -> None:
    assert sanitize_model(served) == safe


def test_output_paths_keep_dots_and_never_overwrite(tmp_path: Path) -> None:
    json_path, html_path = output_paths(tmp_path, "gpqa", "Qwen/Qwen2.5-7B", "20260101_000000")
    assert json_path == tmp_path / "gpqa_Qwen_Qwen2.5-7B_20260101_000000.json"
    assert html_path == tmp_path / "gpqa_Qwen_Qwen2.5-7B_20260101_000000.html"
    json_path.write_text("{}")
    assert output_paths(tmp_path, "gpqa", "Qwen/Qwen2.5-7B", "20260101_000000")[0] == (
        tmp_path / "gpqa_Qwen_Qwen2.5-7B_20260101_000000_1.json"
    )


def test_synthetic_rows_are_labelled_and_have_four_distinct_answers() -> None:
    rows = generate_rows(40)
    assert generate_rows(40) == rows
    for row in rows:
        assert row["Question"].startswith("[SYNTHETIC #")
        assert row["Source"] == SOURCE_LABEL
        answers = [row["Correct Answer"]] + [row[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
        assert len(set(answers)) == 4


def test_shipped_synthetic_set_is_exactly_the_generator_output(tmp_path: Path) -> None:
    # guards the committed file: it must stay generated (invented), never edited into real rows
    assert main([str(tmp_path / "regen.csv"), "--rows", "40", "--seed", "0"]) == 0
    assert (tmp_path / "regen.csv").read_bytes() == SHIPPED.read_bytes()
    with SHIPPED.open(newline="", encoding="utf-8") as handle:
        assert all(row["Source"] == SOURCE_LABEL for row in csv.DictReader(handle))


def test_generated_csv_loads_as_a_dataset(tmp_path: Path) -> None:
    main([str(tmp_path / "s.csv"), "--rows", "7"])
    rows, _ = load_dataset(AccuracyProfile(dataset_path=str(tmp_path / "s.csv")), tmp_path)
    assert len(rows) == 7
