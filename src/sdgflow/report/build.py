"""`write_report`: the report stage's one entry point (Snakemake rule `report`, `sdgflow report`).

Collect, render, then replace the output atomically, so a reader (or a failed rerun) never
sees half a page.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from sdgflow.config.models import Recipe
from sdgflow.report.collect import collect
from sdgflow.report.html import render
from sdgflow.report.model import ReportData

log = logging.getLogger("sdgflow.report")


def build_report(recipe: Recipe, *, shards: Iterable[str | Path], valid: str | Path,
                 rejects: str | Path | None = None, validation: str | Path | None = None,
                 packing: str | Path | None = None,
                 projection_rejects: str | Path | None = None) -> tuple[ReportData, str]:
    """The collected figures and the page, without writing anything."""
    data = collect(recipe, shards=list(shards), valid=valid, rejects=rejects,
                   validation=validation, packing=packing,
                   projection_rejects=projection_rejects)
    return data, render(data)


def write_report(recipe: Recipe, *, shards: Iterable[str | Path], valid: str | Path,
                 rejects: str | Path | None = None, validation: str | Path | None = None,
                 packing: str | Path | None = None, out: str | Path,
                 projection_rejects: str | Path | None = None) -> ReportData:
    """Write the self-contained HTML report to `out`; returns the figures it shows.

    `packing`, `validation`, `rejects` may be missing files: their sections say so.
    `projection_rejects` (optional) adds source snippets for projection-stage failures.
    """
    data, page = build_report(recipe, shards=shards, valid=valid, rejects=rejects,
                              validation=validation, packing=packing,
                              projection_rejects=projection_rejects)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    log.info("wrote %s: %d valid rows, %d rejected, %d samples (%d KiB)", target,
             data.dataset.rows, data.rejected_total, len(data.dataset.samples),
             len(page.encode()) // 1024)
    return data
