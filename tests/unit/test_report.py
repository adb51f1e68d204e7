"""The report builder on small hand-written inputs: counts, escaping, missing optional files.

Inputs follow docs/formats.md (gen shard columns, final rows, rejects, validation.json) and the
packing report of sdgflow.pack.run; the recipe is the repo's, loaded in a scratch project.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import sdgflow.cli.inspect
import sdgflow.cli.report  # noqa: F401  (register the commands)
from sdgflow.build.paths import RecipePaths
from sdgflow.cli.app import app
from sdgflow.config.load import load_recipe
from sdgflow.config.models import ModelPrice, Recipe
from sdgflow.report.build import write_report
from sdgflow.report.charts import nice_ticks

EVIL = "<script>alert('x')</script>"


def _row(i: int, tool: str, urgency: str, user_text: str = "Where is my order?") -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": user_text},
            {"role": "assistant", "content": "Which order?"},
            {"role": "user", "content": f"ORD-{i}"},
            {"role": "assistant", "content": "", "tool_calls": [{
                "id": f"call_{i}", "type": "function",
                "function": {"name": tool, "arguments": json.dumps({"order_id": f"ORD-{i}"})}}]},
            {"role": "tool", "tool_call_id": f"call_{i}", "name": tool,
             "content": json.dumps({"status": "shipped"})},
            {"role": "assistant", "content": "It shipped."},
        ],
        "tools": [{"type": "function", "function": {"name": name, "parameters": {
            "type": "object", "properties": {}}}} for name in ("lookup_order", "verify_warranty")],
        "customer_name": f"Customer {i}", "urgency": urgency, "channel": "web_chat",
    }


def _shard(path: Path, n: int, failed: int, from_store: int) -> None:
    rows = []
    for i in range(n):
        rows.append({
            "record_id": i, "urgency": ["calm", "rushed"][i % 2], "channel": "web_chat",
            "conversation": None if i < failed else "{}",
            "conversation__error": "APIError: 500" if i < failed else None,
            "conversation__finish_reason": None if i < failed else "stop",
            "conversation__attempts": 0 if i >= n - from_store else 2,
            "conversation__from_store": i >= n - from_store,
            "conversation__prompt_tokens": 100, "conversation__completion_tokens": 50,
            "conversation__latency_s": 0.5, "conversation__model": "openai/gpt-oss-20b",
            "conversation__provider": "offline", "generated_offline": True,
        })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _validation(valid: int, rejected: int, projection: int) -> dict[str, Any]:
    return {
        "records_in": valid + rejected, "projection_rejects": projection, "valid": valid,
        "rejected": rejected, "warned": 0, "duplicates": 0,
        "pass_rate": valid / (valid + rejected + projection), "min_pass_rate": 0.5,
        "gate_passed": True,
        "checks": {
            "parse.truncated": {"failed": projection, "severity": "error", "stage": "project",
                                "description": "cut off"},
            "final.ungrounded_tool": {"failed": rejected, "severity": "error",
                                      "stage": "validate", "description": "cites the tool"},
            "content.markdown": {"failed": 0, "severity": "warn", "stage": "validate",
                                 "description": "no markdown"},
        },
        "examples": {"parse.truncated": [{"record_id": 9, "message": "cut off at the limit"}]},
        "repairs": {"trailing_comma": 2},
    }


@pytest.fixture
def recipe(project: Path) -> Recipe:
    r = load_recipe("customer_support_tools", ["num_records=10"])
    return r.model_copy(update={"report": r.report.model_copy(update={
        "samples": 2, "prices": {"nvidia-text": ModelPrice(input_per_mtok=1.0,
                                                           output_per_mtok=2.0)}})})


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Any]:
    d = tmp_path / "in"
    shard = d / "work" / "gen" / "shard-0.parquet"
    _shard(shard, n=10, failed=1, from_store=3)
    valid = d / "x.jsonl"
    rows = [_row(0, "lookup_order", "calm", user_text=EVIL),
            *(_row(i, "lookup_order" if i % 3 else "verify_warranty", ["calm", "rushed"][i % 2])
              for i in range(1, 6))]
    valid.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rejects = d / "x.rejects.jsonl"
    rejects.write_text(json.dumps({
        "record_id": 7, "stage": "validate", "codes": ["final.ungrounded_tool"],
        "reasons": [f"final answer cites nothing {EVIL}"], "row": rows[1], "raw": None}) + "\n")
    validation = d / "x.validation.json"
    validation.write_text(json.dumps(_validation(valid=6, rejected=1, projection=2)))
    packing = d / "x.packing.json"
    packing.write_text(json.dumps({
        "pack_size": 1024, "tokenizer": "o200k_harmony", "chat_template": "harmony",
        "algorithm": "best_fit_decreasing", "truncate": False, "records": 6,
        "total_tokens": 1800, "loss_tokens": 600,
        "length_percentiles": {"p50": 300, "p90": 320, "p99": 330, "max": 331},
        "histogram": {"bin_edges": [0, 256, 512, 768, 1024], "counts": [0, 6, 0, 0]},
        "over_length": 0, "packs": 2, "lower_bound": 2, "ratio_to_lower_bound": 1.0,
        "efficiency": 0.8789, "problem_count": 0, "loss_on": "all_assistant",
        "loss_by_role": {
            "assistant": {"tokens": 400, "loss_tokens": 390, "loss_share": 0.975},
            "assistant_tool_call": {"tokens": 220, "loss_tokens": 210, "loss_share": 0.9545},
            "user": {"tokens": 500, "loss_tokens": 0, "loss_share": 0.0}},
        "template_warnings": [f"template x JSON-encodes string `arguments` {EVIL}"]}))
    return {"shards": [shard], "valid": valid, "rejects": rejects, "validation": validation,
            "packing": packing, "out": d / "x.report.html"}


def _kpi(page: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}">.*?<div class="value">([^<]*)</div>', page)
    assert match, key
    return match.group(1)


def test_summary_counts_equal_the_inputs(recipe: Recipe, inputs: dict[str, Any]) -> None:
    data = write_report(recipe, **inputs)
    page = inputs["out"].read_text()
    assert (data.asked, data.generation.records, data.generation.failed_records) == (10, 10, 1)
    assert data.dataset.rows == 6 and data.rejected_total == 3
    assert (_kpi(page, "asked"), _kpi(page, "generated"), _kpi(page, "valid"),
            _kpi(page, "rejected")) == ("10", "9", "6", "3")
    # 7 fresh answers with 2 attempts each; 3 from the store with 0
    assert _kpi(page, "requests") == "14"
    assert "3 of 10 answers from the store" in page
    assert data.generation.tokens == 1500
    assert data.generation.cost == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert data.dataset.tool_calls == {"lookup_order": 5, "verify_warranty": 1}
    assert data.dataset.messages_per_row == {7: 6}
    urgency = next(c for c in data.categories if c.name == "urgency")
    assert urgency.generated == {"calm": 5, "rushed": 5}
    assert urgency.valid == {"calm": 3, "rushed": 3}
    assert 'id="offline-banner"' in page


def test_charts_and_tables_have_stable_hooks(recipe: Recipe, inputs: dict[str, Any]) -> None:
    write_report(recipe, **inputs)
    page = inputs["out"].read_text()
    chart = re.search(r'<svg class="chart" data-chart="pass-rate".*?</svg>', page).group(0)
    assert chart.count('class="bar ') == 3  # one bar per check in validation.json
    for name in ("funnel", "token-lengths", "packing-efficiency", "tool-usage",
                 "messages-per-conversation", "category-urgency", "category-channel"):
        assert f'data-chart="{name}"' in page, name
    assert page.count('class="conversation"') == 2
    assert 'class="bubble tool-call"' in page and 'class="bubble tool-result"' in page
    assert 'data-code="final.ungrounded_tool"' in page and 'data-code="parse.truncated"' in page
    assert 'data-code="content.markdown"' not in page  # no failures: not a reject reason
    assert "record 7" in page and "cut off at the limit" in page
    roles = re.search(r'<table class="loss-by-role">.*?</table>', page).group(0)
    assert re.findall(r'data-role="([a-z_]+)"', roles) == ["assistant", "assistant_tool_call",
                                                           "user"]
    assert "95.5%" in roles  # the tool-call turns' trainable share, as the pack stage wrote it
    assert 'class="template-warnings"' in page and "JSON-encodes string" in page
    # self-contained: nothing loads from anywhere
    assert not re.search(r'<(script|link|img|iframe)\b', page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_content_is_escaped(recipe: Recipe, inputs: dict[str, Any]) -> None:
    write_report(recipe, **inputs)
    page = inputs["out"].read_text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_works_without_packing_json(recipe: Recipe, inputs: dict[str, Any]) -> None:
    inputs["packing"].unlink()
    data = write_report(recipe, **inputs)
    page = inputs["out"].read_text()
    assert data.packing is None
    assert "packing.json not available" in page
    assert 'data-chart="pass-rate"' in page and page.count('class="conversation"') == 2


def test_empty_dataset_renders(recipe: Recipe, inputs: dict[str, Any]) -> None:
    inputs["valid"].write_text("")
    inputs["validation"].unlink()
    data = write_report(recipe, **inputs)
    page = inputs["out"].read_text()
    assert data.dataset.rows == 0
    assert "No valid rows to sample" in page
    assert 'data-code="final.ungrounded_tool"' in page  # from the rejects file alone


def test_nice_ticks() -> None:
    assert nice_ticks(7, 4) == [0, 2, 4, 6, 8]
    assert nice_ticks(0) == [0.0, 1.0]


runner = CliRunner()


def test_inspect_cli(inputs: dict[str, Any]) -> None:
    valid, rejects = str(inputs["valid"]), inputs["rejects"]
    result = runner.invoke(app, ["inspect", valid, "2"])
    assert result.exit_code == 0, result.output
    assert "Customer 2" in result.output and "tool call" in result.output
    result = runner.invoke(app, ["inspect", valid, "--rejects"])
    assert result.exit_code == 0 and "final.ungrounded_tool" in result.output
    assert "REJECTED" in result.output
    assert runner.invoke(app, ["inspect", str(rejects)]).exit_code == 0
    result = runner.invoke(app, ["inspect", valid, "--sample", "3", "--seed", "1"])
    assert result.exit_code == 0 and "3 of 6 records" in result.output
    assert runner.invoke(app, ["inspect", valid, "99"]).exit_code == 2
    assert runner.invoke(app, ["inspect", valid, "1", "--sample", "2"]).exit_code == 2
    assert runner.invoke(app, ["inspect", str(inputs["out"]) + ".nope"]).exit_code == 2


def test_report_cli(recipe: Recipe, inputs: dict[str, Any]) -> None:
    assert runner.invoke(app, ["report", "-c", "nosuch"]).exit_code == 2
    args = ["report", "-c", "customer_support_tools", "num_records=10"]
    # the run never happened: a usage error that says what to run
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "sdgflow run" in result.output
    paths = RecipePaths.of(recipe)
    for key, target in (("valid", paths.output), ("rejects", paths.rejects),
                        ("validation", paths.validation), ("packing", paths.packing),
                        ("shards", paths.gen(0))):
        source = inputs[key][0] if key == "shards" else inputs[key]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    page = paths.report.read_text()
    assert 'data-kpi="asked"' in page and page.count('class="conversation"') == 4


def test_quality_section_shows_diversity_judge_scores_and_collapse(
        recipe: Recipe, inputs: dict[str, Any]) -> None:
    validation = json.loads(inputs["validation"].read_text())
    validation["diversity"] = {
        "rows": 6, "tools_called": {"lookup_order": 5, "verify_warranty": 1},
        "tools_offered": {"lookup_order": 6, "verify_warranty": 6},
        "fields": {"issue": {"total": 6, "distinct": 2, "top": {"late": 5, "broken": 1},
                             "top_share": 0.8333}},
        "messages_per_row": {"7": 6},
        "words_per_row": {"mean": 20.5, "p50": 20.0, "p90": 24.0, "max": 25.0},
        "first_user_turn": {"rows": 6, "distinct_1": 0.41, "distinct_2": 0.52},
        "final_answer": {"rows": 6, "distinct_1": 0.12, "distinct_2": 0.07},
        "final_openings": {"total": 6, "distinct": 1, "top": {"it shipped": 6},
                           "top_share": 1.0},
        "collapse": [f"100% of final answers open the same way {EVIL}"],
    }
    validation["judge_scores"] = {"quality.grounding": {"count": 9, "mean": 3.7778,
                                                        "histogram": {"4": 8, "1": 1}}}
    inputs["validation"].write_text(json.dumps(validation))
    write_report(recipe, **inputs)
    page = inputs["out"].read_text()
    section = re.search(r'<section id="quality".*?</section>', page, re.DOTALL).group(0)
    assert '<ul class="collapse-signs" role="alert"><li>100% of final answers open the same ' \
           "way &lt;script&gt;" in section
    assert "0.12 · 0.07 (6 rows)" in section  # final answers' distinct-1 · distinct-2
    assert "\u201cit shipped \u2026\u201d 100" in section
    assert "mean 20.5 · p50 20 · p90 24 · max 25" in section
    assert re.search(r'data-field="issue"><td><code>issue</code></td><td class=\'num\'>2</td>'
                     r"<td class='num'>83\.3%</td><td>late</td>", section)
    assert re.search(r'data-judge="quality.grounding">.*?>9<.*?>3\.78<.*?1: 1 · 4: 8', section)
    assert '<a href="#quality">' in page


def test_quality_section_says_when_validation_json_predates_it(
        recipe: Recipe, inputs: dict[str, Any]) -> None:
    write_report(recipe, **inputs)  # (the fixture's validation.json has no diversity)
    section = re.search(r'<section id="quality".*?</section>', inputs["out"].read_text(),
                        re.DOTALL).group(0)
    assert "rerun validate" in section
