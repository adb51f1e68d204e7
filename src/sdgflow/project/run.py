"""Stream generated records through a projection into `projected.jsonl` + rejects.

Memory stays constant: parquet shards are read one record batch at a time, JSONL line by line,
and every row is written as soon as it is projected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from sdgflow.project.config import OpenAIMessagesProjection, StructuredMessagesProjection
from sdgflow.project.projections import ProjectionError, project_record

Projection = StructuredMessagesProjection | OpenAIMessagesProjection

BATCH_SIZE = 1024
WRITE_BUFFER = 1 << 20
_SHARD_NUMBER = re.compile(r"(\d+)")


class ProjectionSummary(BaseModel):
    records: int = 0
    projected: int = 0
    rejected: int = 0
    codes: dict[str, int] = {}
    repairs: dict[str, int] = {}


def _shard_key(path: Path) -> tuple[int, str]:
    numbers = _SHARD_NUMBER.findall(path.stem)
    return (int(numbers[-1]) if numbers else -1, path.name)


def _iter_parquet(path: Path, columns: list[str] | None) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    shard = pq.ParquetFile(path)
    if columns is not None:
        names = set(shard.schema_arrow.names)
        columns = [c for c in columns if c in names]
    for batch in shard.iter_batches(batch_size=BATCH_SIZE, columns=columns):
        yield from batch.to_pylist()


def iter_records(path: str | Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Records from a shard parquet, a directory of `*.parquet` shards (in shard order), or a
    JSONL file of record objects. `columns` optionally limits what parquet reads."""
    path = Path(path)
    if path.is_dir():
        shards = sorted(path.glob("*.parquet"), key=_shard_key)
        if not shards:
            raise FileNotFoundError(f"{path} holds no *.parquet shards")
        for shard in shards:
            yield from _iter_parquet(shard, columns)
    elif path.suffix == ".parquet":
        yield from _iter_parquet(path, columns)
    else:
        with path.open("rb") as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise ValueError(f"{path}:{line_no}: not a JSON record: {exc}") from exc


def projection_columns(path: str | Path, projection: Projection) -> list[str] | None:
    """Parquet columns projection needs: every non-`__` column plus the source status columns."""
    import pyarrow.parquet as pq

    path = Path(path)
    first = min(path.glob("*.parquet"), key=_shard_key, default=None) if path.is_dir() else path
    if first is None or first.suffix != ".parquet":
        return None
    names = pq.ParquetFile(first).schema_arrow.names
    wanted = {"record_id"}
    sources = ([projection.source_field] if projection.type == "structured_messages"
               else [projection.user_field, projection.assistant_field])
    for field in sources:
        wanted |= {f"{field}__error", f"{field}__finish_reason"}
    return [n for n in names if "__" not in n or n in wanted]


def record_context(record: dict[str, Any], sources: Iterable[str] = ()) -> dict[str, Any]:
    """The record's columns for validation's checks: not `record_id` (`_sdg` has it), no `c__*`
    status columns and not the projection's source columns, whose raw text (~60% of a
    projected line) no check reads; it stays in the generation shards and in the rejects."""
    return {k: v for k, v in record.items()
            if "__" not in k and k != "record_id" and k not in sources}


def project_records(
    records: Iterable[dict[str, Any]],
    projection: Projection,
    out_path: str | Path,
    rejects_path: str | Path,
) -> ProjectionSummary:
    """Project every record; each lands in `out_path` or, with its reason, in `rejects_path`."""
    codes: Counter[str] = Counter()
    repairs_seen: Counter[str] = Counter()
    n = projected = 0
    dumps = orjson.dumps
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(rejects_path).parent.mkdir(parents=True, exist_ok=True)
    sources = ([projection.source_field] if projection.type == "structured_messages"
               else [projection.user_field, projection.assistant_field])
    # 1 MiB write buffers: with the default 8 KiB, nearly every ~5 KB row costs a write call.
    with open(out_path, "wb", buffering=WRITE_BUFFER) as out, \
            open(rejects_path, "wb", buffering=WRITE_BUFFER) as rej:
        for index, record in enumerate(records):
            n += 1
            record_id = record.get("record_id", index)
            context = record_context(record, sources)
            try:
                row, repairs = project_record(record, projection)
            except ProjectionError as exc:
                codes[exc.code] += 1
                raw = record.get(sources[0]) if len(sources) == 1 else {
                    s: record.get(s) for s in sources}
                rej.write(dumps({"record_id": record_id, "stage": "project",
                                 "codes": [exc.code], "reasons": [str(exc)], "row": None,
                                 "raw": raw}, default=str))
                rej.write(b"\n")
                continue
            projected += 1
            if repairs:
                repairs_seen.update(repairs)
            row["_sdg"] = {"record_id": record_id, "context": context, "repairs": repairs}
            out.write(dumps(row, default=str))
            out.write(b"\n")
    return ProjectionSummary(records=n, projected=projected, rejected=n - projected,
                             codes=dict(codes), repairs=dict(repairs_seen))
