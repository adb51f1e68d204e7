"""Key -> first row tables for both dedupe checks, kept in SQLite on disk so memory stays flat
whatever the row count (a dict costs ~100 bytes an entry: 1.3 GB for a million rows' digests and
near-duplicate band keys).

Plain SQLite rather than a hand-built structure: validate is far faster than any endpoint, and
at 1M rows of 12 band keys this measured 60 us a row at 51 MB peak (a sorted-numpy-runs table:
84 us, 160 MB), beside the ~240 us a row the MinHash itself costs. The file lives in a temporary
directory removed when the table is closed or collected.
"""

from __future__ import annotations

import sqlite3
import tempfile
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

_SIGNED = 1 << 63  # SQLite integers are signed 64-bit: unsigned keys are shifted into range


class FirstRowTable:
    """key (an unsigned integer up to 64 bits) -> the first row it was added with."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="sdgflow-dedupe-")
        self._db = sqlite3.connect(Path(self._dir.name) / "first_rows.sqlite")
        # A scratch file rebuilt by every run: no journal, no fsync; a 16 MB page cache.
        self._db.executescript("""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -16000;
            CREATE TABLE first_row (key INTEGER PRIMARY KEY, row INTEGER NOT NULL);
        """)

    def get(self, key: int) -> int | None:
        found = self._db.execute("SELECT row FROM first_row WHERE key = ?",
                                 (key - _SIGNED,)).fetchone()
        return None if found is None else found[0]

    def get_many(self, keys: np.ndarray) -> tuple[np.ndarray, set[int]]:
        """(which of `keys` the table holds, the rows it holds them with)."""
        wanted = [k - _SIGNED for k in keys.tolist()]
        rows = dict(self._db.execute(
            f"SELECT key, row FROM first_row WHERE key IN ({','.join('?' * len(wanted))})",
            wanted))
        held = np.fromiter((k in rows for k in wanted), dtype=bool, count=len(wanted))
        return held, set(rows.values())

    def add(self, keys: Iterable[int], row: int) -> None:
        """Add keys with `row`; a key the table holds keeps its first row."""
        self._db.executemany("INSERT OR IGNORE INTO first_row VALUES (?, ?)",
                             ((k - _SIGNED, row) for k in keys))

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


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
    `setdefault` / `in` for the exact duplicate check, with memory that does not grow."""

    def __init__(self) -> None:
        self._rows = FirstRowTable()
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

    def close(self) -> None:
        self._rows.close()


_U64 = (1 << 64) - 1
