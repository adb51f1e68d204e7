"""What an edit changed: which stage an edit touched (from the build's own stage hashes), the
figures of two validation.json side by side, the kept history, and `sdgflow compare`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, clean_row

from sdgflow.build.paths import RecipePaths
from sdgflow.cli import app
from sdgflow.config.load import load_recipe
from sdgflow.quality.compare import (
    build_info,
    compare,
    describe_changes,
    keep_history,
    packing_beside,
    previous_path,
)
from sdgflow.validate.stage import validate_stage
from tests.unit.test_cli_imports import HEAVY, imported_after


def changes(project: Path, *edits: str) -> list[str]:
    base = build_info(load_recipe("customer_support_tools"))
    return describe_changes(base, build_info(load_recipe("customer_support_tools",
                                                         list(edits))))


def test_a_prompt_edit_names_the_column_and_the_generate_stage(project: Path) -> None:
    prompt = load_recipe("customer_support_tools").llm_columns[0].prompt
    edited = prompt.replace("realistic", "believable")
    assert changes(project, f"columns.2.prompt={json.dumps(edited)}") == [
        "prompt of `conversation` edited",
        "`generate` stage spec changed (LLM columns, models or the simulator)"]


@pytest.mark.parametrize("edit,expected", [
    ("validation.min_messages=5", ["`validate` stage spec changed (validation: or "
                                   "output_projection)"]),
    ("models.0.inference_parameters.temperature=0.2", [
        "model `nvidia-text` changed (model id, provider or identity parameters)",
        "`generate` stage spec changed (LLM columns, models or the simulator)"]),
    ("num_records=40", ["num_records 100 -> 40"]),
    ("columns.0.values=[calm, rushed]", ["`rows` stage spec changed (the seed file, "
                                         "seed_dataset or sampler columns)"]),
    ("columns.3.enabled=true", [
        "column `quality` added",
        "`generate` stage spec changed (LLM columns, models or the simulator)",
        "`validate` stage spec changed (validation: or output_projection)"]),
    ("models.0.inference_parameters.max_parallel_requests=3", [
        "no stage spec changed: the same recipe (a forced rerun, or its input files changed)"]),
])
def test_each_edit_names_the_stage_it_touched(project: Path, edit: str,
                                              expected: list[str]) -> None:
    assert changes(project, edit) == expected


def test_a_summary_without_hashes_still_compares_its_figures() -> None:
    assert describe_changes(None, {"stages": {}}) == [
        "the previous build's summary has no stage hashes (written before sdgflow kept them): "
        "only the figures compare"]


def summary(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "records_in": 95, "projection_rejects": 5, "valid": 80, "rejected": 15, "warned": 3,
        "duplicates": 1, "near_duplicates": 2, "pass_rate": 0.8,
        "checks": {"content.markdown": {"failed": 10}, "final.ungrounded_tool": {"failed": 5},
                   "seed.mismatch": {"failed": 0}},
        "judge_scores": {"quality.grounding": {"count": 95, "mean": 3.9}},
        "diversity": {"tools_called": {"lookup_order": 60, "verify_warranty": 20},
                      "first_user_turn": {"distinct_2": 0.41},
                      "final_answer": {"distinct_2": 0.3},
                      "final_openings": {"top_share": 0.25},
                      "words_per_row": {"p50": 150.0, "mean": 151.5},
                      "collapse": ["one", "two"]},
    }
    base.update(over)
    return base


def test_figures_side_by_side() -> None:
    after = summary(valid=90, rejected=5, pass_rate=0.9,
                    checks={"final.ungrounded_tool": {"failed": 5},
                            "seed.mismatch": {"failed": 2}},
                    judge_scores={"quality.grounding": {"count": 95, "mean": 4.25}})
    result = {f.label: (f.show(f.before), f.show(f.after), f.delta())
              for f in compare(summary(), after).figures}
    assert result["records checked"] == ("100", "100", "=")
    assert result["pass rate"] == ("80.0%", "90.0%", "+10.0 pt")
    assert result["valid"] == ("80", "90", "+10")
    assert result["rejected"] == ("20", "10", "-10")  # projection rejects included
    assert result["code content.markdown"] == ("10", "0", "-10")
    assert result["code seed.mismatch"] == ("0", "2", "+2")
    assert "code final.ungrounded_tool" in result and "code messages.count" not in result
    assert result["judge quality.grounding mean"] == ("3.90", "4.25", "+0.35")
    assert result["top tool's share of calls"] == ("75.0%", "75.0%", "=")
    assert result["words per conversation p50"] == ("150", "150", "=")
    assert result["collapse signs"] == ("2", "2", "=")


def test_a_change_too_small_to_show_is_not_shown_as_none() -> None:
    figures = {f.label: f for f in compare(summary(), summary(pass_rate=0.80001)).figures}
    assert figures["pass rate"].changed and figures["pass rate"].delta() == "~0"
    assert figures["valid"].delta() == "="


def test_a_figure_only_one_build_has_is_new_or_gone() -> None:
    old = {k: v for k, v in summary().items() if k not in ("diversity", "near_duplicates")}
    result = {f.label: f.delta() for f in compare(old, summary()).figures}
    assert result["near-duplicates"] == "new" and result["collapse signs"] == "new"
    result = {f.label: f.delta() for f in compare(summary(), old).figures}
    assert result["collapse signs"] == "gone"


def test_history_keeps_the_last_build_and_puts_the_previous_beside_this_one(
        tmp_path: Path) -> None:
    out = tmp_path / "out" / "x.validation.json"
    out.parent.mkdir()
    history = tmp_path / "work" / "history"
    stale = previous_path(out)
    stale.write_text("{}")  # from some other history: must not be taken for ours
    out.write_text('{"checks": {}, "valid": 1}')
    assert keep_history(out, history) is None and not stale.exists()
    out.write_text('{"checks": {}, "valid": 2}')
    assert keep_history(out, history) == tmp_path / "out" / "x.validation.previous.json"
    assert json.loads(stale.read_text())["valid"] == 1
    assert json.loads((history / "validation.json").read_text())["valid"] == 2


def test_the_validate_stage_compares_each_build_with_the_previous(
        project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recipe = load_recipe("customer_support_tools")
    paths = RecipePaths.of(recipe)
    projected = tmp_path / "projected.jsonl"
    projected.write_text(json.dumps({**clean_row(), "_sdg": {"record_id": 0,
                                                             "context": CONTEXT}}) + "\n")
    args = (str(projected), str(tmp_path / "none.jsonl"), str(paths.output),
            str(paths.rejects), str(paths.validation))
    caplog.set_level(logging.INFO, logger="sdgflow.validate")
    validate_stage(recipe, *args)
    assert "first build of customer_support_tools kept for comparison" in caplog.text
    written = json.loads(paths.validation.read_text())
    assert written["build"] == build_info(recipe)
    caplog.clear()
    edited = load_recipe("customer_support_tools", ["validation.min_messages=5"])
    validate_stage(edited, *args)
    assert "what changed (previous -> this build):\n  - `validate` stage spec changed" \
        in caplog.text
    assert f"sdgflow compare {previous_path(paths.validation)} {paths.validation}" in caplog.text


def test_compare_cli_prints_the_table_and_refuses_other_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.validation.json", tmp_path / "b.validation.json"
    a.write_text(json.dumps(summary()))
    b.write_text(json.dumps(summary(pass_rate=0.85)))
    result = CliRunner().invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "what changed (a.validation.json -> b.validation.json):" in result.output
    assert "80.0%" in result.output and "85.0%" in result.output and "+5.0 pt" in result.output
    other = tmp_path / "packing.json"
    other.write_text('{"packs": 3}')
    result = CliRunner().invoke(app, ["compare", str(other), str(b)])
    assert result.exit_code == 2
    assert "not a validation.json (no `checks`)" in result.output


def test_compare_cli_imports_nothing_heavy(tmp_path: Path) -> None:
    a = tmp_path / "a.validation.json"
    a.write_text(json.dumps(summary()))
    assert set(HEAVY) & imported_after(["compare", str(a), str(a)]) == set()


def packing(records: int = 100, total: int = 80_000, loss: int = 40_000, p50: float = 790.0,
            packs: int = 20) -> dict[str, Any]:
    """The fields of a packing.json the comparison reads (pack/run.py PackingReport)."""
    return {"records": records, "total_tokens": total, "loss_tokens": loss, "packs": packs,
            "length_percentiles": {"p50": p50, "p90": 1100.0, "p99": 1400.0, "max": 1500}}


def test_token_lengths_come_from_the_builds_packing_reports() -> None:
    result = {f.label: (f.show(f.before), f.show(f.after), f.delta())
              for f in compare(summary(), summary(), packing(),
                               packing(total=90_000, loss=36_000, p50=880.0, packs=23)).figures}
    assert result["tokens per record mean"] == ("800.00", "900.00", "+100.00")
    assert result["tokens per record p50"] == ("790", "880", "+90")
    assert result["loss tokens share"] == ("50.0%", "40.0%", "-10.0 pt")
    assert result["packs"] == ("20", "23", "+3")
    # Without packing reports the validation figures stand alone.
    assert not any(f.label.startswith("tokens") for f in compare(summary(), summary()).figures)


def test_the_pack_stage_keeps_its_report_and_logs_token_lengths(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sdgflow.pack.run import compare_with_previous

    out, history = tmp_path / "x.packing.json", tmp_path / "history"
    out.write_text(json.dumps(packing()))
    caplog.set_level(logging.INFO, logger="sdgflow.pack")
    compare_with_previous(out, history)
    assert caplog.text == ""  # the first build: nothing to compare with
    out.write_text(json.dumps(packing(total=90_000)))
    compare_with_previous(out, history)
    previous = tmp_path / "x.packing.previous.json"
    assert json.loads(previous.read_text())["total_tokens"] == 80_000
    assert packing_beside(tmp_path / "x.validation.previous.json") == previous
    assert "token lengths (previous -> this build):" in caplog.text
    assert "tokens per record mean" in caplog.text and "+100.00" in caplog.text


def test_compare_cli_adds_token_lengths_when_packing_reports_sit_beside(tmp_path: Path) -> None:
    a, b = tmp_path / "a.validation.json", tmp_path / "b.validation.json"
    a.write_text(json.dumps(summary()))
    b.write_text(json.dumps(summary()))
    (tmp_path / "a.packing.json").write_text(json.dumps(packing()))
    (tmp_path / "b.packing.json").write_text(json.dumps(packing(p50=700.0)))
    result = CliRunner().invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "tokens per record p50" in result.output and "-90" in result.output
