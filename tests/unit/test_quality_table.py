"""The compact first-row tables behind both dedupe checks answer as a dict would, across
flushes into sorted runs and their merges."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sdgflow.quality.table import FirstRecordTable, FirstRowTable, RecordIds, merge_runs


@pytest.mark.parametrize("dtype,bits", [(np.uint64, 64), (np.uint32, 32)])
def test_first_row_table_answers_as_a_dict(dtype: type, bits: int) -> None:
    rng = random.Random(bits)
    table = FirstRowTable(dtype, pending_max=64, run_max=1000)  # many flushes and merges
    reference: dict[int, int] = {}
    keys = [rng.getrandbits(bits) for _ in range(3000)]
    keys += keys[:500]  # seen again: the first row stays
    for row, key in enumerate(keys):
        assert table.get(key) == reference.get(key)
        if table.get(key) is None:
            table.add((key,), row)
        reference.setdefault(key, row)
    assert len(table._runs) > 1 and max(len(k) for k, _ in table._runs) <= 1000
    probe = np.array(keys[:50] + [rng.getrandbits(bits) for _ in range(50)], dtype=dtype)
    held, rows = table.get_many(probe)
    assert held.tolist() == [int(k) in reference for k in probe.tolist()]
    assert rows == {reference[k] for k in probe.tolist() if k in reference}


def test_merging_runs_keeps_every_key_with_its_row() -> None:
    rng = np.random.default_rng(3)
    keys = rng.choice(2**32 - 1, size=5000, replace=False).astype(np.uint32)
    row_of = {k: i for i, k in enumerate(keys.tolist())}
    older, newer = np.sort(keys[:3000]), np.sort(keys[3000:])
    merged_keys, merged_rows = merge_runs(
        (older, np.array([row_of[k] for k in older.tolist()], dtype=np.uint32)),
        (newer, np.array([row_of[k] for k in newer.tolist()], dtype=np.uint32)))
    assert merged_keys.tolist() == sorted(keys.tolist())
    assert merged_rows.tolist() == [row_of[k] for k in merged_keys.tolist()]


def test_record_ids_keep_ints_compact_and_anything_else_as_it_is() -> None:
    ids = RecordIds()
    assert [ids.add(x) for x in (7, "r-8", 2**70, True, -3)] == [0, 1, 2, 3, 4]
    assert [ids[i] for i in range(5)] == [7, "r-8", 2**70, True, -3]


def test_first_record_table_is_the_duplicate_checks_dict() -> None:
    table = FirstRecordTable()
    digests = [hash(f"conversation {i}") for i in range(40_000)]  # signed, as hash() gives
    assert any(d < 0 for d in digests)
    for i, digest in enumerate(digests):
        assert table.setdefault(digest, f"rec-{i}") == f"rec-{i}"
    assert table.setdefault(digests[5], "later") == "rec-5"
    assert digests[39_999] in table and table.get(digests[123]) == "rec-123"
    assert hash("never added") not in table and table.get(hash("never added")) is None
