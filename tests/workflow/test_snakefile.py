"""The Snakefile itself: lint-clean, every stage declared, config errors surface cleanly."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import snakemake, with_validation


def test_lint_reports_nothing(project: Path) -> None:
    run = snakemake(project, "--lint")
    assert run.returncode == 0, run.output
    assert "Congratulations, your workflow is in a good condition!" in run.output


def test_every_stage_is_a_rule_of_the_default_target(project: Path) -> None:
    run = snakemake(project, "-n", "--config", "num_records=1200")
    assert run.returncode == 0, run.output
    shards = 3  # 1200 records at the default shard size of 500
    assert run.rules == {"seed": shards, "generate": shards, "project": 1, "validate": 1,
                         "pack": 1, "report": 1, "all": 1}


def test_recipe_is_chosen_by_its_output_path(project: Path) -> None:
    run = snakemake(project, "-n", "output/sdg/sft.jsonl")
    assert run.returncode == 0, run.output
    assert "output/sdg/.sdgflow/default/specs/generate.json" in run.output


def test_config_error_is_one_clear_message(project: Path) -> None:
    run = snakemake(project, "-n", "--config", "num_recrods=5")
    assert run.returncode != 0
    assert "unknown override key 'num_recrods'" in run.output
    assert "valid keys:" in run.output


def test_failed_quality_gate_explains_and_keeps_its_report(project: Path) -> None:
    recipe = project / "configs" / "customer_support_tools.yaml"
    recipe.write_text(with_validation(recipe.read_text().replace(
        "num_records: 100\n", "num_records: 20\nsimulator:\n  rate_truncate: 0.5\n", 1),
        "  min_pass_rate: 0.9\n"))
    run = snakemake(project, "output/sdg/customer_support_tool_sft.jsonl")
    assert run.returncode != 0
    assert "validation.min_pass_rate" in run.output and "parse.truncated" in run.output
    kept = project / "output/sdg/.sdgflow/customer_support_tools/logs/validate"
    report = json.loads((kept / "validation.failed.json").read_text())
    assert report["gate_passed"] is False and report["pass_rate"] < 0.9
    assert report["checks"]["parse.truncated"]["failed"] > 0
    assert not (project / "output/sdg/customer_support_tool_sft.jsonl").exists()
