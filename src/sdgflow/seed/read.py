"""Read a JSONL seed file into rows, with errors that name the file and line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from sdgflow.config.errors import ConfigError

FIX_SEED = "fix that line of the seed file (one JSON object per line, UTF-8)"


def read_seed_rows(path: str | Path, fields: list[str] | None) -> list[dict[str, str]]:
    """Every row of the seed file, reduced to `fields` (all of line 1's keys when None).

    Values become text (non-strings as compact JSON) because prompts render them as text and
    shard parquet keeps a fixed string schema.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"seed file not found: {path}", key="seed_dataset.path",
                          fix="create the file or point seed_dataset.path at an existing JSONL"
                          ) from None
    rows: list[dict[str, str]] = []
    first_keys: list[str] | None = None
    for lineno, raw in enumerate(data.splitlines(), start=1):
        where = f"{path}:{lineno}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 (byte {exc.start} of the line is {raw[exc.start]:#04x})",
                              where=where, fix="re-save the seed file as UTF-8") from None
        if not text.strip():
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"bad JSON: {exc}", where=where, fix=FIX_SEED) from None
        if not isinstance(obj, dict):
            raise ConfigError(f"expected a JSON object, got {type(obj).__name__}", where=where,
                              fix=FIX_SEED)
        if first_keys is None:
            first_keys = list(obj)
            wanted = fields if fields is not None else first_keys
        missing = [f for f in wanted if f not in obj]
        if missing:
            raise ConfigError(f"row is missing field(s) {missing}", where=where,
                              key="seed_dataset.fields",
                              fix="add the field to every row, or drop it from seed_dataset.fields")
        if fields is None and set(obj) != set(first_keys):
            extra = sorted(set(obj) - set(first_keys))
            raise ConfigError(f"row has field(s) {extra} that line 1 lacks", where=where,
                              key="seed_dataset.fields",
                              fix="give every row the same fields, or list the ones to use in "
                              "seed_dataset.fields")
        rows.append({f: _text(obj[f]) for f in wanted})
    if not rows:
        raise ConfigError("seed file has no rows", where=str(path), key="seed_dataset.path",
                          fix="add at least one JSON object line")
    return rows


def _text(value: object) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
