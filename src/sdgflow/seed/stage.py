"""The seed stage: rows for one shard, written as parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from sdgflow.build.paths import shard_ranges
from sdgflow.config.models import Recipe
from sdgflow.seed.read import read_seed_rows
from sdgflow.seed.sample import sample_rows


def write_rows(recipe: Recipe, shard: int, out: str | Path) -> None:
    start, end = shard_ranges(recipe.num_records, recipe.shard_size)[shard]
    seed_rows = read_seed_rows(recipe.seed_dataset.path, recipe.seed_dataset.fields)
    table = sample_rows(recipe, seed_rows, start, end)
    pq.write_table(table, out, compression="zstd")
