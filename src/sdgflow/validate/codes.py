"""The validation check codes and their default severities: what a recipe's
`validation.checks` may name, and what it overrides.

Plain data, shared by the recipe model (`config.py`, which rejects an unknown code and resolves
a code's severity) and the checks themselves (`checks.py`, which registers one function per code
here, in this order, the order they run). So config.py never imports checks.py (which names
config's types, for type checking only), and loading a recipe does not import the checks.
"""

from __future__ import annotations

from typing import Literal

Severity = Literal["error", "warn", "off"]

DEFAULT_SEVERITY: dict[str, Literal["error", "warn"]] = {
    "messages.missing": "error",
    "messages.role_invalid": "error",
    "messages.system_first": "error",
    "messages.count": "error",
    "messages.content_invalid": "error",
    "tools.missing": "error",
    "tools.invalid": "error",
    "format.arguments_type": "error",
    "format.tool_content_type": "error",
    "tool_calls.malformed": "error",
    "tool_calls.turn_count": "error",
    "tool_messages.count": "error",
    "tool_calls.per_turn": "error",
    "tool_calls.duplicate_id": "error",
    "tool_calls.unanswered": "error",
    "tool_messages.orphan": "error",
    "tool_messages.name_mismatch": "error",
    "tool_calls.unknown_function": "error",
    "tool_calls.arguments_invalid": "error",
    "tool_calls.arguments_schema": "error",
    "seed.mismatch": "error",
    "dialogue.no_clarifying_question": "error",
    "final.not_assistant": "error",
    "final.ungrounded_tool": "error",
    "final.ungrounded_policy": "error",
    "content.markdown": "error",
    "content.leaked_reasoning": "error",
    "dedupe.duplicate": "error",
    "dedupe.near_duplicate": "warn",
    "judge.unreadable": "error",
    "judge.below_min": "error",
}
