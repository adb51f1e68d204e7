"""The customer-support recipe through profiles/slurm against the simulator over HTTP.

Issue 6: jobs really go through sbatch, the final JSONL and validation report are consistent,
and a `scancel` of a RUNNING generation shard followed by a rerun repeats no completed request.
Requests are counted at the simulator (what an endpoint would bill), answers read from the
response store the jobs write on the shared working directory.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from sdgflow.generate.store import RequestStore
from tests.harness import SimServer, point_recipe_at, sim_env

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(420)]

TARGET = "output/sdg/customer_support_tool_sft.jsonl"
WORK = Path("output/sdg/.sdgflow/customer_support_tools")
RECORDS, SHARD = 24, 6
SHARDS = RECORDS // SHARD
BUDGET = 4  # model max_parallel_requests = the simulator's slots
# SLURM jobs at once. Each generate job gets a share of the budget, BUDGET // min(SHARDS, JOBS)
# = 1 slot: a 6-record shard then sends its requests one after another, ~9 s at LATENCY, time
# enough to see its first answers stored and cancel it mid-shard.
JOBS = 4
SLOTS = BUDGET // min(SHARDS, JOBS)
LATENCY = "1.5"  # seconds per request at the simulator


def set_up_recipe(project: Path, sim: SimServer) -> None:
    path = project / "configs" / "customer_support_tools.yaml"
    text = path.read_text()
    assert "num_records: 100\n" in text and "      max_tokens: 1800\ncolumns:" in text
    text = text.replace("num_records: 100\n", f"num_records: {RECORDS}\nshard_size: {SHARD}\n", 1)
    text = text.replace(
        "      max_tokens: 1800\ncolumns:",
        f"      max_tokens: 1800\n      max_parallel_requests: {BUDGET}\ncolumns:",
        1,
    )
    path.write_text(text)
    point_recipe_at(project, "customer_support_tools", sim)


def stored(project: Path, shard: int | None = None) -> dict:
    start, end = (0, RECORDS) if shard is None else (shard * SHARD, (shard + 1) * SHARD)
    return RequestStore(project / WORK / "store").load(start, end)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def shard_of(log: Path) -> int:
    """.snakemake/slurm_logs/rule_generate/<wildcards>/<jobid>.log -> the shard number."""
    return int(log.parent.name.rsplit("_", 1)[-1])


@pytest.fixture
def sim(project: Path):
    server = SimServer(project, "--latency", LATENCY, "--slots", str(BUDGET))
    yield server
    server.stop()


def test_scancel_mid_shard_then_rerun_pays_for_nothing_twice(
    project: Path, sim: SimServer, slurm_snakemake, slurm_scancel
) -> None:
    set_up_recipe(project, sim)
    env = sim_env()

    # --- first run: cancel a generation shard job while its requests are being answered
    proc = slurm_snakemake.start(project, TARGET, jobs=JOBS, env=env)
    deadline = time.monotonic() + 180
    victim = shard = None
    while victim is None:
        assert time.monotonic() < deadline, "no generate job answered:\n" + proc.output()[-4000:]
        assert proc.proc.poll() is None, "snakemake exited early:\n" + proc.output()[-4000:]
        job = proc.wait_for_running_job(rule="generate", timeout=deadline - time.monotonic())
        k = shard_of(proc.submissions()[1][job])
        # An observable condition: the job has answers in the store (the simulator completed
        # them) but is not done with its shard.
        if 0 < len(stored(project, k)) < SHARD:
            victim, shard = job, k
        else:
            time.sleep(0.1)
    at_cancel = sim.stats()
    assert at_cancel["completed"] > 0
    # Up to here no job exceeded its share: the simulator (slots = BUDGET) never queued.
    assert at_cancel["queued_max"] == 0, at_cancel
    state = slurm_scancel(victim)
    assert state in (None, "CANCELLED"), state
    first = proc.wait(timeout=300)

    # Snakemake saw the cancellation as a failed job, kept going with the other shards,
    # and exited by itself (no stale lock, no --unlock needed).
    assert first.returncode != 0, first.output[-4000:]
    assert f"SLURM-job '{victim}' failed" in first.output, first.output[-4000:]
    assert not (project / WORK / "gen" / f"shard-{shard}.parquet").exists()
    assert not any((project / ".snakemake" / "locks").glob("*"))

    # --- each generate job ran with the slots the submitting process budgeted for it
    # (a cluster job re-parses the Snakefile on its node; it must not work out its own share)
    declared = set(re.findall(r"llm_slots=(\d+)", first.output))
    assert declared == {str(SLOTS)}, first.output[-4000:]
    for log in first.all_slurm_logs():
        if "rule_generate" in log.parts:
            used = set(re.findall(r"llm_slots=(\d+)", log.read_text()))
            assert used == {str(SLOTS)}, f"{log}: job ran with llm_slots={used}, budgeted {SLOTS}"

    # What is paid for is what the store holds once the cancellation has settled: the first
    # run is over, so no job writes to the store any more.
    before = sim.stats()
    kept = stored(project)
    assert 0 < len(stored(project, shard)) < SHARD
    assert len(kept) < RECORDS

    # --- rerun: the profile has rerun-incomplete; only the missing requests go out
    again = slurm_snakemake.run(project, TARGET, jobs=JOBS, env=env, timeout=300)
    assert again.ok, again.output[-4000:]
    after = sim.stats()
    assert after["requests"] - before["requests"] == RECORDS - len(kept), (before, after)
    # Only answers in flight at the cancel can have been paid twice: at most the job's slots.
    assert after["repeated_completed"] <= SLOTS, after
    assert after["by_status"] == {"200": after["requests"]}, after  # no faults injected
    assert victim not in again.job_ids
    generate_logs = [log for log in again.slurm_logs.values() if "rule_generate" in log.parts]
    assert [shard_of(log) for log in generate_logs] == [shard], again.output[-4000:]

    # --- every job went through sbatch and left its SLURM log
    for run in (first, again):
        assert run.job_ids and all(j.isdigit() for j in run.job_ids), run.output[-4000:]
        for job_id, log in run.slurm_logs.items():
            assert log.is_file(), f"missing SLURM log {log}"
            assert log.name == f"{job_id}.log"
    rules = {log.parts[log.parts.index("slurm_logs") + 1] for log in first.all_slurm_logs()}
    assert {"rule_generate", "rule_project", "rule_validate"} <= rules, rules
    assert "rule_seed" not in rules  # a localrule
    assert len(first.job_ids) == SHARDS  # project/validate wait for every shard

    # --- the outputs are complete and consistent
    out = project / TARGET
    rows = lines(out)
    rejects = lines(out.with_name("customer_support_tool_sft.rejects.jsonl"))
    report = json.loads(out.with_name("customer_support_tool_sft.validation.json").read_text())
    assert len(rows) + len(rejects) == RECORDS
    assert report["records_in"] + report["projection_rejects"] == RECORDS
    assert report["valid"] == len(rows)
    assert len(stored(project)) == RECORDS
