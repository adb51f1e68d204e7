"""Snakemake adapter: every generated shard -> projected rows + rejects (sdgflow.project)."""

from sdgflow.stages.runner import run_job

run_job(snakemake, "project")
