"""Snakemake adapter: rows of shard k (sdgflow.seed.stage)."""

from sdgflow.seed.stage import write_rows
from sdgflow.stages.job import run_stage

run_stage(snakemake, lambda recipe, job: write_rows(recipe, int(job.wildcards.shard),
                                                    job.output.rows))
