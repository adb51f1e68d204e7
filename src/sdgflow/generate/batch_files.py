"""Shard request files for running generation elsewhere (`vllm run-batch` on GPU nodes).

`export_requests` writes, per shard, the requests the store does not answer yet and whose
inputs it does (a column reading an earlier column's answer is exported once that answer is
imported): `shard-K.jsonl` in the Batch API input format (custom_id = store key, body = the
online request) and `shard-K.requests.json` (key -> record, column, model, provider).
`import_outputs` reads `shard-K.output.jsonl` files in the Batch API output format and stores
their answers, exactly as a completed batch's answers are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from sdgflow.build.paths import RecipePaths, shard_ranges
from sdgflow.config.errors import ConfigError
from sdgflow.config.models import Recipe
from sdgflow.generate.batch import ShardBatches, answer_of, input_lines
from sdgflow.generate.client import provider_for
from sdgflow.generate.store import RequestStore


@dataclass
class Transfer:
    files: int = 0
    requests: int = 0  # exported, or imported as answers
    failed: dict[str, str] = field(default_factory=dict)  # key -> why, on import


def export_requests(recipe: Recipe, out_dir: Path) -> Transfer:
    """Write each shard's next requests (every LLM column, whatever its execution)."""
    paths = RecipePaths.of(recipe)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = Transfer()
    aliases = {c.model_alias for c in recipe.llm_columns}
    with RequestStore(paths.store) as store:
        for k, _ in enumerate(shard_ranges(recipe.num_records, recipe.shard_size)):
            rows = paths.rows(k)
            if not rows.exists():
                raise ConfigError(
                    f"{rows} does not exist: the seed stage has not run for shard {k}",
                    fix="run `snakemake -j8 --until seed` (with the same --config) first")
            records = pq.ParquetFile(rows).read().to_pylist()
            requests = ShardBatches(recipe, store, records, str(paths.gen(k)),
                                    aliases).frontier()
            target, sidecar = out_dir / f"shard-{k}.jsonl", out_dir / f"shard-{k}.requests.json"
            target.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
            if not requests:
                continue
            columns = {c.name: c.model_alias for c in recipe.llm_columns}
            owners = {r.key: [r.record_id, r.column, r.body["model"],
                              provider_for(recipe, columns[r.column]).name] for r in requests}
            sidecar.write_bytes(orjson.dumps(owners))
            target.write_bytes(input_lines(requests))
            done.files += 1
            done.requests += len(requests)
    return done


def import_outputs(recipe: Recipe, out_dir: Path) -> Transfer:
    """Store the answers of every `shard-K.output.jsonl` beside an exported `shard-K.jsonl`."""
    done = Transfer()
    with RequestStore(RecipePaths.of(recipe).store) as store:
        for sidecar in sorted(out_dir.glob("shard-*.requests.json")):
            output = sidecar.with_name(sidecar.name.replace(".requests.json", ".output.jsonl"))
            if not output.exists():
                continue
            owners = orjson.loads(sidecar.read_bytes())
            start = min(o[0] for o in owners.values())
            stored = store.load(start, max(o[0] for o in owners.values()) + 1)
            done.files += 1
            for raw in output.read_bytes().splitlines():
                if not raw.strip():
                    continue
                line = orjson.loads(raw)
                key = line.get("custom_id")
                if key not in owners:
                    continue  # not one of the exported requests: never trusted
                record_id, column, model, provider = owners[key]
                answer, error = answer_of(line, key, record_id, column,
                                          {"model": model, "provider": provider})
                if answer is None:
                    done.failed[key] = f"{output.name}: {error}"
                elif key not in stored:
                    store.append(answer)
                    stored[key] = answer
                    done.requests += 1
    return done
