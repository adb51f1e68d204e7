"""Read every input of the report into one `ReportData`.

validation.json is the authority for counts (it also counts projection rejects and warnings);
the rejects files only supply an example per code, so they are streamed and mostly skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sdgflow.config.models import CategoryColumn, Recipe
from sdgflow.quality.compare import compare, packing_beside, previous_path
from sdgflow.report.dataset import read_dataset
from sdgflow.report.model import (
    CategoryDist,
    CheckRate,
    RejectReason,
    ReportData,
    ValidationStats,
)
from sdgflow.report.shards import read_generation

SNIPPET_CHARS = 700


def collect(recipe: Recipe, *, shards: Iterable[str | Path], valid: str | Path,
            rejects: str | Path | None, validation: str | Path | None,
            packing: str | Path | None,
            projection_rejects: str | Path | None = None) -> ReportData:
    category_columns = [c for c in recipe.columns if isinstance(c, CategoryColumn)]
    names = [c.name for c in category_columns]
    generation, generated_cats = read_generation(recipe, shards, names)
    dataset = read_dataset(valid, recipe.report.samples, recipe.seed, names)
    raw_validation = _read_json(validation)
    checks = _validation(raw_validation)
    reasons = _reject_reasons(checks, raw_validation,
                              [p for p in (rejects, projection_rejects) if p is not None])
    categories = [
        CategoryDist(
            name=c.name,
            # Declared order first (it is the order people think in), then anything unexpected.
            values=list(dict.fromkeys([*(str(v) for v in c.values), *generated_cats[c.name],
                                       *dataset.categories.get(c.name, {})])),
            generated=dict(generated_cats[c.name]),
            valid=dataset.categories.get(c.name, {}),
        )
        for c in category_columns
    ]
    return ReportData(
        recipe_name=recipe.name,
        output_path=str(valid),
        asked=recipe.num_records,
        generation=generation,
        validation=checks,
        dataset=dataset,
        categories=categories,
        rejects=reasons,
        packing=_read_json(packing),
        metadata_fields=list(getattr(recipe.output_projection, "metadata_fields", []) or []),
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        diversity=(raw_validation or {}).get("diversity"),
        judge_scores=(raw_validation or {}).get("judge_scores") or {},
        comparison=_comparison(validation, raw_validation, packing),
    )


def _comparison(validation: str | Path | None, raw: dict[str, Any] | None,
                packing: str | Path | None) -> Any:
    """This build against the previous one, when validate kept its summary beside ours (and
    the pack stage its packing report: token lengths)."""
    if validation is None or raw is None:
        return None
    previous = _read_json(previous_path(validation))
    if previous is None:
        return None
    packing_before = _read_json(packing_beside(previous_path(validation)))
    return compare(previous, raw, packing_before, _read_json(packing))


def _read_json(path: str | Path | None) -> dict[str, Any] | None:
    """A missing or unreadable optional input renders as 'not available', never a crash."""
    if path is None or not Path(path).is_file():
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _validation(raw: dict[str, Any] | None) -> ValidationStats:
    if raw is None:
        return ValidationStats()
    records_in = int(raw.get("records_in", 0))
    projection_rejects = int(raw.get("projection_rejects", 0))
    checks = []
    for code, entry in (raw.get("checks") or {}).items():
        stage = str(entry.get("stage", "validate"))
        # Projection codes are decided before validation, over every generated record.
        checked = records_in + projection_rejects if stage == "project" else records_in
        checks.append(CheckRate(code=code, stage=stage, severity=str(entry.get("severity")),
                                failed=int(entry.get("failed", 0)), checked=checked,
                                description=str(entry.get("description", ""))))
    return ValidationStats(
        present=True, records_in=records_in, projection_rejects=projection_rejects,
        valid=int(raw.get("valid", 0)), rejected=int(raw.get("rejected", 0)),
        warned=int(raw.get("warned", 0)), duplicates=int(raw.get("duplicates", 0)),
        pass_rate=float(raw.get("pass_rate", 0.0)),
        min_pass_rate=float(raw.get("min_pass_rate", 0.0)),
        gate_passed=bool(raw.get("gate_passed", True)), checks=checks,
        repairs=dict(raw.get("repairs") or {}),
    )


def _reject_reasons(checks: ValidationStats, raw: dict[str, Any] | None,
                    reject_files: list[str | Path]) -> list[RejectReason]:
    by_code: dict[str, RejectReason] = {
        c.code: RejectReason(code=c.code, stage=c.stage, severity=c.severity, count=c.failed,
                             description=c.description)
        for c in checks.checks if c.failed
    }
    counted_from_files: dict[str, int] = {}
    for path in reject_files:
        if not Path(path).is_file():
            continue
        with open(path, "rb") as fh:
            for line in fh:
                _note_reject(line, by_code, counted_from_files)
    for code, count in counted_from_files.items():
        # validation.json's count wins (it also saw warnings); files fill codes it lacks.
        if by_code[code].count == 0:
            by_code[code].count = count
    # validation.json keeps up to three examples per code: use them where no reject line did.
    for code, examples in ((raw or {}).get("examples") or {}).items():
        entry = by_code.get(code)
        if entry is not None and not entry.reason and examples:
            entry.record_id = examples[0].get("record_id")
            entry.reason = str(examples[0].get("message", ""))
    return sorted(by_code.values(), key=lambda r: (-r.count, r.code))


def _note_reject(line: bytes, by_code: dict[str, RejectReason],
                 counted: dict[str, int]) -> None:
    if not line.strip():
        return
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return
    if not isinstance(entry, dict):
        return
    codes = entry.get("codes") or []
    reasons = entry.get("reasons") or []
    for i, code in enumerate(codes):
        code = str(code)
        counted[code] = counted.get(code, 0) + 1
        reason = by_code.get(code)
        if reason is None:
            # A code validation.json does not list (older file, or no validation.json at all).
            reason = by_code[code] = RejectReason(code=code, stage=str(entry.get("stage", "?")),
                                                  severity="error", count=0, description="")
        if reason.reason:
            continue
        reason.record_id = entry.get("record_id")
        reason.reason = str(reasons[i]) if i < len(reasons) else ""
        reason.snippet = _snippet(entry)


def _snippet(entry: dict[str, Any]) -> str:
    raw = entry.get("raw")
    if isinstance(raw, str) and raw:
        text = raw
    elif entry.get("row") is not None:
        text = json.dumps(entry["row"], ensure_ascii=False, indent=1)
    else:
        return ""
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + " …"
