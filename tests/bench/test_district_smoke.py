"""The district benchmarks run and produce their numbers (`python -m bench.district --smoke`).

A tiny version of each of the six benchmarks, in one run of the real command (its own
Mosquitto, PostgreSQL + TimescaleDB and gateway processes). What is checked is that every
number the README table reports is there and plausible in kind (a count, a positive rate, a
latency), and that every gateway run stored each event exactly once: never how fast. Speed is
the benchmark's business (`make bench`), not a test's. `tests` never imports `bench`: the
benchmark runs as a subprocess and is read back from its JSON.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_S = 480


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("bench") / "district-smoke.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.district", "--smoke", "--profile", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        check=False,
    )
    assert output.exists(), f"no result written:\n{completed.stderr[-4000:]}"
    loaded: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    loaded["_stdout"] = completed.stdout
    loaded["_stderr_tail"] = completed.stderr[-4000:]
    loaded["_returncode"] = completed.returncode
    return loaded


def positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def quantiles_present(latency: dict[str, Any]) -> bool:
    return all(positive(latency[q]) for q in ("p50", "p95", "p99"))


class TestTheRun:
    def test_every_phase_ran_without_an_error(self, result: dict[str, Any]) -> None:
        phases = ("ceilings", "rates", "memory", "api", "recovery", "scaleout")
        errors = {p: result[p]["error"] for p in phases if "error" in result[p]}
        assert not errors, result["_stderr_tail"]
        assert result["_returncode"] == 0, result["_stderr_tail"]

    def test_it_prints_the_markdown_table(self, result: dict[str, Any]) -> None:
        table = result["_stdout"]
        assert table.startswith("| metric | value |")
        for heading in ("1. Ceilings", "2. End to end", "3. Memory", "4. API", "5. Recovery"):
            assert heading in table
        assert "6. Scale-out" in table

    def test_the_result_says_what_it_was_measured_on(self, result: dict[str, Any]) -> None:
        assert result["machine"]["nproc"] >= 1
        assert result["versions"]["mosquitto"]
        assert result["postgres_settings"]["fsync"] == "on"  # durable by default
        assert result["parameters"]["rendered_events"] >= result["parameters"]["rendered_messages"]


class TestCeilings:
    def test_both_ceilings_are_measured(self, result: dict[str, Any]) -> None:
        publish, drain = result["ceilings"]["publish"], result["ceilings"]["drain"]
        assert positive(publish["msg_per_s"])
        assert publish["subscriber_received"] == publish["messages"]
        assert positive(drain["msg_per_s"])
        assert drain["messages"] == drain["expected"]


class TestEndToEnd:
    def test_each_offered_rate_has_throughput_ratio_and_latency(
        self, result: dict[str, Any]
    ) -> None:
        runs = result["rates"]["runs"]
        assert runs
        for run in runs:
            assert positive(run["sustained_msg_per_s"])
            assert positive(run["ratio_to_publish_ceiling"])
            assert run["latency_sampled"] > 0
            assert quantiles_present(run["latency_ms"])
            assert positive(run["cpu_us_per_msg"]["gateway"])
            assert run["checks"]["ok"], run["checks"]

    def test_the_saturation_point_is_reported(self, result: dict[str, Any]) -> None:
        saturation = result["rates"]["saturation"]
        assert positive(saturation["max_sustained_msg_per_s"])
        assert "highest_offered_carried" in saturation
        assert "first_offered_not_carried" in saturation


class TestMemory:
    @pytest.mark.parametrize("state", ["yida", "district"])
    def test_the_gateway_rss_is_read_with_the_state_loaded(
        self, result: dict[str, Any], state: str
    ) -> None:
        memory = result["memory"][state]
        assert "error" not in memory, memory
        assert memory["residents"] > 0
        assert memory["masterdata"]["rejected"] == 0
        assert all(positive(v) for v in memory["rss_mib"].values())
        assert memory["checks"]["ok"], memory["checks"]


class TestApiUnderIngest:
    @pytest.mark.parametrize(
        "endpoint", ["tickets", "house", "persons", "flow_community", "flow_district"]
    )
    def test_each_request_kind_is_timed_and_answers(
        self, result: dict[str, Any], endpoint: str
    ) -> None:
        timing = result["api"]["endpoints"][endpoint]
        assert timing["requests"] > 0
        assert positive(timing["req_per_s"])
        assert positive(timing["latency_ms"]["p50"])
        assert timing["errors"] == {}

    def test_the_history_was_loaded_and_ingest_ran(self, result: dict[str, Any]) -> None:
        api = result["api"]
        assert api["history"]["rows"] > 0
        assert api["events_stored"] > api["history"]["rows"]
        assert positive(api["ingest"]["publish_msg_per_s"])


class TestRecovery:
    def test_the_queued_backlog_drains_and_is_timed(self, result: dict[str, Any]) -> None:
        recovery = result["recovery"]
        assert positive(recovery["seconds_spawn_to_last_commit"])
        assert positive(recovery["msg_per_s"])
        assert positive(recovery["ratio_to_drain_ceiling"])
        assert recovery["checks"]["ok"], recovery["checks"]

    def test_with_profile_the_drain_says_where_the_gateway_cpu_went(
        self, result: dict[str, Any]
    ) -> None:
        """`--profile` samples the draining gateway with py-spy: the table's "why" for a miss."""
        profile = result["recovery"]["py_spy"]
        assert positive(profile["samples"]), profile
        assert profile["self_by_area"], profile
        assert "where the gateway's CPU went" in result["_stdout"]
        statements = result["recovery"]["pg_statements"]
        assert statements and all(positive(s["calls"]) for s in statements), statements
        assert "PostgreSQL:" in result["_stdout"]


class TestScaleOut:
    def test_each_process_count_reports_cpu_per_message_and_a_prediction(
        self, result: dict[str, Any]
    ) -> None:
        runs = result["scaleout"]["runs"]
        assert [run["gateways"] for run in runs] == [2]
        for run in runs:
            assert len(run["per_gateway"]) == run["gateways"]
            assert all(positive(g["cpu_us_per_msg"]) for g in run["per_gateway"])
            assert sum(g["messages"] for g in run["per_gateway"]) >= run["messages"]
            assert positive(run["prediction"]["gateway_msg_per_s_per_core"])
            assert run["checks"]["ok"], run["checks"]
