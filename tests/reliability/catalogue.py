"""The reliability catalogue: shared helpers and the results file `bench/RELIABILITY.md` renders.

Each test records one row (fault, what happened, records lost, extra requests) into a JSON file:
`$SDGFLOW_RELIABILITY_OUT` when set, else `.pytest_cache/sdgflow-reliability/results.json`.
Rows are merged by id, so running a subset of the suite updates only its rows.
`python bench/reliability_table.py RESULTS.json > bench/RELIABILITY.md` renders the table.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sdgflow.simulator.process import SimProcess
from tests.harness import SIM_KEY, SIM_KEY_ENV

OUT_ENV = "SDGFLOW_RELIABILITY_OUT"
RECIPE = "customer_support_tools"
WORK = Path("output/sdg/.sdgflow") / RECIPE
STORE = WORK / "store"
TARGET = "output/sdg/customer_support_tool_sft.jsonl"
PROJECTION_REJECTS = str(WORK / "projection_rejects.jsonl")
CATEGORIES = ("endpoint", "process", "input", "secrets")


@dataclass
class Row:
    id: str
    category: str  # one of CATEGORIES
    fault: str
    happened: str
    records: int
    records_lost: int
    # Requests beyond one per record and LLM column, over the faulty run and its recovery.
    extra_requests: int
    requests: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    test: str = ""  # the pytest node id that recorded the row (filled in by `record`)


def results_path(default_dir: Path) -> Path:
    return Path(os.environ[OUT_ENV]) if os.environ.get(OUT_ENV) else default_dir / "results.json"


class Catalogue:
    """Rows merged by id into one JSON file (`{"rows": [...]}`), rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        return {r["id"]: r for r in json.loads(self.path.read_text())["rows"]}

    def _save(self, rows: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"rows": list(rows.values())}, indent=2) + "\n")
        tmp.replace(self.path)

    def record(self, row: Row) -> None:
        assert row.category in CATEGORIES, row.category
        row.test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        rows = self._load()
        rows[row.id] = {**asdict(row), "result": "running", "note": "",
                        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
        self._save(rows)

    def set_result(self, test: str, result: str, note: str = "") -> None:
        """The outcome of the test that recorded rows: pass, gap (a known xfail) or fail."""
        rows = self._load()
        for row in rows.values():
            if row.get("test") == test:
                row["result"], row["note"] = result, note
        self._save(rows)


class Sim(SimProcess):
    """The simulator requiring `key` (harness.SimServer with a chosen key)."""

    def __init__(self, workdir: Path, *knobs: str, key: str = SIM_KEY) -> None:
        self.key = key
        super().__init__(workdir, *knobs, api_key=key)

    requests_log = SimProcess.answered


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             alive: subprocess.Popen | None = None) -> Any:
    """Poll an observable condition until it holds; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"process exited ({alive.returncode}) before: {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(0.05)


def recipe_file(project: Path) -> Path:
    return project / "configs" / f"{RECIPE}.yaml"


def configure(project: Path, records: int, shard: int, **inference: Any) -> Path:
    """Size the reference recipe and add operational inference parameters to its model."""
    path = recipe_file(project)
    text = path.read_text()
    assert "num_records: 100\n" in text and "      max_tokens: 1800\ncolumns:" in text
    text = text.replace("num_records: 100\n", f"num_records: {records}\nshard_size: {shard}\n", 1)
    extra = "".join(f"      {k}: {v}\n" for k, v in inference.items())
    text = text.replace("      max_tokens: 1800\ncolumns:",
                        f"      max_tokens: 1800\n{extra}columns:", 1)
    path.write_text(text)
    return path


def point_at(project: Path, sim: Sim) -> None:
    """Call `sim` as provider `sim`; on a recipe already pointed elsewhere, only the URL moves."""
    path = recipe_file(project)
    text = path.read_text()
    if "providers:\n  - name: sim\n" in text:
        start = text.index("    endpoint: http://127.0.0.1:")
        end = text.index("\n", start)
        text = text[:start] + f"    endpoint: {sim.url}/v1" + text[end:]
    else:
        text = text.replace("provider: offline\n", "provider: sim\n", 1)
        text += (f"providers:\n  - name: sim\n    endpoint: {sim.url}/v1\n"
                 f"    api_key: {SIM_KEY_ENV}\n")
    path.write_text(text)


def key_env(key: str = SIM_KEY) -> dict[str, str]:
    return {SIM_KEY_ENV: key}


def gen_targets(records: int, shard: int) -> list[str]:
    return [str(WORK / "gen" / f"shard-{k}.parquet") for k in range(-(-records // shard))]


def generated(project: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((project / WORK / "gen").glob("shard-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def records_lost(rows: list[dict[str, Any]], records: int) -> int:
    """Record ids in [0, records) that no generated shard holds."""
    return len(set(range(records)) - {r["record_id"] for r in rows})


_LOG_PREFIX = re.compile(r"^\|?\s*(\d{4}-\d\d-\d\d [\d:,]+ [A-Z]+ [\w.]+: )?")


def portable(line: str, project: Path) -> str:
    """An output line for the table: no scratch-project prefix, no log timestamp."""
    return _LOG_PREFIX.sub("", line.strip()).replace(f"{project}/", "")


def failed_ids(rows: list[dict[str, Any]], column: str = "conversation") -> list[int]:
    return sorted(r["record_id"] for r in rows if r[f"{column}__error"] is not None)
