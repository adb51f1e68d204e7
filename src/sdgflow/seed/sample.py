"""Record i's seed row and sampled column values, as a function of (seed, i) only.

Nothing here depends on num_records, which is what keeps earlier records (and their shards)
byte-identical when a run is extended.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

import pyarrow as pa

from sdgflow.config.models import CategoryColumn, Recipe, SubcategoryColumn, UniformColumn


def unit_draw(seed: int, key: str, index: int) -> float:
    """A uniform draw in [0, 1) addressed by (seed, key, index): no shared RNG state."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}\x1f{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@lru_cache(maxsize=64)
def _permutation(seed: int, n: int, epoch: int) -> tuple[int, ...]:
    order = list(range(n))
    random.Random(f"{seed}:shuffle:{epoch}").shuffle(order)
    return tuple(order)


def seed_row_index(strategy: str, seed: int, n_rows: int, index: int) -> int:
    if strategy == "ordered":
        return index % n_rows
    if strategy == "sample":
        return math.floor(unit_draw(seed, "sample", index) * n_rows)
    # shuffle: every seed row once per epoch, a fresh permutation per epoch.
    return _permutation(seed, n_rows, index // n_rows)[index % n_rows]


def _sample(column: CategoryColumn | SubcategoryColumn | UniformColumn, seed: int, index: int,
            record: dict[str, str]) -> str:
    u = unit_draw(seed, column.name, index)
    if isinstance(column, CategoryColumn):
        if column.weights is None:
            return str(column.values[math.floor(u * len(column.values))])
        bounds = list(accumulate(column.weights))
        pick = min(bisect_right(bounds, u * bounds[-1]), len(column.values) - 1)
        return str(column.values[pick])
    if isinstance(column, SubcategoryColumn):
        choices = column.values.get(record[column.category]) or [""]
        return str(choices[math.floor(u * len(choices))])
    if column.integer:
        span = int(column.high) - int(column.low) + 1
        return str(int(column.low) + math.floor(u * span))
    return repr(column.low + u * (column.high - column.low))


def sample_rows(recipe: Recipe, seed_rows: list[dict[str, str]], start: int, end: int) -> pa.Table:
    """Rows [start, end): record_id, seed fields, sampler columns (all text)."""
    strategy, seed = recipe.seed_dataset.strategy, recipe.seed
    columns = recipe.sampler_columns
    records = []
    for index in range(start, end):
        record = dict(seed_rows[seed_row_index(strategy, seed, len(seed_rows), index)])
        for column in columns:
            record[column.name] = _sample(column, seed, index, record)
        records.append(record)
    names = list(seed_rows[0]) + [c.name for c in columns]
    schema = pa.schema([("record_id", pa.int64())] + [(n, pa.string()) for n in names])
    data = {"record_id": list(range(start, end))}
    data.update({n: [r[n] for r in records] for n in names})
    return pa.table(data, schema=schema)
