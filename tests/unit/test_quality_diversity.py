"""Diversity and coverage figures of the valid rows, and the plain sentences that say when the
data collapsed; counted on hand-written rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sdgflow.project.config import StructuredMessagesProjection
from sdgflow.quality import diversity
from sdgflow.quality.diversity import DiversityTally
from sdgflow.validate.config import ValidationConfig
from sdgflow.validate.run import validate_file

TOOLS = ["lookup_order", "check_refund_eligibility", "verify_warranty", "update_address",
         "get_subscription_status"]


def conversation(user: str, final: str, tool: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": tool,
                                                                "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{}"},
            {"role": "assistant", "content": final},
        ],
        "tools": [{"type": "function", "function": {"name": t, "parameters": {}}}
                  for t in TOOLS],
    }


def tally(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> diversity.DiversityReport:
    t = DiversityTally(["issue"])
    for row, context in rows:
        messages = row["messages"]
        t.observe(messages, [m["role"] for m in messages], [m.get("content") for m in messages],
                  [c["function"]["name"] for m in messages for c in m.get("tool_calls") or []],
                  row["tools"], context)
    return t.report()


def test_tools_messages_words_and_fields_are_counted() -> None:
    report = tally([
        (conversation("my parcel is late", "It arrives Friday.", "lookup_order"),
         {"issue": "late"}),
        (conversation("refund please", "Your refund of 20 is on its way.",
                      "check_refund_eligibility"), {"issue": "refund"}),
    ])
    assert report.rows == 2
    assert report.tools_called == {"lookup_order": 1, "check_refund_eligibility": 1}
    assert report.tools_offered == {t: 2 for t in TOOLS}
    assert report.messages_per_row == {"5": 2}
    # words of every content: 5 + 4 + 3 (+ "" + "{}") = 13; 6 + 2 + 8 + 1 = 17 ... by hand:
    # "You are a support agent." 5, "my parcel is late" 4, "" 0, "{}" 1, "It arrives Friday." 3
    # = 13; second: 5 + 2 + 0 + 1 + 8 = 16
    assert report.words_per_row == {"mean": 14.5, "p50": 13.0, "p90": 16.0, "max": 16.0}
    assert report.fields["issue"].top == {"late": 1, "refund": 1}
    assert report.fields["issue"].distinct == 2
    assert report.collapse == []


def test_distinct_n_of_first_user_turns_and_final_answers() -> None:
    report = tally([
        (conversation("where is my order", "It ships today.", "lookup_order"), {}),
        (conversation("where is my refund", "It ships today.", "lookup_order"), {}),
    ])
    # first user turns: 8 words, distinct where is my order refund = 5; bigrams 6, distinct
    # (where is)(is my)(my order)(my refund) = 4
    assert (report.first_user_turn.distinct_1, report.first_user_turn.distinct_2) == (
        round(5 / 8, 4), round(4 / 6, 4))
    # final answers: the same three words twice
    assert (report.final_answer.distinct_1, report.final_answer.distinct_2) == (0.5, 0.5)
    assert report.final_openings.top == {"it ships today": 2}
    assert report.final_openings.top_share == 1.0


def test_collapse_is_said_in_plain_sentences() -> None:
    rows = []
    for i in range(30):
        tool = "lookup_order" if i < 20 else TOOLS[1 + i % 4]
        final = (f"Thanks for your patience, customer {i}. Order {i} arrives on day {i}."
                 if i < 9 else f"Order {i} is handled: reply {i * 7} confirms it on day {i}.")
        rows.append((conversation(f"help with order {i} please, item {i * 3}", final, tool),
                     {"issue": "late" if i < 20 else f"other {i}"}))
    report = tally(rows)
    assert report.collapse == [
        "One tool, lookup_order, takes 67% of the 30 calls while the rows offer 5 tools: the "
        "seeds or the prompt may steer every conversation to it.",
        "30% of final answers open the same way (\u201cthanks for your \u2026\u201d): the "
        "answers may follow one template.",
        "67% of rows share one issue ('late') among 11 values: the seeds' spread did not "
        "survive.",
    ]


def test_repetitive_turns_are_said_too() -> None:
    rows = [(conversation("my order is late", "I am sorry, it arrives tomorrow.",
                          TOOLS[i % 5]), {}) for i in range(25)]
    sentences = tally(rows).collapse
    assert any(s.startswith("The first user turns repeat themselves: distinct-2 is 0.04 "
                            "over 25 rows") for s in sentences)
    assert any(s.startswith("The final answers repeat themselves") for s in sentences)
    assert any(s.startswith("100% of final answers open the same way") for s in sentences)


def test_counters_stay_bounded(monkeypatch) -> None:
    monkeypatch.setattr(diversity, "MAX_VALUES", 5)
    monkeypatch.setattr(diversity, "MAX_OPENINGS", 10)
    monkeypatch.setattr(diversity, "SAMPLE_ROWS", 4)
    rows = [(conversation(f"question {i}", f"Answer number {i} is here.", "lookup_order"),
             {"issue": f"issue {i % 20}"}) for i in range(60)]
    rows += [(conversation("q", "Same opening words always.", "lookup_order"), {})] * 3
    report = tally(rows)
    assert report.fields["issue"].distinct == 5  # only the first five values are told apart
    assert report.final_openings.top == {"same opening words": 3} | {
        k: v for k, v in report.final_openings.top.items() if k != "same opening words"}
    assert report.first_user_turn.rows == 4


def test_validation_json_carries_the_figures_for_valid_rows_only(tmp_path: Path) -> None:
    good = conversation("my parcel is late", "It arrives Friday.", "lookup_order")
    bad = conversation("refund please", "Your refund is on its way.", "no_such_tool")
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({**r, "_sdg": {"record_id": i, "context": {}}}) + "\n"
                           for i, r in enumerate([good, bad])))
    off = {c: "off" for c in ("messages.count", "dialogue.no_clarifying_question",
                              "final.ungrounded_policy", "final.ungrounded_tool",
                              "tool_calls.arguments_schema", "tools.invalid")}
    validate_file(src, ValidationConfig(min_pass_rate=0, checks=off),
                  StructuredMessagesProjection(type="structured_messages",
                                               source_field="conversation"),
                  tmp_path / "v.jsonl", tmp_path / "r.jsonl", tmp_path / "v.json")
    written = json.loads((tmp_path / "v.json").read_text())["diversity"]
    assert written["rows"] == 1
    assert written["tools_called"] == {"lookup_order": 1}
