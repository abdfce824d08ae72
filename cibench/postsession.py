"""Hooks that run after the tests: record which stages ran, then collect, push, gate, summarise."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from cibench.config.matrix import Stage
from cibench.errors import CibenchError
from cibench.redact import scrub, scrub_tree
from cibench.session import CibenchSession

if TYPE_CHECKING:
    from cibench.report.pipeline import PostSessionResult


class PostSession:
    """Registered as a pytest plugin so that its hooks can keep state on the instance.

    Under xdist every process has one, but only the controller (or a run without xdist)
    writes `session.json` and runs the post-session pipeline; workers only stop their servers.
    """

    def __init__(self, session: CibenchSession) -> None:
        self.session = session
        self.result: PostSessionResult | None = None
        self.error: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "cibench_scenario" in props and not props.get("cibench_off"):
            stage = cast(Stage, props["cibench_stage"])
            self.session.record_stage(str(props["cibench_scenario"]), stage)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return
        try:
            self.session.check_before_run()
        except CibenchError as exc:
            raise pytest.UsageError(scrub(str(exc))) from None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.session.close_servers()
        if hasattr(session.config, "workerinput") or not self.session.stages_seen:
            return
        try:
            self._post_session(session)
        finally:
            self.session.stamp_exit_status(int(session.exitstatus))

    def _post_session(self, session: pytest.Session) -> None:
        interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        scrub_tree(self.session.run_dir)  # whatever a writer missed, before metrics are built
        # Imported here: the metrics stack is only needed at the end of a stage run.
        from cibench.report.pipeline import PostSessionOptions, run_post_session

        options = self.session.options
        try:
            self.session.write_session_json()
            self.result = run_post_session(
                self.session.run_dir,
                self.session.settings,
                PostSessionOptions(
                    run_type=options.run_type,
                    pushgateway_url=options.pushgateway_or(self.session.settings),
                    baseline=options.baseline_or(self.session.settings),
                    gates_enabled=options.gates_enabled,
                    require_baseline=options.require_baseline_or(self.session.settings),
                    instance=options.instance,
                    interrupted=interrupted,
                ),
            )
        except (CibenchError, OSError) as exc:
            # The tests' own results stand; the post-session failure is reported, not raised,
            # so that nothing already measured is lost.
            self.error = str(exc)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        self._add_gate_cases(session.config)
        # Failed tests keep pytest's own code (1); a run whose tests passed but whose gates or
        # push failed gets the pipeline's code (6: gate, 7: push) so CI can tell them apart.
        if self.result.failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = self.result.exit_code or pytest.ExitCode.TESTS_FAILED

    def _add_gate_cases(self, config: pytest.Config) -> None:
        """One JUnit test case per gate verdict in the `--junitxml` file, when there is one
        (pytest's junitxml plugin has written it by now: this hook runs last)."""
        xmlpath = getattr(config.option, "xmlpath", None)
        if not xmlpath or self.result is None or not self.result.verdicts:
            return
        from xml.etree.ElementTree import ParseError

        from cibench.report.junit import append_gate_cases

        try:
            append_gate_cases(Path(xmlpath), self.result.verdicts)
        except (OSError, ParseError) as exc:
            self.result.summary_lines.append(
                f"junit: cannot add the gate cases to {xmlpath}: {exc}"
            )
        else:
            self.result.summary_lines.append(f"junit: gate verdicts added to {xmlpath}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.result is None and self.error is None:
            return
        terminalreporter.section("cibench")
        if self.error is not None:
            terminalreporter.line(f"post-session failed: {scrub(self.error)}", red=True)
        if self.result is not None:
            for line in self.result.summary_lines:
                terminalreporter.line(scrub(line))
        terminalreporter.line(f"artifacts: {self.session.run_dir}")
