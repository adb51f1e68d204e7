"""Snakemake adapter: generated shard k (sdgflow.generate.stage)."""

from sdgflow.generate.stage import generate_shard
from sdgflow.stages.job import run_stage

run_stage(snakemake, lambda recipe, job: generate_shard(
    recipe, job.input.rows, job.output.shard, job.params.store, job.resources.llm_slots))
