"""Snakemake adapter: packing dry-run report of the training JSONL (sdgflow.pack)."""

from sdgflow.stages.runner import run_job

run_job(snakemake, "pack")
