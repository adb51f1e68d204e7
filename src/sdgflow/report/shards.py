"""Generation figures from the gen shards: tokens, cost, requests, store hits, latency, wall time.

Shards are read column-subset and batch by batch, so a million-record run costs a few arrays of
latencies, never the generated text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sdgflow.config.models import Recipe
from sdgflow.report.model import GenerationStats, ModelUsage

_PER_COLUMN = ("error", "attempts", "from_store", "prompt_tokens", "completion_tokens",
               "latency_s", "model", "provider", "finish_reason")


def read_generation(recipe: Recipe, shards: Iterable[str | Path],
                    categories: list[str]) -> tuple[GenerationStats, dict[str, Counter[str]]]:
    """Aggregate the shards; also count the category columns over every generated record."""
    stats = GenerationStats()
    usage: dict[tuple[str, str, str], ModelUsage] = {}
    finish: Counter[str] = Counter()
    cats: dict[str, Counter[str]] = {name: Counter() for name in categories}
    latencies: list[np.ndarray] = []
    paths = [Path(p) for p in shards]
    for path in paths:
        if not path.exists():
            continue
        stats.shards += 1
        parquet = pq.ParquetFile(path)
        names = set(parquet.schema_arrow.names)
        llm = [c for c in recipe.llm_columns if c.name + "__attempts" in names]
        wanted = [f"{c.name}__{part}" for c in llm for part in _PER_COLUMN]
        wanted += [n for n in (*categories, "generated_offline") if n in names]
        for batch in parquet.iter_batches(columns=[w for w in wanted if w in names]):
            cols = batch.to_pydict()
            n = batch.num_rows
            stats.records += n
            stats.offline_records += sum(bool(v) for v in cols.get("generated_offline", []))
            for name in categories:
                cats[name].update(str(v) for v in cols.get(name, []) if v is not None)
            failed_row = [False] * n
            for column in llm:
                _add_column(column.name, column.model_alias, cols, n, usage, finish, latencies,
                            failed_row)
            stats.failed_records += sum(failed_row)
    for model in usage.values():
        price = recipe.report.prices.get(model.alias)
        if price is not None:
            model.cost = (model.prompt_tokens * price.input_per_mtok
                          + model.completion_tokens * price.output_per_mtok) / 1e6
            model.fresh_cost = (model.fresh_prompt_tokens * price.input_per_mtok
                                + model.fresh_completion_tokens * price.output_per_mtok) / 1e6
    stats.models = sorted(usage.values(), key=lambda m: (m.alias, m.model))
    stats.requests = sum(m.requests for m in stats.models)
    stats.from_store = sum(m.from_store for m in stats.models)
    stats.answers = sum(m.answers for m in stats.models)
    stats.finish_reasons = dict(finish.most_common())
    if latencies:
        lat = np.concatenate(latencies)
        if lat.size:
            stats.latency_sum_s = float(lat.sum())
            stats.latency_p50_s, stats.latency_p95_s = (float(v) for v in
                                                        np.percentile(lat, [50, 95]))
    stats.wall_s = wall_time(paths)
    return stats, cats


def _add_column(name: str, alias: str, cols: dict[str, list], n: int,
                usage: dict[tuple[str, str, str], ModelUsage], finish: Counter[str],
                latencies: list[np.ndarray], failed_row: list[bool]) -> None:
    def col(part: str) -> list:
        return cols.get(f"{name}__{part}") or [None] * n

    errors, attempts, stored = col("error"), col("attempts"), col("from_store")
    prompt, completion, latency = col("prompt_tokens"), col("completion_tokens"), col("latency_s")
    models, providers, reasons = col("model"), col("provider"), col("finish_reason")
    fresh_latency: list[float] = []
    for i in range(n):
        key = (alias, str(models[i] or "?"), str(providers[i] or "?"))
        m = usage.get(key) or usage.setdefault(key, ModelUsage(*key))
        m.answers += 1
        m.requests += int(attempts[i] or 0)
        p, c = int(prompt[i] or 0), int(completion[i] or 0)
        m.prompt_tokens += p
        m.completion_tokens += c
        if stored[i]:
            m.from_store += 1
        else:
            m.fresh_prompt_tokens += p
            m.fresh_completion_tokens += c
            if latency[i] is not None:
                fresh_latency.append(float(latency[i]))
        if errors[i] is not None:
            m.failed += 1
            failed_row[i] = True
        if reasons[i] is not None:
            finish[str(reasons[i])] += 1
    latencies.append(np.asarray(fresh_latency, dtype=np.float64))


def wall_time(gen_shards: list[Path]) -> float | None:
    """Seconds from the first seed shard written to the last gen shard written.

    There is no run clock in the files, so this reads file times: each gen shard's rows shard
    (`W/rows/shard-k.parquet`, written just before it) marks when that shard could start. When
    a rows shard is newer than its gen shard (re-seeded without regenerating) it is ignored.
    """
    ends: list[float] = []
    starts: list[float] = []
    for gen in gen_shards:
        try:
            end = gen.stat().st_mtime
        except OSError:
            continue
        ends.append(end)
        rows = gen.parent.parent / "rows" / gen.name
        try:
            start = rows.stat().st_mtime
        except OSError:
            start = end
        starts.append(start if start <= end else end)
    if not ends:
        return None
    return max(ends) - min(starts)
