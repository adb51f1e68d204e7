"""Snakemake adapter: the self-contained HTML dataset report (sdgflow.report)."""

from sdgflow.report.build import write_report
from sdgflow.stages.job import run_stage

run_stage(snakemake, lambda recipe, job: write_report(
    recipe, shards=job.input.shards, valid=job.input.valid, rejects=job.input.rejects,
    validation=job.input.validation, packing=job.input.packing, out=job.output.html))
