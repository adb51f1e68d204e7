"""`sdgflow preview`: generates, shows verdicts, writes only under the preview path."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sdgflow.cli import app


def test_preview_prints_conversations_and_reuses_the_store(project: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["preview", "-c", "customer_support_tools", "num_records=2"])
    assert first.exit_code == 0, first.output
    assert "record 0" in first.output and "record 1" in first.output
    assert "2 requests sent" in first.output
    assert first.output.count("VALID") + first.output.count("REJECTED") == 2
    again = runner.invoke(app, ["preview", "-c", "customer_support_tools", "num_records=2"])
    assert "0 requests sent, 2 answers from the store" in again.output
    assert (project / "output/sdg/preview/customer_support_tool_sft.jsonl").exists()
    assert not (project / "output/sdg/customer_support_tool_sft.jsonl").exists()


def test_preview_bad_override_exits_2_with_the_key(project: Path) -> None:
    result = CliRunner().invoke(app, ["preview", "-c", "customer_support_tools", "num_recs=2"])
    assert result.exit_code == 2
    assert "unknown override key 'num_recs'" in result.output
