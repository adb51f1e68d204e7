"""content.leaked_reasoning: reasoning markup in any message is a reject with its own code;
ordinary words that look like it are not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, FINAL, clean_row

from sdgflow.validate.checks import Conversation, leaked_reasoning
from sdgflow.validate.config import ValidationConfig


def problems(row: dict, **overrides) -> list[str]:
    return leaked_reasoning(Conversation(row, CONTEXT, 0, ValidationConfig(**overrides), None))


@pytest.mark.parametrize("final", [
    "I think your order ORD-10492 arrives tomorrow. " + FINAL,
    "Our analysis of the tracking shows a delay. " + FINAL,
    "Analysis shows the parcel left the depot. " + FINAL,  # a word, not the harmony channel
    "My reasoning: the estimate passed, so " + FINAL,  # not at the start of a line
    "We think of <thinking> as a tag name only in code. " + FINAL,
    "Use the channel you prefer (|channel| is not a token). " + FINAL,
])
def test_ordinary_words_pass(final: str) -> None:
    row = clean_row()
    row["messages"][6]["content"] = final
    assert problems(row) == []


def test_each_message_with_markup_is_named() -> None:
    row = clean_row()
    row["messages"][1]["content"] = "</think>Hi, my headphones still haven't shown up."
    row["messages"][6]["content"] = "<think>cite eta</think>" + FINAL
    found = problems(row)
    assert len(found) == 2
    assert found[0].startswith("messages[1] (user) carries reasoning markup '</think>'")
    assert found[1].startswith("messages[6] (assistant) carries reasoning markup '<think>'")


def test_tool_result_text_is_checked_too() -> None:
    row = clean_row()
    row["messages"][5]["content"] = '{"status":"delayed","note":"<reasoning>x</reasoning>"}'
    assert problems(row) == ["messages[5] (tool) carries reasoning markup '<reasoning>' "
                             "(validation.reasoning_patterns)"]


def test_patterns_are_configurable() -> None:
    row = clean_row()
    row["messages"][6]["content"] = "[[scratchpad]] " + FINAL
    assert problems(row) == []
    assert len(problems(row, reasoning_patterns=[r"\[\[scratchpad\]\]"])) == 1
    row["messages"][6]["content"] = "<think>x</think>" + FINAL
    assert problems(row, reasoning_patterns=[r"\[\[scratchpad\]\]"]) == []


def test_an_empty_pattern_list_switches_the_check_off() -> None:
    from sdgflow.validate.checks import active_checks
    codes = {c.code for c, _ in active_checks(ValidationConfig(reasoning_patterns=[]), None)}
    assert "content.leaked_reasoning" not in codes
    assert "content.leaked_reasoning" in {c.code for c, _ in active_checks(ValidationConfig(),
                                                                           None)}


def test_a_bad_pattern_names_the_key_and_the_fix() -> None:
    with pytest.raises(ValidationError) as err:
        ValidationConfig(reasoning_patterns=["<think>", "(unclosed"])
    text = str(err.value)
    assert "reasoning_patterns[1] '(unclosed' is not a Python regular expression" in text
    with pytest.raises(ValidationError, match=r"scoped to its group, e\.g\. \(\?i:analysis:\)"):
        ValidationConfig(reasoning_patterns=["x", "(?i)analysis:"])


def test_the_new_key_stays_out_of_the_stage_spec_at_its_default() -> None:
    assert "reasoning_patterns" not in ValidationConfig().spec_dump()
    assert ValidationConfig(reasoning_patterns=["x"]).spec_dump()["reasoning_patterns"] == ["x"]
