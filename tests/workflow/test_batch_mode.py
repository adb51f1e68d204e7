"""Batch execution end to end: a batch build is the online build, switching modes reruns
nothing, and a generate job killed with -9 while polling resumes the same batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sdgflow.generate.store import RequestStore
from tests.conftest import copy_project
from tests.harness import SimServer, point_recipe_at, sim_env, snakemake

TARGET = "output/sdg/tiny_sft.jsonl"
WORK = Path("output/sdg/.sdgflow/tiny")
BATCH = "set=[models.0.execution=batch]"


def small(project: Path) -> None:
    path = project / "configs" / "tiny.yaml"
    path.write_text(path.read_text().replace("num_records: 10\n",
                                             "num_records: 10\nshard_size: 5\n", 1))


def test_batch_build_is_the_online_build_and_switching_mode_reruns_nothing(
        project: Path, tmp_path: Path) -> None:
    small(project)
    online = snakemake(project, TARGET)
    assert online.returncode == 0, online.output
    # Switching the finished build to batch: nothing to do, nothing to pay.
    switched = snakemake(project, TARGET, "-n", "--config", BATCH)
    assert switched.returncode == 0 and "Nothing to be done" in switched.output, switched.output

    (tmp_path / "batch").mkdir()
    batch_project = copy_project(tmp_path / "batch")
    small(batch_project)
    built = snakemake(batch_project, TARGET, "--config", BATCH)
    assert built.returncode == 0, built.output
    states = sorted((batch_project / WORK / "store" / "batches").glob("records-*.json"))
    assert [p.name for p in states] == ["records-0-5.json", "records-5-10.json"]
    for state in states:
        batches = json.loads(state.read_bytes())["batches"]
        assert [b["status"] for b in batches] == ["completed", "completed"]  # one per level
    for name in ("tiny_sft.jsonl", "tiny_sft.validation.json"):
        assert (batch_project / "output/sdg" / name).read_bytes() == \
            (project / "output/sdg" / name).read_bytes()
    assert len((project / TARGET).read_text().splitlines()) == 10


# The generate job on its own, as a process to kill: the tiny recipe's first shard.
JOB = """
import sys
from pathlib import Path
from sdgflow.build.paths import RecipePaths
from sdgflow.config.load import load_recipe
from sdgflow.generate.stage import generate_shard
from sdgflow.jobs.job import configure_logging

project = Path(sys.argv[1])
configure_logging(project / "job.log")
recipe = load_recipe("tiny", OVERRIDES, configs_dir=project / "configs")
store = RecipePaths.of(recipe).store
generate_shard(recipe, project / "rows.parquet", project / "gen.parquet", store, 4)
"""
OVERRIDES = ["models.0.execution=batch", "num_records=4"]
JOB = JOB.replace("OVERRIDES", repr(OVERRIDES))
RECORDS = [{"record_id": i, "topic": f"topic {i}", "persona": "busy parent"} for i in range(4)]


def job_env(project: Path) -> dict[str, str]:
    return {**os.environ, **sim_env(), "PWD": str(project)}


def recorded_batch(state: Path) -> str | None:
    """The batch id the job wrote beside the store (None until it has one)."""
    try:
        entries = json.loads(state.read_bytes())["batches"]
    except (FileNotFoundError, ValueError):
        return None
    return entries[0]["batch_id"] if entries else None


def sim_batches(sim: SimServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{sim.url}/sim/batches", timeout=30) as response:
        return json.loads(response.read())


STATE = WORK / "store" / "batches" / "records-0-4.json"


def job_polling(project: Path, sim: SimServer) -> tuple[subprocess.Popen, list[str], str]:
    """The generate job of records 0-3 on `sim`, once it has recorded its batch and polls."""
    point_recipe_at(project, "default", sim)
    pq.write_table(pa.Table.from_pylist(RECORDS), project / "rows.parquet")
    argv = [sys.executable, "-c", JOB, str(project)]
    job = subprocess.Popen(argv, cwd=project, env=job_env(project),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # The sync point: the batch id on disk, which the job writes before it starts polling.
    while (batch_id := recorded_batch(project / STATE)) is None:
        assert job.poll() is None, f"the job ended before recording its batch: {job.stderr}"
        assert time.monotonic() < deadline, "no batch recorded within 120 s"
        time.sleep(0.02)
    return job, argv, batch_id


def test_kill_9_while_polling_resumes_the_same_batch(project: Path) -> None:
    sim = SimServer(project, "--latency", "0", "--batch-seconds", "3")
    try:
        first, argv, batch_id = job_polling(project, sim)
        first.kill()  # SIGKILL: no cleanup of any kind
        first.communicate()
        assert sim_batches(sim)["created"] == 1

        rerun = subprocess.run(argv, cwd=project, env=job_env(project), timeout=180,
                               capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        made = sim_batches(sim)
        # The first level's batch was resumed, not made again: two batches, one per level.
        assert made["created"] == 2, made
        assert made["batches"][0]["id"] == batch_id
        assert f"resuming batch {batch_id}" in rerun.stderr
        assert [b["request_counts"]["total"] for b in made["batches"]] == [4, 4]
        assert sim.stats()["repeated_completed"] == 0
        rows = pq.read_table(project / "gen.parquet").to_pylist()
        assert [r["record_id"] for r in rows] == [0, 1, 2, 3]
        assert all(r["user_query"] and r["assistant_response"] and
                   r["assistant_response__error"] is None for r in rows)
        # Paid for by this run's batches (the resumed one included): fresh answers, one attempt.
        assert all(not r[f"{c}__from_store"] and r[f"{c}__attempts"] == 1
                   for r in rows for c in ("user_query", "assistant_response"))
        assert len(RequestStore(project / WORK / "store").load(0, 4)) == 8
    finally:
        sim.stop()


def test_batch_cancel_stops_the_open_batch_and_status_lists_it(project: Path) -> None:
    sim = SimServer(project, "--latency", "0", "--batch-seconds", "600")
    try:
        job, _, batch_id = job_polling(project, sim)
        cli = [sys.executable, "-m", "sdgflow", "batch"]
        cancel = subprocess.run([*cli, "cancel", "-c", "tiny", *OVERRIDES], cwd=project,
                                env={**job_env(project), "COLUMNS": "200"},
                                capture_output=True, text=True, timeout=60)
        assert cancel.returncode == 0, cancel.stderr
        assert batch_id in cancel.stdout and "cancelling" in cancel.stdout, cancel.stdout
        _, stderr = job.communicate(timeout=120)  # the job sees the cancel at its next poll
        assert job.returncode == 0, stderr
        # Cancelled by the user: no follow-up batch; the records stay failed for the next run.
        assert sim_batches(sim)["created"] == 1
        rows = pq.read_table(project / "gen.parquet").to_pylist()
        assert all("batch_cancelled" in r["user_query__error"] for r in rows)
        assert (project / "gen.failed.json").exists()
        status = subprocess.run([*cli, "status", "-c", "tiny", *OVERRIDES], cwd=project,
                                env={**job_env(project), "COLUMNS": "200"},
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and batch_id in status.stdout, status.stderr
        assert "cancelled" in status.stdout
    finally:
        sim.stop()
