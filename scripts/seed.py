"""Snakemake adapter: rows of shard k (sdgflow.seed.stage)."""

from sdgflow.stages.runner import run_job

run_job(snakemake, "seed")
