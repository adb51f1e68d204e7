"""Generation against the simulator over HTTP: faults lose nothing, nothing is paid twice.

Requests are counted at the simulator, so these tests see what an endpoint would bill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sdgflow.generate.store import RequestStore
from tests.harness import SimServer, point_recipe_at, sim_env, snakemake, with_validation

TARGET = "output/sdg/customer_support_tool_sft.jsonl"
WORK = Path("output/sdg/.sdgflow/customer_support_tools")


def set_size(project: Path, records: int, shard: int, extra_model: str = "") -> None:
    path = project / "configs" / "customer_support_tools.yaml"
    text = path.read_text().replace("num_records: 100\n",
                                    f"num_records: {records}\nshard_size: {shard}\n", 1)
    if extra_model:
        text = text.replace("      max_tokens: 1800\ncolumns:",
                            f"      max_tokens: 1800\n{extra_model}columns:", 1)
    path.write_text(text)


def generated(project: Path) -> list[dict]:
    rows = []
    for path in sorted((project / WORK / "gen").glob("shard-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


@pytest.fixture
def sim(project: Path, request: pytest.FixtureRequest):
    knobs = getattr(request, "param", ())
    server = SimServer(project, "--latency", "0.01", *knobs)
    yield server
    server.stop()


@pytest.mark.parametrize("sim", [("--rate-500", "0.10", "--rate-429", "0.05", "--retry-after",
                                  "0.2", "--rate-hang", "0.02", "--hang-seconds", "30")],
                         indirect=True)
def test_faults_lose_no_record(project: Path, sim: SimServer) -> None:
    set_size(project, 60, 20, "      timeout: 1.5\n      max_parallel_requests: 16\n")
    point_recipe_at(project, "customer_support_tools", sim)
    run = snakemake(project, TARGET, env=sim_env())
    assert run.returncode == 0, run.output
    rows = generated(project)
    assert sorted(r["record_id"] for r in rows) == list(range(60))
    assert all(r["conversation"] and r["conversation__error"] is None for r in rows)
    stats = sim.stats()
    assert stats["by_status"].get("500", 0) > 0 and stats["by_status"].get("429", 0) > 0
    assert stats["repeated_completed"] == 0
    assert max(r["conversation__attempts"] for r in rows) > 1  # retries really happened


@pytest.fixture
def new_sim(project: Path):
    """`new_sim(*knobs)` starts a simulator; every one is stopped after the test, failed or not."""
    started: list[SimServer] = []

    def start(*knobs: str) -> SimServer:
        started.append(SimServer(project, "--latency", "0.01", *knobs))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_failed_records_are_kept_and_a_plain_rerun_retries_only_them(project: Path,
                                                                     new_sim) -> None:
    set_size(project, 8, 4, "      max_retries: 1\n")
    recipe = project / "configs" / "customer_support_tools.yaml"
    # half the records will fail at first
    recipe.write_text(with_validation(recipe.read_text(), "  min_pass_rate: 0.4\n"))
    healthy = new_sim()
    point_recipe_at(project, "customer_support_tools", healthy)
    shard0 = str(WORK / "gen" / "shard-0.parquet")
    assert snakemake(project, shard0, env=sim_env()).returncode == 0
    healthy.stop()
    broken = new_sim("--rate-500", "1.0")
    recipe.write_text(recipe.read_text().replace(healthy.url, broken.url))  # not in any hash
    run = snakemake(project, TARGET, env=sim_env())
    assert run.returncode == 0, run.output
    rows = generated(project)
    failed = [r for r in rows if r["record_id"] >= 4]
    assert len(rows) == 8 and all(r["conversation"] is None for r in failed)
    assert all("InternalServerError" in r["conversation__error"] for r in failed)
    assert all(r["conversation__attempts"] == 2 for r in failed)
    broken.stop()
    fixed = new_sim()
    recipe.write_text(recipe.read_text().replace(broken.url, fixed.url))
    retry = snakemake(project, TARGET, env=sim_env())  # no --forcerun: failures alone rerun
    assert retry.returncode == 0, retry.output
    assert retry.rules == {"generate": 1, "project": 1, "validate": 1}  # shard 1 only
    assert fixed.stats()["requests"] == 4  # only the failed records were asked again
    assert all(r["conversation"] for r in generated(project))
    assert snakemake(project, TARGET, env=sim_env()).rules == {}
    fixed.stop()


def test_unauthorized_aborts_at_once_with_one_message(project: Path, sim: SimServer) -> None:
    set_size(project, 40, 10)
    point_recipe_at(project, "customer_support_tools", sim)
    run = snakemake(project, TARGET, env={"SDGFLOW_SIM_KEY": "wrong-key"})
    assert run.returncode != 0
    assert "rejected the API key (HTTP 401) for model 'openai/gpt-oss-20b'" in run.output
    assert "$SDGFLOW_SIM_KEY" in run.output
    assert sim.stats()["requests"] == 0  # the free health check stopped it before any chat


def test_missing_key_fails_before_any_work(project: Path, sim: SimServer) -> None:
    set_size(project, 10, 10)
    point_recipe_at(project, "customer_support_tools", sim)
    env = {k: v for k, v in os.environ.items() if k != "SDGFLOW_SIM_KEY"}
    done = subprocess.run([sys.executable, "-m", "snakemake", "-c2", TARGET], cwd=project,
                          env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "SDGFLOW_SIM_KEY" in done.stderr + done.stdout
    assert "provider=offline" in done.stderr + done.stdout
    assert sim.stats()["requests"] == 0


def test_prompt_edit_then_revert_sends_nothing(project: Path, sim: SimServer) -> None:
    set_size(project, 20, 10)
    recipe = point_recipe_at(project, "customer_support_tools", sim)
    assert snakemake(project, TARGET, env=sim_env()).returncode == 0
    first = sim.stats()["completed"]
    assert first == 20
    original = recipe.read_text()
    recipe.write_text(original.replace("Generate one realistic", "Generate one plausible"))
    assert snakemake(project, TARGET, env=sim_env()).returncode == 0
    assert sim.stats()["completed"] == 40  # the edit paid for 20 new answers
    recipe.write_text(original)
    run = snakemake(project, TARGET, env=sim_env())
    assert run.returncode == 0 and run.rules["generate"] == 2
    stats = sim.stats()
    assert stats["requests"] == 40 and stats["repeated_completed"] == 0


@pytest.mark.parametrize("sim", [("--latency", "0.25", "--slots", "4")], indirect=True)
def test_kill_9_mid_run_then_rerun_repeats_no_completed_request(project: Path,
                                                                sim: SimServer) -> None:
    set_size(project, 48, 12, "      max_parallel_requests: 4\n")
    point_recipe_at(project, "customer_support_tools", sim)
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "-c4", TARGET], cwd=project,
                            env={**os.environ, **sim_env()}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while sim.stats()["completed"] < 16:  # wait on an observable condition, not a clock
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every job it started
    proc.wait()
    before = sim.stats()
    stored = RequestStore(project / WORK / "store").load(0, 48)
    assert 8 <= len(stored) < 48  # killed mid-run, with answers already paid for
    assert snakemake(project, "--unlock").returncode == 0
    rerun = snakemake(project, "--rerun-incomplete", TARGET, env=sim_env())
    assert rerun.returncode == 0, rerun.output
    after = sim.stats()
    # The rerun asked for exactly the answers that were not stored when the kill landed ...
    assert after["requests"] - before["requests"] == 48 - len(stored)
    # ... so the only answers paid twice are those in flight at the kill (at most the budget).
    assert after["repeated_completed"] <= 4
    assert sorted(r["record_id"] for r in generated(project)) == list(range(48))


@pytest.mark.parametrize("sim", [("--latency", "0.05", "--slots", "64")], indirect=True)
def test_jobs_together_never_exceed_the_endpoint_budget(project: Path, sim: SimServer) -> None:
    set_size(project, 120, 15, "      max_parallel_requests: 64\n")
    point_recipe_at(project, "customer_support_tools", sim)
    run = snakemake(project, TARGET, "--resources", "llm_slots=12", cores=8, env=sim_env())
    assert run.returncode == 0, run.output
    assert run.rules["generate"] == 8
    stats = sim.stats()
    # 8 shards share a budget of 12: each job gets 1 slot (12 // 8) and at most 8 run at once.
    assert 1 < stats["max_in_flight"] <= 12
    assert stats["completed"] == 120


def test_preview_config_writes_under_the_preview_path(project: Path) -> None:
    run = snakemake(project, "output/sdg/preview/customer_support_tool_sft.jsonl", "--config",
                    "preview=true", "num_records=3")
    assert run.returncode == 0, run.output
    preview = project / "output" / "sdg" / "preview"
    assert (preview / "customer_support_tool_sft.jsonl").exists()
    assert not (project / "output" / "sdg" / "customer_support_tool_sft.jsonl").exists()


@pytest.mark.parametrize("sim", [("--latency", "0.2", "--slots", "8")], indirect=True)
def test_a_job_borrows_the_slots_other_jobs_leave_idle(project: Path, sim: SimServer) -> None:
    set_size(project, 40, 20, "      max_parallel_requests: 8\n")
    point_recipe_at(project, "customer_support_tools", sim)
    slots = ("--resources", "llm_slots=8")
    # Shard 1's answers are stored first, so in the full run its job sends nothing.
    first = snakemake(project, str(WORK / "gen" / "shard-1.parquet"), *slots, env=sim_env())
    assert first.returncode == 0, first.output
    (project / WORK / "gen" / "shard-1.parquet").unlink()
    sim.reset()
    run = snakemake(project, TARGET, *slots, cores=2, env=sim_env())
    assert run.returncode == 0, run.output
    assert run.rules["generate"] == 2
    stats = sim.stats()
    assert stats["completed"] == 20  # shard 0 only
    # Two jobs at once: each has a share of 4 of the 8 slots, but the job with work used the
    # whole budget while the other had nothing to send (the warm runner lends idle slots).
    assert stats["max_in_flight"] == 8
