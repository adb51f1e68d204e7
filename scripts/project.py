"""Snakemake adapter: every generated shard -> projected rows + rejects (sdgflow.project)."""

from itertools import chain

from sdgflow.project.run import iter_records, project_records
from sdgflow.stages.job import run_stage

run_stage(snakemake, lambda recipe, job: project_records(
    chain.from_iterable(iter_records(path) for path in job.input.shards),
    recipe.output_projection, job.output.projected, job.output.rejects))
