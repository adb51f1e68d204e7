"""The generation shard's fixed parquet schema (docs/formats.md): one row per record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass
class ColumnResult:
    text: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    from_store: bool = False
    model: str = ""
    provider: str = ""


RESULT_FIELDS: dict[str, pa.DataType] = {
    "reasoning": pa.string(), "finish_reason": pa.string(), "error": pa.string(),
    "attempts": pa.int32(), "prompt_tokens": pa.int64(), "completion_tokens": pa.int64(),
    "latency_s": pa.float64(), "from_store": pa.bool_(), "model": pa.string(),
    "provider": pa.string(),
}


def shard_schema(rows_schema: pa.Schema, columns: list[str]) -> pa.Schema:
    fields = list(rows_schema)
    for name in columns:
        fields.append(pa.field(name, pa.string()))
        fields += [pa.field(f"{name}__{k}", t) for k, t in RESULT_FIELDS.items()]
    fields.append(pa.field("generated_offline", pa.bool_()))
    return pa.schema(fields)


def write_shard(rows: pa.Table, results: list[dict[str, ColumnResult]], columns: list[str],
                out: str | Path) -> None:
    data: dict[str, list[Any]] = {name: rows.column(name).to_pylist()
                                  for name in rows.column_names}
    for name in columns:
        data[name] = [r[name].text for r in results]
        for key in RESULT_FIELDS:
            data[f"{name}__{key}"] = [getattr(r[name], key) for r in results]
    data["generated_offline"] = [any(c.provider == "offline" for c in r.values())
                                 for r in results]
    table = pa.table(data, schema=shard_schema(rows.schema, columns))
    tmp = Path(f"{out}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
