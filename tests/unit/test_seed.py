"""Seed stage: strategies, the stable-prefix property, and seed-file errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdgflow.config.errors import ConfigError
from sdgflow.config.load import load_recipe
from sdgflow.seed.read import read_seed_rows
from sdgflow.seed.sample import sample_rows, seed_row_index
from sdgflow.seed.stage import write_rows

FIELDS = ["customer_name", "issue", "order_id", "product", "policy_hint"]


def test_shuffle_visits_every_row_once_per_epoch() -> None:
    n = 13
    for epoch in range(3):
        picked = [seed_row_index("shuffle", 7, n, epoch * n + i) for i in range(n)]
        assert sorted(picked) == list(range(n))
    first = [seed_row_index("shuffle", 7, n, i) for i in range(n)]
    assert first != list(range(n))  # actually shuffled
    assert first != [seed_row_index("shuffle", 8, n, i) for i in range(n)]  # seed matters


def test_ordered_and_sample() -> None:
    assert [seed_row_index("ordered", 0, 3, i) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    drawn = [seed_row_index("sample", 0, 4, i) for i in range(400)]
    assert set(drawn) == {0, 1, 2, 3}  # with replacement: repeats within any 4 draws
    assert len(set(drawn[:8])) < 8


@settings(max_examples=25, deadline=None)
@given(small=st.integers(1, 150), extra=st.integers(1, 150), seed=st.integers(0, 2**31),
       strategy=st.sampled_from(["shuffle", "ordered", "sample"]))
def test_stable_prefix(project_recipe, small: int, extra: int, seed: int, strategy: str) -> None:
    recipe = project_recipe.model_copy(update={"seed": seed})
    recipe.seed_dataset.strategy = strategy
    rows = read_seed_rows(recipe.seed_dataset.path, recipe.seed_dataset.fields)
    short = sample_rows(recipe, rows, 0, small)
    longer = sample_rows(recipe, rows, 0, small + extra)
    assert longer.slice(0, small).equals(short)


@pytest.fixture(scope="module")
def project_recipe():
    repo = Path(__file__).resolve().parents[2]
    import os

    old = os.getcwd()
    os.chdir(repo)
    try:
        return load_recipe("customer_support_tools")
    finally:
        os.chdir(old)


def test_rows_shard_has_record_ids_seed_fields_and_categories(project: Path) -> None:
    recipe = load_recipe("customer_support_tools", [], {"num_records": 250, "shard_size": 100})
    out = project / "shard-2.parquet"
    write_rows(recipe, 2, out)
    table = pq.read_table(out)
    assert table.column_names == ["record_id", *FIELDS, "urgency", "channel"]
    assert table.column("record_id").to_pylist() == list(range(200, 250))
    assert set(table.column("urgency").to_pylist()) <= {"calm", "frustrated", "rushed",
                                                        "confused"}


def test_category_weights_are_respected(project_recipe) -> None:
    recipe = project_recipe.model_copy(deep=True)
    recipe.columns[0].weights = [0, 0, 1, 0]
    rows = read_seed_rows(recipe.seed_dataset.path, recipe.seed_dataset.fields)
    table = sample_rows(recipe, rows, 0, 50)
    assert set(table.column("urgency").to_pylist()) == {"rushed"}


@pytest.mark.parametrize("content,needle,line", [
    (b"", "seed file has no rows", None),
    (b'{"a": "x"}\n{"a": \n', "bad JSON", 2),
    (b'{"a": "x"}\n["a"]\n', "expected a JSON object", 2),
    (b'{"a": "x"}\n{"b": "y"}\n', "missing field(s) ['a']", 2),
    (b'{"a": "x"}\n{"a": "y", "c": "z"}\n', "field(s) ['c'] that line 1 lacks", 2),
    (b'{"a": "x"}\n{"a": "caf\xe9"}\n', "not UTF-8", 2),
])
def test_seed_file_errors_name_the_line(tmp_path: Path, content: bytes, needle: str,
                                        line: int | None) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        read_seed_rows(path, None)
    assert needle in str(info.value)
    assert f"{path}:{line}" in str(info.value) if line else str(path) in str(info.value)


def test_missing_seed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seed file not found"):
        read_seed_rows(tmp_path / "nope.jsonl", ["a"])


def test_shipped_seed_file_covers_every_tool() -> None:
    repo = Path(__file__).resolve().parents[2]
    rows = read_seed_rows(repo / "data" / "customer_support_tool_seeds.jsonl", FIELDS)
    assert len(rows) >= 60
    issues = " ".join(r["issue"] for r in rows).lower()
    for needle in ("deliver", "damaged", "address", "warranty", "subscription", "refund",
                   "charged twice", "missing"):
        assert needle in issues or needle in " ".join(r["policy_hint"].lower() for r in rows)
    assert len({r["order_id"] for r in rows}) == len(rows)
