"""Validation: one hand-written defect per code must fail exactly its codes; clean rows pass."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, DEFECTS, FINAL, REFUND, Defect, clean_row

from sdgflow.project.config import OpenAIMessagesProjection, StructuredMessagesProjection
from sdgflow.validate.checks import CHECKS, active_checks
from sdgflow.validate.codes import DEFAULT_SEVERITY
from sdgflow.validate.config import ValidationConfig
from sdgflow.validate.run import SDG_INVALID, GateFailed, validate_file

STRUCTURED = StructuredMessagesProjection(
    type="structured_messages", source_field="conversation",
    metadata_fields=["customer_name", "order_id"])


def projected_line(row: dict[str, Any], record_id: int, context: dict[str, Any] | None = None,
                   sdg: dict[str, Any] | None = None) -> str:
    return json.dumps({**row, "_sdg": {"record_id": record_id,
                                       "context": context if context is not None else CONTEXT,
                                       "repairs": [], **(sdg or {})}})


def run(tmp_path: Path, rows: list[dict[str, Any]], projection: Any = STRUCTURED,
        contexts: list[dict[str, Any]] | None = None, sdg: dict[str, Any] | None = None,
        **overrides: Any):
    src = tmp_path / "projected.jsonl"
    src.write_text("".join(projected_line(r, i, contexts[i] if contexts else None, sdg) + "\n"
                           for i, r in enumerate(rows)))
    cfg = ValidationConfig(min_pass_rate=0.0, **overrides)
    report = validate_file(src, cfg, projection, tmp_path / "valid.jsonl",
                           tmp_path / "rejects.jsonl", tmp_path / "validation.json")
    valid = [json.loads(x) for x in (tmp_path / "valid.jsonl").read_text().splitlines()]
    rejects = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    return report, valid, rejects


def test_every_code_has_a_defect() -> None:
    # (codes that compare rows with each other, or need judge rules, have their own tests: the
    # duplicate tests below, test_quality_near_dup.py, test_validate_judge.py)
    covered = set().union(*(d.codes for d in DEFECTS)) | {
        "dedupe.duplicate", "dedupe.near_duplicate", "judge.unreadable", "judge.below_min"}
    assert covered == set(CHECKS) | {SDG_INVALID}


def test_clean_row_passes_every_check(tmp_path: Path) -> None:
    report, valid, rejects = run(tmp_path, [clean_row()])
    assert rejects == []
    assert valid == [clean_row()]  # `_sdg` stripped, everything else byte-for-byte the same
    assert report.valid == 1 and report.warned == 0 and report.pass_rate == 1.0


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_defect_fails_exactly_its_codes(tmp_path: Path, defect: Defect) -> None:
    row = clean_row()
    defect.mutate(row)
    report, valid, rejects = run(tmp_path, [row], sdg=defect.sdg, **defect.overrides)
    assert valid == []
    assert len(rejects) == 1
    assert set(rejects[0]["codes"]) == defect.codes, rejects[0]["reasons"]
    assert rejects[0]["stage"] == "validate" and rejects[0]["record_id"] == 0
    assert len(rejects[0]["reasons"]) == len(rejects[0]["codes"])
    assert all(reason and len(reason) > 20 for reason in rejects[0]["reasons"])
    for code in defect.codes:
        assert report.checks[code].failed == 1
        assert report.examples[code][0].record_id == 0


def test_reasons_name_the_concrete_problem(tmp_path: Path) -> None:
    row = clean_row()
    row["messages"][5]["tool_call_id"] = "call_999"
    _, _, rejects = run(tmp_path, [row])
    reasons = " ".join(rejects[0]["reasons"])
    assert "messages[4].tool_calls[0].id 'call_001' has no tool message answering it" in reasons
    assert "tool_call_id 'call_999'" in reasons


def test_duplicate_flags_the_second_with_the_first_record_id(tmp_path: Path) -> None:
    twin = clean_row()
    twin["messages"][1]["content"] = "  HI, my headphones   still haven't shown up. What's going on"
    report, valid, rejects = run(tmp_path, [clean_row(), twin, clean_row()])
    assert len(valid) == 1
    assert [r["codes"] for r in rejects] == [["dedupe.duplicate"], ["dedupe.duplicate"]]
    assert "duplicates record 0" in rejects[0]["reasons"][0]
    assert report.duplicates == 2


def test_dedupe_off_keeps_duplicates(tmp_path: Path) -> None:
    _, valid, _ = run(tmp_path, [clean_row(), clean_row()], dedupe=False)
    assert len(valid) == 2


def _parallel_row() -> dict[str, Any]:
    row = clean_row()
    row["tools"].append(copy.deepcopy(REFUND))
    row["messages"][4]["tool_calls"].append({"id": "call_002", "type": "function", "function": {
        "name": "check_refund_eligibility",
        "arguments": "{\"order_id\":\"ORD-10492\",\"reason\":\"late delivery\"}"}})
    row["messages"].insert(6, {"role": "tool", "tool_call_id": "call_002",
                               "name": "check_refund_eligibility",
                               "content": "{\"eligible\":true,\"refund_amount\":49.99}"})
    row["messages"][-1]["content"] = (
        "Your order is delayed until tomorrow, and you are eligible for a $49.99 refund. Orders "
        "delayed more than 2 business days qualify for free expedited reshipping too.")
    return row


def test_parallel_calls_pass_when_the_recipe_allows_two(tmp_path: Path) -> None:
    _report, valid, rejects = run(tmp_path, [_parallel_row()], max_tool_calls_per_turn=2,
                                 tool_messages=2)
    assert rejects == [] and len(valid) == 1


def test_parallel_answers_may_come_in_any_order(tmp_path: Path) -> None:
    row = _parallel_row()
    row["messages"][5], row["messages"][6] = row["messages"][6], row["messages"][5]
    _, valid, rejects = run(tmp_path, [row], max_tool_calls_per_turn=2, tool_messages=2)
    assert rejects == [] and len(valid) == 1


@pytest.mark.parametrize("final", [
    "Good news: the refund of $49.99 is approved. Orders delayed more than 2 business days "
    "qualify for free expedited reshipping.",
    "Good news: the refund of 49.99 USD is approved and free expedited reshipping applies since "
    "it is late.",
])
def test_grounding_accepts_numbers_in_any_format(tmp_path: Path, final: str) -> None:
    row = clean_row()
    row["messages"][5]["content"] = "{\"status\":\"refund_approved\",\"amount\":49.99}"
    row["messages"][-1]["content"] = final
    _, _valid, rejects = run(tmp_path, [row])
    assert rejects == [], rejects and rejects[0]["reasons"]


def test_grounding_ignores_values_echoed_from_the_arguments(tmp_path: Path) -> None:
    row = clean_row()
    row["messages"][5]["content"] = "{\"order_id\":\"ORD-10492\",\"status\":\"in_transit\"}"
    row["messages"][-1]["content"] = ("Order ORD-10492 is on file. Orders delayed more than 2 "
                                      "business days qualify for free expedited reshipping.")
    _, _, rejects = run(tmp_path, [row])
    assert rejects[0]["codes"] == ["final.ungrounded_tool"]
    assert "'in_transit'" in rejects[0]["reasons"][0]
    row["messages"][-1]["content"] = "It is in transit. " + row["messages"][-1]["content"]
    _, valid, _ = run(tmp_path, [row])
    assert len(valid) == 1


def test_warn_severity_keeps_the_row_and_counts_it(tmp_path: Path) -> None:
    row = clean_row()
    row["messages"][-1]["content"] = "**Update:** " + FINAL
    report, valid, rejects = run(tmp_path, [row], checks={"content.markdown": "warn"})
    assert rejects == [] and len(valid) == 1
    assert report.warned == 1 and report.checks["content.markdown"].failed == 1
    assert report.checks["content.markdown"].severity == "warn"


def test_off_severity_and_knobs_disable_checks() -> None:
    cfg = ValidationConfig(checks={"seed.mismatch": "off"}, plain_text=False,
                           require_clarifying_question=False, grounding_policy_field=None)
    codes = {c.code for c, _ in active_checks(cfg, STRUCTURED)}
    assert not codes & {"seed.mismatch", "content.markdown", "dialogue.no_clarifying_question",
                        "final.ungrounded_policy"}


def test_unknown_check_code_is_rejected_with_the_valid_codes() -> None:
    with pytest.raises(ValidationError) as info:
        ValidationConfig(checks={"tool_calls.unknwon": "warn"})
    assert "tool_calls.unknwon" in str(info.value) and "tool_calls.unanswered" in str(info.value)
    with pytest.raises(ValidationError):
        ValidationConfig(surprise=1)
    with pytest.raises(ValidationError):
        ValidationConfig(min_messages=8, max_messages=4)


def test_openai_messages_projection_skips_tool_checks(tmp_path: Path) -> None:
    projection = OpenAIMessagesProjection(type="openai_messages", user_field="user_query",
                                          assistant_field="assistant_response",
                                          system_prompt="You are a helpful assistant.")
    row = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": "How do I repot a fern?"},
                        {"role": "assistant", "content": "Pick a pot one size up and water it."}],
           "topic": "gardening"}
    codes = {c.code for c, _ in active_checks(ValidationConfig(), projection)}
    assert not any(c.startswith(("tool", "format.", "seed.", "dialogue.")) for c in codes)
    _report, valid, rejects = run(tmp_path, [row], projection=projection,
                                 contexts=[{"topic": "gardening"}], min_messages=2,
                                 max_messages=3)
    assert rejects == [] and valid == [row]
    bad = copy.deepcopy(row)
    bad["messages"][2]["content"] = "## Steps\n1. Pick a pot"
    _, _, rejects = run(tmp_path, [bad], projection=projection, contexts=[{}])
    assert rejects[0]["codes"] == ["content.markdown"]


def test_plain_final_format_jsonl_uses_row_metadata_as_context(tmp_path: Path) -> None:
    src = tmp_path / "final.jsonl"
    good = {**clean_row(), "policy_hint": CONTEXT["policy_hint"]}
    bad = copy.deepcopy(good)
    bad["messages"][4]["tool_calls"][0]["function"]["arguments"] = "{\"order_id\":\"ORD-1\"}"
    src.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\nnot json\n")
    report = validate_file(src, ValidationConfig(min_pass_rate=0.0), STRUCTURED,
                           tmp_path / "v.jsonl", tmp_path / "r.jsonl", tmp_path / "rep.json")
    rejects = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    # (its text is the good row's, only the call differs: a near-duplicate too, a warning)
    assert [r["codes"] for r in rejects] == [["seed.mismatch", "dedupe.near_duplicate"],
                                             ["row.unparseable"]]
    assert [r["record_id"] for r in rejects] == [1, 2]
    assert report.valid == 1 and report.records_in == 3


def test_report_counts_projection_rejects_and_gate_fails_after_writing(tmp_path: Path) -> None:
    src = tmp_path / "projected.jsonl"
    bad = clean_row()
    bad["messages"][-1]["content"] = "We'll sort it out."
    src.write_text("".join(projected_line(r, i) + "\n"
                           for i, r in enumerate([clean_row(), bad, bad, bad])))
    prej = tmp_path / "projection_rejects.jsonl"
    prej.write_text(json.dumps({"record_id": 4, "stage": "project", "codes": ["parse.truncated"],
                                "reasons": ["cut off"], "row": None, "raw": "{\"mess"}) + "\n")
    with pytest.raises(GateFailed) as info:
        validate_file(src, ValidationConfig(), STRUCTURED, tmp_path / "v.jsonl",
                      tmp_path / "r.jsonl", tmp_path / "validation.json", prej)
    message = str(info.value)
    assert "20.0%" in message and "min_pass_rate=0.8" in message
    assert "validation.min_pass_rate" in message
    assert "final.ungrounded_tool (3)" in message and "parse.truncated (1)" in message
    report = json.loads((tmp_path / "validation.json").read_text())
    assert report["gate_passed"] is False and report["pass_rate"] == 0.2
    assert report["projection_rejects"] == 1 and report["records_in"] == 4
    assert report["checks"]["parse.truncated"] == {
        "failed": 1, "severity": "error", "stage": "project",
        "description": report["checks"]["parse.truncated"]["description"]}
    assert len(report["examples"]["final.ungrounded_tool"]) == 3
    # The rejects file carries both stages' rejects: three from validation, one from projection.
    stages = [json.loads(line)["stage"] for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert sorted(stages) == ["project", "validate", "validate", "validate"]
    assert len((tmp_path / "v.jsonl").read_text().splitlines()) == 1


def test_every_check_has_a_description_and_default() -> None:
    for code, entry in CHECKS.items():
        assert entry.code == code and entry.description and entry.default in ("error", "warn")


def test_the_recipe_knows_every_check_code_in_run_order_without_importing_the_checks() -> None:
    # A code the recipe accepts has a check, and the valid codes are listed in the order they run.
    assert list(DEFAULT_SEVERITY) == list(CHECKS)
    probe = ("import sys\n"
             "from sdgflow.validate.config import ValidationConfig\n"
             "cfg = ValidationConfig(checks={'content.markdown': 'warn'})\n"
             "print(cfg.severity('content.markdown'), cfg.severity('seed.mismatch'),\n"
             "      'sdgflow.validate.checks' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["warn", "error", "False"]


def _strings(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {**row, **{k: json.dumps(row[k], separators=(",", ":")) for k in keys}}


@pytest.mark.parametrize("keys", [("tools",), ("tools", "messages")])
def test_json_string_layout_is_checked_as_the_lists_and_written_as_read(
        tmp_path: Path, keys: tuple[str, ...]) -> None:
    projection = STRUCTURED.model_copy(update={f"{k}_format": "json_string" for k in keys})
    bad_name = clean_row()
    bad_name["tools"][0]["function"]["name"] = "look up order"
    unknown = clean_row()
    unknown["messages"][4]["tool_calls"][0]["function"]["name"] = "cancel_order"
    rows = [_strings(r, *keys) for r in (clean_row(), bad_name, unknown)]
    _, valid, rejects = run(tmp_path, rows, projection, dedupe=False)
    assert valid == [rows[0]]  # the strings kept as they were written
    assert [r["codes"] for r in rejects] == [
        ["tools.invalid", "tool_calls.unknown_function"],
        ["tool_messages.name_mismatch", "tool_calls.unknown_function"]]
    assert rejects[0]["row"] == rows[1]


def test_json_string_layout_names_a_key_that_is_not_its_json_string(tmp_path: Path) -> None:
    projection = STRUCTURED.model_copy(update={"tools_format": "json_string",
                                               "messages_format": "json_string"})
    tools_list = _strings(clean_row(), "messages")
    broken = {**_strings(clean_row(), "messages"), "tools": '[{"type":"function",'}
    messages_list = _strings(clean_row(), "tools")
    _, valid, rejects = run(tmp_path, [tools_list, broken, messages_list], projection)
    assert valid == []
    assert [r["codes"] for r in rejects] == [["tools.missing"], ["tools.missing"],
                                             ["messages.missing"]]
    assert rejects[0]["reasons"] == ["tools is a list, not a JSON string "
                                     "(output_projection.tools_format is json_string)"]
    assert rejects[1]["reasons"][0].startswith("tools is a string that is not JSON text")
    assert rejects[2]["reasons"] == ["messages is a list, not a JSON string "
                                     "(output_projection.messages_format is json_string)"]
