"""The validate stage: the gate's report must outlive the failed job.

Snakemake deletes a failed job's outputs, so when the gate fails the report is copied next to
the job's log first and the message points there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sdgflow.config.models import Recipe
from sdgflow.jobs.job import StageFailed
from sdgflow.validate.run import GateFailed, validate_file


def validate_stage(recipe: Recipe, projected: str, projection_rejects: str, valid: str,
                   rejects: str, report: str, log_dir: str | Path | None = None) -> None:
    try:
        validate_file(projected, recipe.validation, recipe.output_projection, valid, rejects,
                      report, projection_rejects_path=projection_rejects)
    except GateFailed as failure:
        kept = Path(log_dir or Path(report).parent) / "validation.failed.json"
        kept.parent.mkdir(parents=True, exist_ok=True)
        for source, target in ((report, kept), (rejects, kept.with_name("rejects.failed.jsonl"))):
            shutil.copyfile(source, target)
        raise StageFailed(f"{failure}\n  the report is kept at {kept}, the rejects at "
                          f"{kept.with_name('rejects.failed.jsonl')}") from None
