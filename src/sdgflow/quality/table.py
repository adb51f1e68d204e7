"""A compact key -> row-number table that keeps each key's first row: the shape both dedupe
checks need (a digest or a band key -> the earliest valid row that had it).

A Python dict of ints costs ~100 bytes an entry; this keeps 12 (uint64 key, uint32 row) or 8
(uint32 key) in sorted numpy runs behind a small dict of the newest keys. Runs merge pairwise
(a binary counter: O(log n) runs, each key copied O(log n) times) by searchsorted placement, no
sort, and never beyond `run_max` keys, so no merge copies the whole table.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np

PENDING_MAX = 1 << 14  # newest keys, in a dict, before they become a sorted run
RUN_MAX = 1 << 21  # keys a merged run may hold


class FirstRowTable:
    """key -> the first row it was added with."""

    def __init__(self, key_dtype: type[np.unsignedinteger] = np.uint64,
                 pending_max: int = PENDING_MAX, run_max: int = RUN_MAX) -> None:
        self.key_dtype = key_dtype
        self.pending_max = pending_max
        self.run_max = run_max
        self._pending: dict[int, int] = {}
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def get(self, key: int) -> int | None:
        row = self._pending.get(key)
        if row is not None or not self._runs:
            return row
        # As the runs' dtype: numpy 2 compares a uint64 array with a Python int as float64,
        # converting the whole run at every call (~2 ms a lookup at 2M keys, not ~1 us).
        typed = self.key_dtype(key)
        for run_keys, run_rows in self._runs:
            at = int(run_keys.searchsorted(typed))
            if at < len(run_keys) and int(run_keys[at]) == key:
                return int(run_rows[at])
        return None

    def get_many(self, keys: np.ndarray) -> tuple[np.ndarray, set[int]]:
        """(which of `keys` the table holds, the rows it holds them with)."""
        held = np.zeros(len(keys), dtype=bool)
        rows: set[int] = set()
        for i, key in enumerate(keys.tolist()):
            row = self._pending.get(key)
            if row is not None:
                held[i] = True
                rows.add(row)
        for run_keys, run_rows in self._runs:
            at = run_keys.searchsorted(keys)
            at[at >= len(run_keys)] = 0
            hit = run_keys[at] == keys
            if hit.any():
                held |= hit
                rows.update(run_rows[at[hit]].tolist())
        return held, rows

    def add(self, keys: Iterable[int], row: int) -> None:
        """Add keys the table does not hold yet (the caller asked it: get / get_many)."""
        pending = self._pending
        for key in keys:
            pending.setdefault(key, row)
        if len(pending) >= self.pending_max:
            self._flush()

    def nbytes(self) -> int:
        return sum(k.nbytes + r.nbytes for k, r in self._runs)

    def _flush(self) -> None:
        keys = np.fromiter(self._pending.keys(), dtype=self.key_dtype, count=len(self._pending))
        rows = np.fromiter(self._pending.values(), dtype=np.uint32, count=len(self._pending))
        self._pending = {}
        order = np.argsort(keys)
        run = (keys[order], rows[order])
        while self._runs and len(self._runs[-1][0]) <= len(run[0]) \
                and len(self._runs[-1][0]) + len(run[0]) <= self.run_max:
            run = merge_runs(self._runs.pop(), run)
        self._runs.append(run)


def merge_runs(older: tuple[np.ndarray, np.ndarray], newer: tuple[np.ndarray, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted runs (no key in both) as one, placed by searchsorted: no sort, and no
    temporary larger than the newer run's positions."""
    at = np.searchsorted(older[0], newer[0]) + np.arange(len(newer[0]))
    size = len(older[0]) + len(newer[0])
    keys = np.empty(size, dtype=older[0].dtype)
    rows = np.empty(size, dtype=np.uint32)
    keys[at], rows[at] = newer
    rest = np.ones(size, dtype=bool)
    rest[at] = False
    keys[rest], rows[rest] = older
    return keys, rows


class RecordIds:
    """Row number -> record id: 8 bytes a row while ids are ints (as `project` writes them)."""

    def __init__(self) -> None:
        self._ints = array("q")
        self._others: dict[int, Any] = {}  # row -> a record id that is no int

    def __len__(self) -> int:
        return len(self._ints)

    def add(self, record_id: Any) -> int:
        """The new row's number."""
        row = len(self._ints)
        if type(record_id) is int and -2**63 <= record_id < 2**63:
            self._ints.append(record_id)
        else:
            self._ints.append(0)
            self._others[row] = record_id
        return row

    def __getitem__(self, row: int) -> Any:
        return self._others.get(row, self._ints[row]) if self._others else self._ints[row]


class FirstRecordTable:
    """A 64-bit digest -> the record id of the first row added with it: `dict.get` /
    `setdefault` / `in` for the exact duplicate check, at ~20 bytes a row instead of ~100."""

    def __init__(self) -> None:
        self._rows = FirstRowTable(np.uint64)
        self._ids = RecordIds()

    def get(self, digest: int, default: Any = None) -> Any:
        row = self._rows.get(digest & _U64)
        return default if row is None else self._ids[row]

    def __contains__(self, digest: int) -> bool:
        return self._rows.get(digest & _U64) is not None

    def setdefault(self, digest: int, record_id: Any) -> Any:
        key = digest & _U64
        row = self._rows.get(key)
        if row is not None:
            return self._ids[row]
        self._rows.add((key,), self._ids.add(record_id))
        return record_id


_U64 = (1 << 64) - 1
