"""Finding and reading GPQA-shaped CSVs: path, URL download into the cache, cache, clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from acc_support import Reply, ScriptedServer

from cibench.accuracy.dataset import load_dataset, parse_rows
from cibench.config.accuracy import AccuracyProfile
from cibench.errors import DatasetError

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
HEADER = "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"

Start = Callable[[Callable[[str, bytes], Reply]], ScriptedServer]


def serve_file(start: Start, content: bytes, status: int = 200) -> ScriptedServer:
    return start(lambda _path, _body: Reply(status=status, raw=content))


def test_shipped_profiles_read_the_shipped_synthetic_set_relative_to_configs() -> None:
    profile = AccuracyProfile.model_validate(
        yaml.safe_load((CONFIGS / "tests/accuracy/pr.yaml").read_text())
    )
    rows, source = load_dataset(profile, CONFIGS)
    assert source.path == CONFIGS / "datasets/gpqa_synthetic.csv"
    assert len(rows) == 40
    assert all(row.question.startswith("[SYNTHETIC #") for row in rows)


def test_missing_dataset_path_says_where_to_put_the_file(tmp_path: Path) -> None:
    profile = AccuracyProfile(dataset_path="data/gpqa_diamond.csv")
    with pytest.raises(DatasetError) as caught:
        load_dataset(profile, tmp_path)
    message = str(caught.value)
    assert message.startswith(
        f"GPQA dataset not found: dataset_path 'data/gpqa_diamond.csv' -> "
        f"{tmp_path / 'data/gpqa_diamond.csv'} does not exist."
    )
    assert "download gpqa_diamond.csv once" in message
    assert "docs/accuracy.md" in message


def test_shipped_real_profile_without_the_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    profile = AccuracyProfile.model_validate(
        yaml.safe_load((CONFIGS / "tests/accuracy/gpqa-real.yaml").read_text())
    )
    with pytest.raises(DatasetError, match="GPQA dataset not found") as caught:
        load_dataset(profile, CONFIGS)
    assert str(tmp_path / ".cache/cibench/gpqa_diamond.csv") in str(caught.value)


def test_no_path_no_url_looks_in_the_cache_dir(tmp_path: Path, synthetic_csv: Path) -> None:
    profile = AccuracyProfile(variant="main", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DatasetError, match=r"the cache has no .*cache/gpqa_main\.csv"):
        load_dataset(profile, tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/gpqa_main.csv").write_bytes(synthetic_csv.read_bytes())
    rows, source = load_dataset(profile, tmp_path)
    assert (len(rows), source.path) == (12, tmp_path / "cache/gpqa_main.csv")


def test_missing_column_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2\nq,a,b,c\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(AccuracyProfile(dataset_path=str(bad)), tmp_path)
    assert str(caught.value).startswith(
        f"{bad}: missing column(s) 'Incorrect Answer 3'; a GPQA CSV needs Question, "
        "Correct Answer, Incorrect Answer 1, Incorrect Answer 2, Incorrect Answer 3"
    )


def test_short_row_names_its_line() -> None:
    with pytest.raises(DatasetError, match=r"^f.csv: line 3: the row has fewer fields"):
        parse_rows(HEADER + "q1,a,b,c,d\nq2,a,b\n", "f.csv")


def test_header_without_rows_is_an_error() -> None:
    with pytest.raises(DatasetError, match="has a header but no questions"):
        parse_rows(HEADER, "f.csv")


def test_quoted_multiline_cells_bom_and_extra_columns_are_read() -> None:
    text = "\ufeffRecord ID," + HEADER.strip() + ',Extra\nr1,"line 1\nline, 2",a,b,c,d,x\n'
    [row] = parse_rows(text, "f.csv")
    assert row.question == "line 1\nline, 2"
    assert (row.correct, row.incorrect) == ("a", ("b", "c", "d"))


def test_not_utf8_is_an_error(tmp_path: Path) -> None:
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        load_dataset(AccuracyProfile(dataset_path=str(binary)), tmp_path)


def test_url_is_downloaded_into_the_cache_once(
    tmp_path: Path, synthetic_csv: Path, scripted_server: Start
) -> None:
    server = serve_file(scripted_server, synthetic_csv.read_bytes())
    url = f"{server.base_url}/files/gpqa_diamond.csv"
    profile = AccuracyProfile(dataset_url=url, cache_dir="cache")
    rows, source = load_dataset(profile, tmp_path)
    assert (len(rows), source.path, source.url) == (12, tmp_path / "cache/gpqa_diamond.csv", url)
    assert source.path.read_bytes() == synthetic_csv.read_bytes()
    again, _ = load_dataset(profile, tmp_path)
    assert again == rows
    assert len(server.requests) == 1  # the second load read the cache


def test_existing_dataset_path_wins_over_url(
    tmp_path: Path, synthetic_csv: Path, scripted_server: Start
) -> None:
    server = serve_file(scripted_server, b"unused")
    profile = AccuracyProfile(
        dataset_path=str(synthetic_csv), dataset_url=f"{server.base_url}/gpqa.csv"
    )
    _, source = load_dataset(profile, tmp_path)
    assert (source.path, server.requests) == (synthetic_csv, [])


def test_failed_download_names_the_url_and_caches_nothing(
    tmp_path: Path, scripted_server: Start
) -> None:
    server = serve_file(scripted_server, b"not here", status=404)
    url = f"{server.base_url}/gpqa_diamond.csv"
    profile = AccuracyProfile(dataset_url=url, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(
        DatasetError, match=rf"^dataset_url {url}: download failed \(HTTPStatusError"
    ):
        load_dataset(profile, tmp_path)
    assert not (tmp_path / "cache/gpqa_diamond.csv").exists()


def test_malformed_download_is_not_cached(tmp_path: Path, scripted_server: Start) -> None:
    server = serve_file(scripted_server, b"Question,Correct Answer\nq,a\n")
    url = f"{server.base_url}/gpqa_diamond.csv"
    profile = AccuracyProfile(dataset_url=url, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DatasetError, match=rf"^dataset_url {url}: missing column"):
        load_dataset(profile, tmp_path)
    assert list((tmp_path / "cache").glob("*")) == []
