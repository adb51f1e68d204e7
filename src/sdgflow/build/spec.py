"""Stage specs: the keys each stage reads, canonicalised and hashed.

A stage reruns when its spec file's content changes (or its input files do). What is NOT in a
spec is listed in EXCLUDED with the reason, so anyone can audit what invalidates what.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from sdgflow.build.paths import RecipePaths, shard_ranges
from sdgflow.config.models import Recipe
from sdgflow.seed.read import file_sha256

# Recipe keys no stage spec contains, and why changing them never reruns anything.
EXCLUDED: dict[str, str] = {
    "models[].inference_parameters.max_parallel_requests": "concurrency only",
    "models[].inference_parameters.timeout": "timing only",
    "models[].inference_parameters.max_retries": "how hard we try, not what we ask",
    "models[].skip_health_check": "start-up probe only",
    "models[].execution": "online or Batch API: how requests travel, same requests and store",
    "models[].rate_limits": "pacing only",
    "budget.*": "when to stop paying, not what is asked",
    "providers[].endpoint": "where a provider is served, not which model answers",
    "providers[].api_key": "which credential is used (a variable name), not what is asked",
    "simulator.latency / latency_jitter / slots / retry_after / hang_seconds / rpm / tpm":
        "timing only",
    "simulator.rate_html / rate_cut_body / rate_stall": "transport faults, retried: same answer",
    "simulator.batch_*, rate_batch_error": "the Batch API's timing and failed lines (retried)",
    "num_records": "decides which shards exist; each shard's range is its own spec",
    "output_dir / output_path / work_dir / preview": "locations, not content",
    "report.*": "read by the report stage only",
}
TIMING_SIMULATOR_KEYS = {"latency", "latency_jitter", "slots", "retry_after", "hang_seconds",
                         "log_requests",
                         # the Batch API's service model: when and whether lines are answered
                         "batch_api", "batch_seconds", "batch_expire_seconds",
                         "rate_batch_error",
                         # per-minute limits, and transport faults added with them: a request
                         # they refuse or break is retried, the answer it finally gets is the same
                         "rpm", "tpm", "rate_html", "rate_cut_body", "rate_stall"}
IDENTITY_INFERENCE_KEYS = ("temperature", "top_p", "max_tokens", "seed", "stop", "extra_body")


def canonical(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()[:16]


def model_identity(recipe: Recipe, alias: str) -> dict[str, Any]:
    """What decides a model's answers: model id, effective provider, identity parameters."""
    model = recipe.model_for(alias)
    params = model.inference_parameters.model_dump()
    return {"model": model.model, "provider": recipe.provider or model.provider,
            **{k: params[k] for k in IDENTITY_INFERENCE_KEYS if params[k] is not None}}


# Projection keys added after recipes existed: left out of the specs at their default, so a
# recipe that does not set them keeps its hashes (and its outputs) across the upgrade.
LATER_PROJECTION_DEFAULTS = {"tools_format": "list", "messages_format": "list"}


def projection_spec(recipe: Recipe) -> dict[str, Any]:
    spec = recipe.output_projection.model_dump()
    for key, default in LATER_PROJECTION_DEFAULTS.items():
        if spec.get(key) == default:
            del spec[key]
    return spec


def stage_specs(recipe: Recipe) -> dict[str, dict[str, Any]]:
    """Canonical spec per stage name; `rows-<k>` per shard carries that shard's range."""
    rows = {
        "seed_file_sha256": file_sha256(recipe.seed_dataset.path),
        "strategy": recipe.seed_dataset.strategy,
        "fields": recipe.seed_dataset.fields,
        "seed": recipe.seed,
        "samplers": [c.model_dump() for c in recipe.sampler_columns],
    }
    aliases = sorted({c.model_alias for c in recipe.llm_columns})
    offline = any(model_identity(recipe, a)["provider"] == "offline" for a in aliases)
    generate = {
        "seed": recipe.seed,
        "columns": [c.model_dump() for c in recipe.llm_columns],
        "models": {a: model_identity(recipe, a) for a in aliases},
        "simulator": recipe.simulator.model_dump(mode="json", exclude=TIMING_SIMULATOR_KEYS)
        if offline else None,
    }
    ranges = shard_ranges(recipe.num_records, recipe.shard_size)
    specs: dict[str, dict[str, Any]] = {
        "rows": rows,
        "generate": generate,
        "project": {"output_projection": projection_spec(recipe),
                    "shards": len(ranges)},
        "validate": {"validation": recipe.validation.spec_dump(),
                     "output_projection": projection_spec(recipe)},
        "pack": {"packing": recipe.packing.model_dump(),
                 "models": sorted({m.model for m in recipe.models})},
        "report": {"report": recipe.report.model_dump()},
    }
    rows_hash = digest(rows)
    for k, (start, end) in enumerate(ranges):
        specs[f"rows-{k}"] = {"rows": rows_hash, "start": start, "end": end}
    return specs


def write_if_changed(path: Path, content: bytes) -> bool:
    """Atomically replace `path` only when its bytes differ, so its mtime means 'changed'."""
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(tmp, path)
    return True


def write_specs(recipe: Recipe, paths: RecipePaths) -> dict[str, str]:
    """Write every stage spec that changed; return stage -> hash."""
    hashes = {}
    for stage, spec in stage_specs(recipe).items():
        write_if_changed(paths.spec(stage), canonical(spec))
        hashes[stage] = digest(spec)
    return hashes
