"""Real snakemake runs: an edit reruns exactly the stages whose spec it changes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.harness import snakemake, with_validation

TARGET = "output/sdg/customer_support_tool_sft.jsonl"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def built(project: Path) -> Path:
    """The customer-support recipe, 30 records in 3 shards, built once on the simulator."""
    recipe = project / "configs" / "customer_support_tools.yaml"
    edit(recipe, "num_records: 100\n", "num_records: 30\nshard_size: 10\n")
    first = snakemake(project, TARGET)
    assert first.returncode == 0, first.output
    assert first.rules == {"seed": 3, "generate": 3, "project": 1, "validate": 1}
    return project


def recipe_of(project: Path) -> Path:
    return project / "configs" / "customer_support_tools.yaml"


def test_identical_rerun_runs_nothing(built: Path) -> None:
    again = snakemake(built, TARGET)
    assert again.returncode == 0 and again.rules == {}, again.output


def test_other_cores_and_slot_budget_run_nothing(built: Path) -> None:
    """Threads and resources reach a job as arguments, never as params Snakemake compares."""
    again = snakemake(built, TARGET, "--resources", "llm_slots=3", cores=2)
    assert again.returncode == 0 and again.rules == {}, again.output


def test_comment_key_order_and_formatting_edits_run_nothing(built: Path) -> None:
    path = recipe_of(built)
    edit(path, "# Multi-turn customer-support",
         "# An edited comment.\n# Multi-turn customer-support")
    edit(path, "    values: [calm, frustrated, rushed, confused]",
         "    values:\n      - calm\n      - frustrated\n      - rushed\n      - confused")
    edit(path, "output_dir: ", "seed: 0\noutput_dir: ")  # same value, new key order
    assert snakemake(built, TARGET).rules == {}


def test_concurrency_timeout_and_health_check_edits_run_nothing(built: Path) -> None:
    path = recipe_of(built)
    edit(path, "      max_tokens: 1800\ncolumns:",
         "      max_tokens: 1800\n      max_parallel_requests: 3\n      timeout: 33\ncolumns:")
    edit(path, "    skip_health_check: false\n    inference", "    skip_health_check: true\n"
         "    inference")
    assert snakemake(built, TARGET).rules == {}


def test_prompt_edit_reruns_generation_and_after_and_dry_run_names_the_spec(built: Path) -> None:
    edit(recipe_of(built), "Generate one realistic", "Generate one believable")
    dry = snakemake(built, "-n", TARGET)
    assert dry.rules == {"generate": 3, "project": 1, "validate": 1}
    assert "specs/generate.json" in dry.output  # the reason names the changed spec
    wet = snakemake(built, TARGET)
    assert wet.returncode == 0 and wet.rules == {"generate": 3, "project": 1, "validate": 1}


def test_category_values_edit_reruns_from_seed(built: Path) -> None:
    edit(recipe_of(built), "values: [web_chat, mobile_app, email_followup]",
         "values: [web_chat, mobile_app, email_followup, phone]")
    run = snakemake(built, TARGET)
    assert run.returncode == 0
    assert run.rules == {"seed": 3, "generate": 3, "project": 1, "validate": 1}


def test_validation_edit_reruns_validation_only(built: Path) -> None:
    path = recipe_of(built)
    path.write_text(with_validation(path.read_text(), "  min_pass_rate: 0.5\n"))
    run = snakemake(built, TARGET)
    assert run.returncode == 0 and run.rules == {"validate": 1}


def test_more_records_adds_shards_and_leaves_old_ones_untouched(built: Path) -> None:
    work = built / "output" / "sdg" / ".sdgflow" / "customer_support_tools"
    before = {k: (work / "gen" / f"shard-{k}.parquet").stat().st_mtime_ns for k in range(3)}
    rows_before = pq.read_table(work / "rows" / "shard-2.parquet")
    edit(recipe_of(built), "num_records: 30", "num_records: 45")
    run = snakemake(built, TARGET)
    assert run.returncode == 0
    assert run.rules == {"seed": 2, "generate": 2, "project": 1, "validate": 1}
    after = {k: (work / "gen" / f"shard-{k}.parquet").stat().st_mtime_ns for k in range(3)}
    assert after == before
    assert pq.read_table(work / "rows" / "shard-2.parquet").equals(rows_before)
    assert pq.read_table(work / "rows" / "shard-4.parquet").column("record_id").to_pylist() == \
        list(range(40, 45))
