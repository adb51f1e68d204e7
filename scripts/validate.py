"""Snakemake adapter: projected rows -> training JSONL, rejects, report, gate (sdgflow.validate)."""

from pathlib import Path

from sdgflow.stages.job import run_stage
from sdgflow.validate.stage import validate_stage

run_stage(snakemake, lambda recipe, job: validate_stage(
    recipe, job.input.projected, job.input.projection_rejects, job.output.valid,
    job.output.rejects, job.output.report, log_dir=Path(job.log[0]).parent))
