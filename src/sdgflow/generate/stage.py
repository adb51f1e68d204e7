"""The generate stage: rows of one shard in, generated shard out."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from sdgflow.build.paths import failed_marker
from sdgflow.config.errors import ConfigError
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
    # ParquetFile, not read_table: the latter imports pyarrow.dataset and pandas (~0.4 s a job).
    rows = pq.ParquetFile(rows_path).read()
    records = rows.to_pylist()
    budget_reached = None
    with RequestStore(store_dir) as store:
        generator = BatchGenerator(recipe, store, slots)
        try:
            if any(m.execution == "batch" for m in recipe.models):
                from sdgflow.generate.batch import generate_batches

                # Batch models' answers go to the store first; the engine then reads them.
                batched = generate_batches(recipe, store, records, str(out_path))
                generator.settled, generator.batched = batched.failed, batched.fresh
                budget_reached = batched.budget_reached
            results, summary = asyncio.run(generator.run(records))
        except FatalEndpointError as error:  # a Batch API call refused (generate/batch.py)
            log.error("%s", error)
            sys.exit(1)
        except ExceptionGroup as group:
            first = _first_leaf(group)
            if isinstance(first, FatalEndpointError | CircuitOpen):
                # One clear line instead of a traceback per record.
                log.error("%s", first)
                sys.exit(1)
            if isinstance(first, ConfigError):  # e.g. the store's disk is full
                raise first from None
            raise
    budget_reached = generator.guard.reached or budget_reached
    if budget_reached is not None:
        from sdgflow.generate.forecast import budget_stop_message

        # No shard: its unsent records would read as failures. The store keeps every answer.
        log.error("%s", budget_stop_message(recipe, budget_reached.cap))
        sys.exit(1)
    write_shard(rows, results, generator.order, out_path)
    marker = failed_marker(out_path)
    if summary.records_failed:
        # Written after the shard, so it is newer: the next run's plan schedules a retry.
        marker.write_bytes(orjson.dumps({"records_failed": summary.records_failed}))
        log.warning("%d records failed after retries; they are kept in %s with their error and "
                    "the next run retries only them", summary.records_failed, out_path)
    else:
        marker.unlink(missing_ok=True)
    log.info("wrote %s: %d records, %d requests sent, %d answers from the store, %d failed "
             "(%.1fs)", out_path, len(records), summary.requests_sent,
             summary.answers_from_store, summary.records_failed, summary.seconds)


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
