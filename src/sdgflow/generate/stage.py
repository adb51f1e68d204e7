"""The generate stage: rows of one shard in, generated shard out."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pyarrow.parquet as pq

from sdgflow.config.models import Recipe
from sdgflow.generate.caller import CircuitOpen
from sdgflow.generate.client import require_api_keys
from sdgflow.generate.engine import BatchGenerator
from sdgflow.generate.retry import FatalEndpointError
from sdgflow.generate.shard import write_shard
from sdgflow.generate.store import RequestStore

log = logging.getLogger("sdgflow.generate")


def generate_shard(recipe: Recipe, rows_path: str | Path, out_path: str | Path,
                   store_dir: str | Path, slots: int) -> None:
    require_api_keys(recipe)
    rows = pq.read_table(rows_path)
    records = rows.to_pylist()
    with RequestStore(store_dir) as store:
        generator = BatchGenerator(recipe, store, slots)
        try:
            results, summary = asyncio.run(generator.run(records))
        except* (FatalEndpointError, CircuitOpen) as group:
            # One clear line instead of a traceback per record.
            log.error("%s", group.exceptions[0])
            sys.exit(1)
    write_shard(rows, results, generator.order, out_path)
    log.info("wrote %s: %d records, %d requests sent, %d answers from the store, %d failed "
             "(%.1fs)", out_path, len(records), summary.requests_sent,
             summary.answers_from_store, summary.records_failed, summary.seconds)
