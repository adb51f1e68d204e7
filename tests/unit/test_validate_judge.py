"""Judge gates (validation.judge): a row an llm_judge column scores under a rule's min is a
reject whose sentence is the judge's reasoning; the shipped recipe's judge column is off by
default and changes nothing then; the simulator answers judge prompts offline."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, clean_row

from sdgflow.build.spec import digest, stage_specs
from sdgflow.config.errors import ConfigError
from sdgflow.config.load import load_recipe
from sdgflow.config.models import LLMJudgeColumn
from sdgflow.generate.request import build_request
from sdgflow.project.config import StructuredMessagesProjection
from sdgflow.simulator.app import create_app
from sdgflow.simulator.settings import SimulatorSettings
from sdgflow.validate.config import ValidationConfig
from sdgflow.validate.run import validate_file

PROJECTION = StructuredMessagesProjection(type="structured_messages",
                                          source_field="conversation")
RULES = [{"column": "quality", "score": "grounding", "min": 3},
         {"column": "quality", "score": "tool_use", "min": 3}]


def judged(grounding: Any, tool_use: Any = 5, clarity: Any = 4) -> str:
    return json.dumps({
        "grounding": {"score": grounding, "reasoning": f"grounding reason {grounding}"},
        "clarity": {"score": clarity, "reasoning": "clear"},
        "tool_use": {"score": tool_use, "reasoning": f"tool reason {tool_use}"},
    })


def run(tmp_path: Path, answers: list[Any], rules: list[dict] = RULES):
    src = tmp_path / "projected.jsonl"
    lines = []
    for i, answer in enumerate(answers):
        row = clean_row()
        row["messages"][1]["content"] += f" (ticket {i})"  # distinct rows: no dedupe
        context = {**CONTEXT} if answer is None else {**CONTEXT, "quality": answer}
        lines.append(json.dumps({**row, "_sdg": {"record_id": i, "context": context}}))
    src.write_text("\n".join(lines) + "\n")
    cfg = ValidationConfig(min_pass_rate=0.0, judge=rules,
                           checks={"dedupe.near_duplicate": "off"})
    report = validate_file(src, cfg, PROJECTION, tmp_path / "v.jsonl", tmp_path / "r.jsonl",
                           tmp_path / "v.json")
    rejects = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    return report, rejects


def test_a_score_under_min_is_a_reject_with_the_judges_reasoning(tmp_path: Path) -> None:
    report, rejects = run(tmp_path, [judged(5), judged(2), judged(3), judged(4, tool_use=1)])
    assert [(r["record_id"], r["codes"]) for r in rejects] == [
        (1, ["judge.below_min"]), (3, ["judge.below_min"])]
    assert rejects[0]["reasons"] == [
        "quality.grounding scored 2 < 3 (validation.judge): grounding reason 2"]
    assert rejects[1]["reasons"] == [
        "quality.tool_use scored 1 < 3 (validation.judge): tool reason 1"]
    assert report.valid == 2  # 3 is the min: it passes


def test_score_means_cover_every_judged_row_valid_or_not(tmp_path: Path) -> None:
    report, _ = run(tmp_path, [judged(5), judged(2), judged(3), judged(4, tool_use=1)])
    grounding = report.judge_scores["quality.grounding"]
    assert (grounding.count, grounding.mean) == (4, 3.5)  # (5 + 2 + 3 + 4) / 4
    assert grounding.histogram == {"5": 1, "2": 1, "3": 1, "4": 1}
    assert report.judge_scores["quality.tool_use"].mean == 4.0  # (5 + 5 + 5 + 1) / 4
    assert report.judge_scores["quality.clarity"].mean == 4.0  # not gated, still summarised
    written = json.loads((tmp_path / "v.json").read_text())
    assert written["judge_scores"]["quality.grounding"]["mean"] == 3.5


def test_answers_as_models_write_them_are_read(tmp_path: Path) -> None:
    fenced = "Here are the scores:\n```json\n" + judged(4) + "\n```"
    as_object = json.loads(judged(4))
    bare = json.dumps({"grounding": "4/5", "tool_use": 5.0})
    labelled = json.dumps({"grounding": {"score": "2 - weak", "reasoning": "vague"},
                           "tool_use": {"score": 4}})
    _, rejects = run(tmp_path, [fenced, as_object, bare, labelled])
    assert [(r["record_id"], r["codes"]) for r in rejects] == [(3, ["judge.below_min"])]
    assert rejects[0]["reasons"][0].endswith("scored 2 < 3 (validation.judge): vague")


@pytest.mark.parametrize("answer,sentence", [
    (None, "the row has no 'quality' value (did the judge call fail?)"),
    ("I would rate this a four.", "judge column 'quality' is not a JSON object"),
    (json.dumps(["grounding", 4]), "judge column 'quality' is not a JSON object"),
    (json.dumps({"clarity": {"score": 5}, "tool_use": {"score": 5}}),
     "judge column 'quality' has no score for 'grounding' (it scored clarity, tool_use)"),
    (json.dumps({"grounding": {"score": "excellent"}, "tool_use": {"score": 5}}),
     "judge column 'quality' scored 'grounding' with no number"),
    (json.dumps({"grounding": {"score": True}, "tool_use": {"score": 5}}),
     "judge column 'quality' scored 'grounding' with no number"),
])
def test_an_unreadable_answer_is_its_own_reject(tmp_path: Path, answer: Any,
                                                  sentence: str) -> None:
    _, rejects = run(tmp_path, [answer])
    assert rejects[0]["codes"] == ["judge.unreadable"]
    assert rejects[0]["reasons"][0].startswith(sentence)


def test_without_rules_the_judge_checks_do_not_run(tmp_path: Path) -> None:
    report, rejects = run(tmp_path, [judged(1), None], rules=[])
    assert rejects == [] and report.judge_scores == {}
    assert report.checks["judge.below_min"].severity == "off"


# -- the shipped recipe ----------------------------------------------------------------------


def test_the_judge_column_is_off_by_default_and_the_build_is_the_one_without_it(
        project: Path) -> None:
    recipe = load_recipe("customer_support_tools")
    assert [c.name for c in recipe.llm_columns] == ["conversation"]
    assert recipe.validation.judge == []
    # The same recipe with neither the column nor the judge block: identical stage specs.
    raw = yaml.safe_load((project / "configs/customer_support_tools.yaml").read_text())
    raw["columns"] = [c for c in raw["columns"] if c["name"] != "quality"]
    del raw["validation"]
    (project / "configs/without_judge.yaml").write_text(yaml.safe_dump(raw))
    without = load_recipe("without_judge")
    ours, theirs = stage_specs(recipe), stage_specs(without)
    assert {k: digest(v) for k, v in ours.items()} == {k: digest(v) for k, v in theirs.items()}


def test_switched_on_the_column_is_asked_and_gates(project: Path) -> None:
    recipe = load_recipe("customer_support_tools", ["columns.3.enabled=true"])
    judge = next(c for c in recipe.llm_columns if c.name == "quality")
    assert isinstance(judge, LLMJudgeColumn)
    assert [s.name for s in judge.scores] == ["grounding", "clarity", "tool_use"]
    assert [(r.column, r.score, r.min) for r in recipe.validation.judge] == [
        ("quality", "grounding", 3), ("quality", "tool_use", 3)]
    assert "enabled" not in judge.model_dump()  # so the column's spec has no switch in it
    default = stage_specs(load_recipe("customer_support_tools"))
    assert digest(stage_specs(recipe)["generate"]) != digest(default["generate"])


@pytest.mark.parametrize("rule,key,message", [
    ({"column": "qualty", "score": "grounding", "min": 3}, "validation.judge[0].column",
     "'qualty' is no column of the recipe; llm_judge columns: quality"),
    ({"column": "conversation", "score": "grounding", "min": 3}, "validation.judge[0].column",
     "'conversation' is not an llm_judge column"),
    ({"column": "quality", "score": "groundedness", "min": 3}, "validation.judge[0].score",
     "'groundedness' is not a score of 'quality'; its scores: grounding, clarity, tool_use"),
])
def test_a_rule_on_no_judge_criterion_is_a_config_error(project: Path, rule: dict, key: str,
                                                        message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_recipe("customer_support_tools", [f"validation.judge=[{json.dumps(rule)}]"])
    assert err.value.key == key
    assert message in str(err.value)


def test_a_column_reading_a_switched_off_one_is_a_config_error(project: Path) -> None:
    path = project / "configs/customer_support_tools.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["columns"].append({"name": "summary", "type": "llm_text", "model_alias": "nvidia-text",
                           "prompt": "Summarise {{ quality }}"})
    (project / "configs/reads_judge.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"prompt of 'summary' reads \['quality'\], which is "
                                          r"switched off"):
        load_recipe("reads_judge")


# -- the simulator answers judge prompts -----------------------------------------------------


def _judge_answers(project: Path, records: range,
                   conversation: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The shipped judge column's real requests, answered by the simulator through the
    openai client (the `offline` provider's path)."""
    recipe = load_recipe("customer_support_tools", ["columns.3.enabled=true"])
    judge = next(c for c in recipe.llm_columns if c.name == "quality")
    app = create_app(SimulatorSettings(latency=0.0))  # (no content faults by default)

    async def ask_all() -> list[dict[str, Any]]:
        client = openai.AsyncOpenAI(
            base_url="http://offline/v1", api_key="x", max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)))
        out = []
        for i in records:
            judged = conversation or clean_row()  # as the model wrote it: tools and messages
            context = {**CONTEXT, "conversation": json.dumps(
                {"tools": judged["tools"], "messages": judged["messages"]})}
            body = build_request(recipe, judge, context, i)
            reply = await client.chat.completions.create(**body)
            out.append(json.loads(reply.choices[0].message.content))
        return out

    return asyncio.run(ask_all())


def test_the_simulator_scores_every_criterion_with_varied_plausible_scores(
        project: Path) -> None:
    answers = _judge_answers(project, range(60))
    assert all(list(a) == ["grounding", "clarity", "tool_use"] for a in answers)
    for name in ("grounding", "clarity", "tool_use"):
        scores = [a[name]["score"] for a in answers]
        assert set(scores) <= {1, 2, 3, 4, 5}
        assert len(set(scores)) >= 3  # varied
        assert 3.5 <= statistics.mean(scores) <= 4.7  # mostly good, some weak
        assert all(a[name]["reasoning"].strip() for a in answers)
    assert _judge_answers(project, range(3)) == answers[:3]  # the same request, the same answer


def test_preview_with_the_judge_on_reports_its_score_means(project: Path) -> None:
    result = CliRunner().invoke(__import__("sdgflow.cli", fromlist=["app"]).app, [
        "preview", "-c", "customer_support_tools", "num_records=4", "columns.3.enabled=true"])
    assert result.exit_code == 0, result.output
    assert "8 requests sent" in result.output  # the conversation and its judge, per record
    report = json.loads((project / "output/sdg/preview/customer_support_tool_sft"
                                   ".validation.json").read_text())
    assert set(report["judge_scores"]) == {"quality.grounding", "quality.clarity",
                                           "quality.tool_use"}
    assert all(s["count"] == report["records_in"] for s in report["judge_scores"].values())


def test_the_simulator_scores_low_what_visibly_misses_the_seed_facts(project: Path) -> None:
    row = clean_row()
    del row["messages"][4:6]  # no tool call, no result
    row["messages"][3]["content"] = "It's the order from last week."
    row["messages"][-1]["content"] = "Sorry for the wait, it should come soon."
    answers = _judge_answers(project, range(30), row)
    for name, missed in (("grounding", "never mentions the order ORD-10492"),
                         ("tool_use", "makes no tool call")):
        assert {a[name]["score"] for a in answers} <= {1, 2}
        assert all(missed in a[name]["reasoning"] for a in answers)
    assert "does not reflect the policy hint" in answers[0]["grounding"]["reasoning"]
    assert max(a["clarity"]["score"] for a in answers) >= 4  # no signal: the usual spread
