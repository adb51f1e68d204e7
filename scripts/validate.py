"""Snakemake adapter: projected rows -> training JSONL, rejects, report, gate (sdgflow.validate)."""

from sdgflow.stages.runner import run_job

run_job(snakemake, "validate")
