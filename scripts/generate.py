"""Snakemake adapter: generated shard k (sdgflow.generate.stage)."""

from sdgflow.stages.runner import run_job

run_job(snakemake, "generate")
