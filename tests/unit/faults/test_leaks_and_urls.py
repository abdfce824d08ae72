"""`--scenario http://user:KEY@host:port`: the key is sent, and written nowhere; the scenario id
and every label come from the served model's name."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from fault_support import copy_configs, files_holding, run_pytest
from hostile_server import Act, HostileServer, Request, answer, models

from cibench.artifacts import RunFile, RunWriter
from cibench.config.options import CibenchOptions
from cibench.errors import ConfigError
from cibench.launch.url import url_scenario
from cibench.redact import register_secret, scrub
from cibench.session import CibenchSession

MODEL = "org/Echo-1.5B"
SCENARIO_ID = "org-Echo-1.5B"


def echo_server(secret: str):  # type: ignore[no-untyped-def]
    """Healthy, lists MODEL for the right key, and echoes the request headers in every error."""

    def behave(request: Request) -> Act:
        if request.path == "/health":
            return answer(200)
        if request.headers.get("authorization") != f"Bearer {secret}":
            return answer(401, {"error": "Unauthorized"})
        if request.path == "/v1/models":
            return models(MODEL)
        return answer(400, {"error": {"message": f"bad request; headers: {request.headers}"}})

    return behave


def test_url_credentials_become_the_key_and_the_model_names_the_scenario() -> None:
    secret = f"sk-{secrets.token_hex(8)}"
    with HostileServer(echo_server(secret)) as server:
        url = server.url.replace("http://", f"http://user:{secret}@")
        found = url_scenario(url)
        port_only = url_scenario(server.url, model="my/model:v2")
    assert found.scenario.id == SCENARIO_ID  # not host-port: a baseline survives a new port
    assert found.scenario.model == MODEL
    assert found.api_key == secret
    assert secret not in found.scenario.model_dump_json()
    assert port_only.scenario.id == "my-model-v2"


def test_scenario_id_can_be_given_and_is_checked() -> None:
    assert url_scenario("http://127.0.0.1:9", model="m", scenario_id="prod-a").scenario.id == (
        "prod-a"
    )
    with pytest.raises(ConfigError, match="--scenario-id"):
        url_scenario("http://127.0.0.1:9", model="m", scenario_id="../etc")


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://user:sk-verysecret1@[::1", "http://h:99999", "http:// x"]
)
def test_a_malformed_url_is_a_clear_error_without_the_key(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        url_scenario(url)
    message = str(caught.value)
    assert "--scenario" in message
    assert "http://HOST:PORT" in message
    assert "sk-verysecret1" not in message


def test_scrub_blanks_every_registered_key() -> None:
    register_secret("sk-abcdef123")
    register_secret("EMPTY")  # the OpenAI clients' "no key" is not a secret
    assert scrub("Bearer sk-abcdef123 EMPTY") == "Bearer *** EMPTY"


def test_a_header_echoing_server_leaks_the_url_key_nowhere(tmp_path: Path) -> None:
    secret = f"sk-leak-{secrets.token_hex(10)}"
    configs = copy_configs(tmp_path)
    artifacts = tmp_path / "artifacts"
    with HostileServer(echo_server(secret)) as server:
        url = server.url.replace("http://", f"http://user:{secret}@")
        # a URL scenario runs the default entry (functional + perf); a few suites are enough
        result = run_pytest(
            configs, artifacts, "--scenario", url, "--run-id", "leak", "-rA",
            "-k", "models_health or chat_core or perf",
        )  # fmt: skip
    output = result.stdout + result.stderr
    run_dir = artifacts / "leak"
    assert (run_dir / SCENARIO_ID / "functional.csv").exists(), output[-3000:]
    assert any(secret in r.body.decode() + str(r.headers) for r in server.requests)  # sent
    assert files_holding(artifacts, secret) == []
    assert secret not in output
    assert "Traceback" not in output
    session = json.loads((run_dir / "session.json").read_text())
    assert session["scenarios"][SCENARIO_ID]["model"] == MODEL  # not "auto"
    assert f'model="{MODEL}"' in (run_dir / "metrics.prom").read_text()
    assert 'model="auto"' not in (run_dir / "metrics.prom").read_text()


def test_an_xdist_controller_names_a_url_scenarios_model_from_its_run_json(
    tmp_path: Path,
) -> None:
    # The controller never resolved the URL (its workers did): it must neither ask the
    # server again nor fail, and the model label is what the server reported.
    configs = Path(__file__).resolve().parents[3] / "configs"
    run = RunFile(scenario=SCENARIO_ID, mode="external", model=MODEL, served_model_name=MODEL)
    session = CibenchSession(
        CibenchOptions(
            scenarios=["http://127.0.0.1:9"], configs_dir=configs, artifacts_dir=tmp_path
        )
    )
    RunWriter(session.run_dir).start_scenario(run, SCENARIO_ID)
    session.record_stage(SCENARIO_ID, "functional")
    written = json.loads(session.write_session_json().read_text())
    assert written["scenarios"][SCENARIO_ID]["model"] == MODEL
    assert written["scenarios"][SCENARIO_ID]["mode"] == "external"
