"""The exact CLI forms: `sdgflow project ...` and `sdgflow validate ...`, with their exit codes.

Uses the real recipe loader (`sdgflow.config.load.load_recipe`) on a copy of configs/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, FINAL, clean_row, reference_text

import sdgflow.cli.project
import sdgflow.cli.validate  # noqa: F401  (register the commands)
from sdgflow.cli.app import app

runner = CliRunner()


def _gen_dir(root: Path, n: int, bad: int = 0) -> Path:
    gen = root / "gen"
    gen.mkdir()
    rows = []
    for i in range(n):
        text = reference_text(clean_row()).replace("It's ORD-10492.", f"It's ORD-10492 ({i}).")
        if i < bad:
            # a canned final answer that cites nothing from the tool result
            text = text.replace(FINAL, "Thanks, Priya. Orders delayed more than 2 business days "
                                "past the estimate qualify for free expedited reshipping.")
        rows.append({"record_id": i, **CONTEXT, "conversation": text,
                     "conversation__finish_reason": "stop", "conversation__error": None})
    rows.append({"record_id": n, **CONTEXT, "conversation": None,
                 "conversation__finish_reason": None, "conversation__error": "APIError: 500"})
    pq.write_table(pa.Table.from_pylist(rows), gen / "shard-0.parquet")
    return gen


def test_project_then_validate(project: Path) -> None:
    gen = _gen_dir(project, 9)
    result = runner.invoke(app, ["project", str(gen), "-c", "customer_support_tools",
                                 "-o", "w/projected.jsonl", "--rejects", "w/prej.jsonl"])
    assert result.exit_code == 0, result.output
    assert "projected 9 of 10" in result.output
    result = runner.invoke(app, ["validate", "w/projected.jsonl", "-c", "customer_support_tools",
                                 "-o", "out/sft.jsonl", "--rejects", "out/sft.rejects.jsonl",
                                 "--report", "out/sft.validation.json",
                                 "--projection-rejects", "w/prej.jsonl"])
    assert result.exit_code == 0, result.output
    assert len(Path("out/sft.jsonl").read_text().splitlines()) == 9
    report = json.loads(Path("out/sft.validation.json").read_text())
    assert report["pass_rate"] == 0.9 and report["checks"]["generate.failed"]["failed"] == 1


def test_failed_gate_exits_1_after_writing_the_report(project: Path) -> None:
    gen = _gen_dir(project, 4, bad=3)
    runner.invoke(app, ["project", str(gen / "shard-0.parquet"), "-c", "customer_support_tools",
                        "-o", "p.jsonl", "--rejects", "pr.jsonl"])
    result = runner.invoke(app, ["validate", "p.jsonl", "-c", "customer_support_tools",
                                 "-o", "v.jsonl", "--rejects", "r.jsonl", "--report", "rep.json"])
    assert result.exit_code == 1
    assert "validation.min_pass_rate" in result.output
    assert json.loads(Path("rep.json").read_text())["gate_passed"] is False
    ok = runner.invoke(app, ["validate", "p.jsonl", "-c", "customer_support_tools", "-o",
                             "v.jsonl", "--rejects", "r.jsonl", "--report", "rep.json",
                             "validation.min_pass_rate=0.2"])
    assert ok.exit_code == 0, ok.output


def test_usage_errors_exit_2(project: Path) -> None:
    missing = runner.invoke(app, ["project", "nope.parquet", "-c", "customer_support_tools",
                                  "-o", "p.jsonl", "--rejects", "r.jsonl"])
    assert missing.exit_code == 2
    Path("p.jsonl").write_text("")
    bad_recipe = runner.invoke(app, ["validate", "p.jsonl", "-c", "no_such_recipe", "-o",
                                     "v.jsonl", "--rejects", "r.jsonl", "--report", "x.json"])
    assert bad_recipe.exit_code == 2
    bad_code = runner.invoke(app, ["validate", "p.jsonl", "-c", "customer_support_tools", "-o",
                                   "v.jsonl", "--rejects", "r.jsonl", "--report", "x.json",
                                   "validation.checks.no.such=warn"])
    assert bad_code.exit_code == 2
    no_out = runner.invoke(app, ["validate", "p.jsonl", "-c", "customer_support_tools"])
    assert no_out.exit_code == 2
