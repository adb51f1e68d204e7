"""The validate stage: the gate's report must outlive the failed job, and each build is
compared with the previous one.

Snakemake deletes a failed job's outputs, so when the gate fails the report is copied next to
the job's log first and the message points there. Either way the build's summary joins the
recipe's history (`W/history/`), the previous build's lands beside it as
`<name>.validation.previous.json`, and the comparison ends the job's log.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sdgflow.build.paths import RecipePaths
from sdgflow.config.models import Recipe
from sdgflow.jobs.job import StageFailed
from sdgflow.quality.compare import build_info, compare, keep_history, read_summary
from sdgflow.validate.run import GateFailed, validate_file

log = logging.getLogger("sdgflow.validate")


def validate_stage(recipe: Recipe, projected: str, projection_rejects: str, valid: str,
                   rejects: str, report: str, log_dir: str | Path | None = None) -> None:
    try:
        validate_file(projected, recipe.validation, recipe.output_projection, valid, rejects,
                      report, projection_rejects_path=projection_rejects,
                      build=build_info(recipe))
    except GateFailed as failure:
        compare_with_previous(recipe, report)
        kept = Path(log_dir or Path(report).parent) / "validation.failed.json"
        kept.parent.mkdir(parents=True, exist_ok=True)
        for source, target in ((report, kept), (rejects, kept.with_name("rejects.failed.jsonl"))):
            shutil.copyfile(source, target)
        raise StageFailed(f"{failure}\n  the report is kept at {kept}, the rejects at "
                          f"{kept.with_name('rejects.failed.jsonl')}") from None
    compare_with_previous(recipe, report)


def compare_with_previous(recipe: Recipe, report: str | Path) -> None:
    """Keep this build's summary and log what changed since the previous one."""
    previous = keep_history(report, RecipePaths.of(recipe).work / "history")
    if previous is None:
        log.info("first build of %s kept for comparison: the next build will say what changed",
                 recipe.name)
        return
    try:
        change = compare(read_summary(previous), read_summary(report))
    except ValueError as exc:  # a hand-edited history file: the build itself is fine
        log.warning("no comparison with the previous build: %s", exc)
        return
    log.info("%s\n  (the report's #changes card; sdgflow compare %s %s)",
             change.text(), previous, report)
