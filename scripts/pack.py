"""Snakemake adapter: packing dry-run report of the training JSONL (sdgflow.pack)."""

from sdgflow.pack.run import pack_file
from sdgflow.stages.job import run_stage

run_stage(snakemake, lambda recipe, job: pack_file(
    job.input.valid, recipe.packing, job.output.report, model_id=recipe.models[0].model))
