"""Snakemake adapter: the self-contained HTML dataset report (sdgflow.report)."""

from sdgflow.stages.runner import run_job

run_job(snakemake, "report")
