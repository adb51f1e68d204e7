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
from sdgflow.config.load import load_recipe
from sdgflow.generate.stage import generate_shard
from sdgflow.jobs.job import configure_logging

project = Path(sys.argv[1])
configure_logging(project / "job.log")
recipe = load_recipe("tiny", ["models.0.execution=batch", "num_records=4"],
                     configs_dir=project / "configs")
generate_shard(recipe, project / "rows.parquet", project / "gen.parquet", project / "store", 4)
"""
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


def test_kill_9_while_polling_resumes_the_same_batch(project: Path) -> None:
    sim = SimServer(project, "--latency", "0", "--batch-seconds", "3")
    try:
        point_recipe_at(project, "default", sim)
        pq.write_table(pa.Table.from_pylist(RECORDS), project / "rows.parquet")
        state = project / "store" / "batches" / "records-0-4.json"
        argv = [sys.executable, "-c", JOB, str(project)]
        first = subprocess.Popen(argv, cwd=project, env=job_env(project),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        # The sync point: the batch id on disk, which the job writes before it starts polling.
        while (batch_id := recorded_batch(state)) is None:
            assert first.poll() is None, "the job ended before recording its batch"
            assert time.monotonic() < deadline, "no batch recorded within 120 s"
            time.sleep(0.02)
        first.kill()  # SIGKILL: no cleanup of any kind
        first.wait()
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
        assert len(RequestStore(project / "store").load(0, 4)) == 8
    finally:
        sim.stop()
