"""Preview: N records through the real stage functions, in-process, under the preview path.

Nothing here is a second implementation: rows, generation, projection and validation are the
stage functions the Snakemake rules call, writing under `<work>/preview` and
`<output_dir>/preview/`, never the final output. Answers go to the recipe's shared store, so a
previewed record is not paid for again by the full run.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from sdgflow.build.paths import RecipePaths
from sdgflow.config.models import Recipe
from sdgflow.generate.client import require_api_keys
from sdgflow.generate.engine import BatchGenerator, BatchSummary
from sdgflow.generate.shard import write_shard
from sdgflow.generate.store import RequestStore
from sdgflow.project.run import iter_records, project_records
from sdgflow.seed.stage import write_rows
from sdgflow.validate.run import GateFailed, validate_file


@dataclass
class PreviewRecord:
    record_id: int
    row: dict[str, Any] | None  # the training row when valid
    codes: list[str]  # failure codes (projection or validation); empty when valid
    reasons: list[str]
    raw: str | None  # the model's text, for rejects


@dataclass
class PreviewResult:
    records: list[PreviewRecord]
    summary: BatchSummary
    paths: RecipePaths


def run_preview(recipe: Recipe) -> PreviewResult:
    recipe = recipe.model_copy(update={"preview": True, "shard_size": recipe.num_records})
    require_api_keys(recipe)
    paths = RecipePaths.of(recipe)
    rows_path, gen_path = paths.rows("preview"), paths.gen("preview")
    for path in (rows_path, gen_path, paths.output):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_rows(recipe, 0, rows_path)
    # ParquetFile, not read_table: the latter imports pyarrow.dataset and pandas (~0.4 s a job).
    rows = pq.ParquetFile(rows_path).read()
    budget = min(m.inference_parameters.max_parallel_requests for m in recipe.models)
    with RequestStore(paths.store) as store:
        generator = BatchGenerator(recipe, store, budget)
        results, summary = asyncio.run(generator.run(rows.to_pylist(), progress_every=5.0))
    write_shard(rows, results, generator.order, gen_path)
    project_records(iter_records(gen_path), recipe.output_projection, paths.projected,
                    paths.projection_rejects)
    # A preview shows every verdict; the gate matters for full runs.
    with contextlib.suppress(GateFailed):
        validate_file(paths.projected, recipe.validation, recipe.output_projection,
                      paths.output, paths.rejects, paths.validation,
                      projection_rejects_path=paths.projection_rejects)
    return PreviewResult(_verdicts(paths, recipe, gen_path), summary, paths)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _verdicts(paths: RecipePaths, recipe: Recipe, gen_path: Path) -> list[PreviewRecord]:
    by_id: dict[int, PreviewRecord] = {}
    valid = _jsonl(paths.output)
    projected_ids = [row["_sdg"]["record_id"] for row in _jsonl(paths.projected)]
    # Validation keeps record order; valid rows carry no id, so pair them with projected ids.
    rejects = _jsonl(paths.projection_rejects) + _jsonl(paths.rejects)
    rejected_ids = {r["record_id"] for r in rejects}
    valid_ids = [i for i in projected_ids if i not in rejected_ids]
    for record_id, row in zip(valid_ids, valid, strict=True):
        by_id[record_id] = PreviewRecord(record_id, row, [], [], None)
    sources = getattr(recipe.output_projection, "source_field", None)
    raw = {r["record_id"]: r.get(sources) if sources else None for r in iter_records(gen_path)}
    for reject in rejects:
        rid = reject["record_id"]
        by_id[rid] = PreviewRecord(rid, reject.get("row"), reject["codes"], reject["reasons"],
                                   raw.get(rid))
    return [by_id[k] for k in sorted(by_id)]
