"""Run one accuracy profile against an endpoint: load, sample, score, write files, judge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cibench.accuracy import gpqa, report
from cibench.accuracy.dataset import DatasetSource, load_dataset
from cibench.accuracy.report import SampleResult
from cibench.accuracy.sampler import ChatSampler, SamplerConfig
from cibench.artifacts import AccuracyRow, ScenarioWriter, layout
from cibench.client.endpoint import Endpoint
from cibench.config.accuracy import AccuracyProfile


@dataclass(frozen=True, slots=True)
class AccuracyOutcome:
    """The verdict of one run and where its files are."""

    scenario_id: str
    profile_name: str
    dataset: str
    variant: str
    model: str
    score: float
    score_std: float
    n_samples: int
    n_questions: int
    n_repeats: int
    threshold: float
    max_error_ratio: float
    errors: int
    null_content: int
    first_error: str | None
    json_path: Path
    html_path: Path
    csv_path: Path

    @property
    def error_ratio(self) -> float:
        """The share of samples whose request failed."""
        return self.errors / self.n_samples if self.n_samples else 1.0

    @property
    def too_many_errors(self) -> bool:
        """Whether more requests failed than the profile's `max_error_ratio` allows."""
        return self.error_ratio > self.max_error_ratio

    @property
    def passed(self) -> bool:
        """Whether the score reaches the threshold with no more errors than allowed."""
        return self.score >= self.threshold and not self.too_many_errors

    def summary(self) -> str:
        """One line: score, threshold, sample size and where the report is."""
        if self.too_many_errors:
            return (
                f"{self.errors} of {self.n_samples} requests failed ({self.error_ratio:.0%}), "
                f"more than max_error_ratio {self.max_error_ratio:g} of profile "
                f"'{self.profile_name}' allows: the score {self.score:.4f} measures the "
                f"errors, not the model (scenario '{self.scenario_id}'). First error: "
                f"{self.first_error}. Report: {self.html_path}"
            )
        verdict = "reaches" if self.score >= self.threshold else "is below"
        text = (
            f"{self.dataset} {self.variant} accuracy {self.score:.4f} (std {self.score_std:.4f}) "
            f"{verdict} the threshold {self.threshold:.4f} on n={self.n_samples} samples "
            f"({self.n_questions} questions x {self.n_repeats} "
            f"repeat{'s' if self.n_repeats > 1 else ''}; scenario "
            f"'{self.scenario_id}', profile '{self.profile_name}', model '{self.model}')."
        )
        if self.errors or self.null_content:
            text += (
                f" {self.errors} request(s) failed and {self.null_content} returned null "
                "content; both count as wrong answers."
            )
            if self.first_error:
                text += f" First error: {self.first_error}"
        return f"{text} Report: {self.html_path}"


def evaluate(samples: Sequence[gpqa.GpqaSample], sampler: ChatSampler) -> list[SampleResult]:
    """Send every sample's prompt and score the answers, in sample order."""
    responses = sampler.complete_all([sample.prompt for sample in samples])
    return [
        SampleResult(sample, response, gpqa.score_response(response.content, sample.gold))
        for sample, response in zip(samples, responses, strict=True)
    ]


def sampler_config(profile: AccuracyProfile, endpoint: Endpoint) -> SamplerConfig:
    """The sampler settings for a profile and an endpoint (key from the endpoint, never config)."""
    return SamplerConfig(
        api_base=endpoint.api_base,
        model=endpoint.model,
        api_key=endpoint.api_key,
        max_tokens=profile.max_tokens,
        temperature=profile.temperature,
        timeout_seconds=profile.request_timeout_seconds,
        max_retries=profile.max_retries,
        backoff_seconds=profile.retry_backoff_seconds,
        num_threads=profile.num_threads,
    )


def run_profile(
    profile: AccuracyProfile,
    endpoint: Endpoint,
    configs_root: Path,
    stage_dir: Path,
    profile_name: str,
    now: datetime | None = None,
) -> AccuracyOutcome:
    """Evaluate `profile` against `endpoint` and write JSON, HTML and the `accuracy.csv` row.

    :param configs_root: the configs directory; relative dataset paths are resolved against it.
    :param stage_dir: the scenario's artifacts directory; files go to `stage_dir/accuracy/`.
    :param now: the run's start time (default: the current UTC time), used in file names.
    :raises DatasetError: when the dataset is missing or malformed (nothing is sent then).
    """
    moment = now or datetime.now(timezone.utc)  # the run's start names its files
    rows, source = load_dataset(profile, configs_root)
    samples = gpqa.build_samples(rows, profile.sample_count, profile.n_repeats, profile.seed)
    with ChatSampler(sampler_config(profile, endpoint)) as sampler:
        results = evaluate(samples, sampler)
    aggregate = gpqa.aggregate([item.score for item in results])
    if aggregate is None:  # build_samples never returns an empty list for a non-empty file
        raise RuntimeError("no samples were evaluated")
    return _write_outputs(
        profile, endpoint, source, results, aggregate, stage_dir, profile_name, moment
    )


def sample_record(item: SampleResult) -> dict[str, object]:
    """One sample's outcome for the JSON `samples` list (no question text: GPQA asks that
    examples are not republished, so reports show indices and letters only)."""
    return {
        "sample": item.sample.index,
        "question": item.sample.row_index,
        "gold": item.sample.gold,
        "extracted": item.score.extracted,
        "score": item.score.score,
        "finish_reason": item.response.finish_reason,
        "error": item.response.error,
        "latency_s": round(item.response.latency_s, 4),
    }


def _write_outputs(
    profile: AccuracyProfile,
    endpoint: Endpoint,
    source: DatasetSource,
    results: Sequence[SampleResult],
    aggregate: gpqa.Aggregate,
    stage_dir: Path,
    profile_name: str,
    moment: datetime,
) -> AccuracyOutcome:
    variant = "synthetic" if profile.synthetic else profile.variant
    errors = [item.response.error for item in results if item.response.error]
    null_content = sum(
        1 for item in results if item.response.content is None and not item.response.error
    )
    out_dir = stage_dir / "accuracy"
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = report.output_paths(
        out_dir, profile.dataset, endpoint.model, moment.strftime("%Y%m%d_%H%M%S")
    )
    writer = ScenarioWriter(stage_dir)
    n_questions = len({item.sample.row_index for item in results})
    outcome = AccuracyOutcome(
        scenario_id=endpoint.scenario.id,
        profile_name=profile_name,
        dataset=profile.dataset,
        variant=variant,
        model=endpoint.model,
        score=aggregate.score,
        score_std=aggregate.score_std,
        n_samples=aggregate.n_samples,
        n_questions=n_questions,
        n_repeats=profile.n_repeats,
        threshold=profile.threshold,
        max_error_ratio=profile.max_error_ratio,
        errors=len(errors),
        null_content=null_content,
        first_error=errors[0] if errors else None,
        json_path=json_path,
        html_path=html_path,
        csv_path=stage_dir / layout.ACCURACY_CSV,
    )
    report.write_json(
        json_path,
        aggregate,
        config=profile.model_dump(mode="json"),
        extra={
            "dataset": profile.dataset,
            "variant": variant,
            "synthetic": profile.synthetic,
            "model": endpoint.model,
            "scenario": endpoint.scenario.id,
            "profile": profile_name,
            "dataset_file": str(source.path),
            "dataset_url": source.url,
            "n_questions": n_questions,
            "n_repeats": profile.n_repeats,
            "n_errors": outcome.errors,
            "n_null_content": null_content,
            "n_no_answer": sum(1 for item in results if item.score.extracted is None),
            "threshold": profile.threshold,
            "pass": outcome.passed,
            "timestamp": moment.isoformat(),
            "samples": [sample_record(item) for item in results],
        },
    )
    notice = (
        "Synthetic questions: this score checks the harness, it is not a GPQA result."
        if profile.synthetic
        else None
    )
    title = (
        f"{profile.dataset} {variant}: {endpoint.model} ({endpoint.scenario.id}, {profile_name})"
    )
    html_text = report.render_html(title, aggregate, results, profile.html_conversations, notice)
    html_path.write_text(html_text, encoding="utf-8")
    writer.record_accuracy(
        AccuracyRow(
            dataset=profile.dataset,
            variant=variant,
            score=aggregate.score,
            std=aggregate.score_std,
            n=aggregate.n_samples,
            threshold=profile.threshold,
            passed=outcome.passed,
            model=endpoint.model,
        )
    )
    return outcome
