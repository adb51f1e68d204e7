"""The first-row tables behind both dedupe checks answer as a dict would, unsigned 64-bit keys
included (SQLite's integers are signed)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sdgflow.quality.table import FirstRecordTable, FirstRowTable, RecordIds


@pytest.mark.parametrize("bits", [64, 32])
def test_first_row_table_answers_as_a_dict(bits: int) -> None:
    rng = random.Random(bits)
    table = FirstRowTable()
    reference: dict[int, int] = {}
    keys = [rng.getrandbits(bits) for _ in range(3000)] + [0, 2**bits - 1, 2**63]
    keys += keys[:500]  # seen again: the first row stays
    for row, key in enumerate(keys):
        assert table.get(key) == reference.get(key)
        table.add((key,), row)
        reference.setdefault(key, row)
    dtype = np.uint64 if bits == 64 else np.uint32
    probe = np.array(keys[:50] + [rng.getrandbits(bits) for _ in range(50)], dtype=dtype)
    held, rows = table.get_many(probe)
    assert held.tolist() == [int(k) in reference for k in probe.tolist()]
    assert rows == {reference[k] for k in probe.tolist() if k in reference}
    table.close()


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
