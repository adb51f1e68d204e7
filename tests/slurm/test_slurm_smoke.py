"""profiles/slurm really submits through sbatch on the single-node cluster (tests/slurm/cluster.sh).

A throwaway Snakefile (not the sdgflow pipeline) so a failure here points at
the cluster or the profile, not at the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SNAKEFILE = """
localrules: all

rule all:
    input: expand("out/{i}.txt", i=range(2))

rule generate:
    output: "out/{i}.txt"
    resources: llm_slots=8
    params: secs=lambda wc: config.get("secs", 1)
    shell: "echo $SLURM_JOB_ID > {output}.tmp; sleep {params.secs}; mv {output}.tmp {output}"
"""


def _write(workdir: Path) -> Path:
    (workdir / "Snakefile").write_text(SNAKEFILE)
    return workdir


def test_jobs_go_through_sbatch(slurm_snakemake, tmp_path):
    run = slurm_snakemake.run(_write(tmp_path), timeout=300)
    assert run.ok, run.output[-4000:]

    # Snakemake logged one SLURM submission per shard ...
    assert len(run.job_ids) == 2, run.output[-4000:]
    assert all(j.isdigit() for j in run.job_ids)
    # ... each job's SLURM log is kept (slurm-keep-successful-logs) and shows
    # the job step that ran the rule.
    for job_id, log in run.slurm_logs.items():
        assert log.is_file(), f"missing SLURM log {log}"
        assert log.name == f"{job_id}.log"
        assert tmp_path / ".snakemake" / "slurm_logs" in log.parents
        assert "rule generate" in log.read_text()
    # ... and the outputs were written inside those SLURM jobs.
    ran_in = {(tmp_path / "out" / f"{i}.txt").read_text().strip() for i in range(2)}
    assert ran_in == set(run.job_ids)
    # The endpoint budget from the profile is in force.
    assert 'llm_slots=Resource("llm_slots", 64)' in run.output


def test_scancel_fails_the_job_and_rerun_completes(slurm_snakemake, slurm_scancel, tmp_path):
    _write(tmp_path)
    proc = slurm_snakemake.start(tmp_path, "out/0.txt", "--config", "secs=120")
    job = proc.wait_for_running_job(rule="generate", timeout=180, min_runtime=2)
    slurm_scancel(job)
    first = proc.wait(timeout=300)
    assert first.returncode != 0, first.output[-4000:]
    assert f"SLURM-job '{job}' failed" in first.output
    assert "CANCELLED" in first.output
    assert not (tmp_path / "out" / "0.txt").exists()

    again = slurm_snakemake.run(tmp_path, "--config", "secs=1", timeout=300)
    assert again.ok, again.output[-4000:]
    assert job not in again.job_ids
    assert len(again.job_ids) == 2  # out/0.txt (cancelled) and out/1.txt (never requested)
    assert (tmp_path / "out" / "0.txt").read_text().strip() in again.job_ids
