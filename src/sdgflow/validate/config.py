"""Recipe model of the `validation:` block: which checks run, how severe, and their knobs."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdgflow.validate.codes import DEFAULT_SEVERITY, Severity

# Reasoning markup that must never reach a training row: think / reasoning tags, gpt-oss
# harmony's control tokens, and the harmony channels rendered without their tokens
# ("analysisThe user wants ...", "...assistantfinal"). Python regexes, searched in every
# message's content with re.MULTILINE; a flag must be scoped, e.g. `(?i:analysis:)`.
DEFAULT_REASONING_PATTERNS: list[str] = [
    r"</?think>",
    r"</?reasoning>",
    r"<\|(?:channel|message|start|end|return|call|constrain)\|>",
    r"^\s*analysis(?=[A-Z])",
    r"assistantfinal",
    r"^\s*(?i:analysis|reasoning|thinking|thought process|chain of thought)\s*:",
]


def reasoning_regex(patterns: list[str]) -> re.Pattern[str]:
    """One alternation of every pattern (compiled once per recipe by the check)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)


class NearDuplicateConfig(BaseModel):
    """dedupe.near_duplicate: MinHash / LSH over word shingles of the user and assistant text."""

    model_config = ConfigDict(extra="forbid")

    # Estimated Jaccard similarity of two conversations' shingle sets that counts as "nearly
    # the same": small edits (names, numbers, one reworded sentence) stay above 0.8.
    threshold: float = Field(default=0.8, gt=0.0, lt=1.0)
    num_perm: int = Field(default=128, ge=16, le=1024, multiple_of=8)
    shingle_words: int = Field(default=3, ge=1, le=10)


class JudgeRule(BaseModel):
    """judge.below_min: rows whose `column` (an llm_judge column) scored `score` under `min`
    are rejects, with the judge's reasoning as the sentence."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: str
    score: str
    min: float


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Check code -> severity, overriding the defaults (`sdgflow.validate.codes`; see docs or
    # `validation.json` for the list).
    checks: dict[str, Severity] = {}
    # Message count bounds (from the reference prompt: "6 to 10 messages").
    min_messages: int | None = Field(default=6, ge=1)
    max_messages: int | None = Field(default=10, ge=1)
    # Exact counts; null = no constraint.
    tool_call_turns: int | None = Field(default=1, ge=0)
    tool_messages: int | None = Field(default=1, ge=0)
    max_tool_calls_per_turn: int | None = Field(default=1, ge=1)
    require_clarifying_question: bool = True
    # Context field whose text the final answer must reflect; null disables the policy check.
    grounding_policy_field: str | None = "policy_hint"
    # Tool argument name -> record field whose value the argument must equal.
    seed_fidelity: dict[str, str] = {"order_id": "order_id"}
    plain_text: bool = True
    min_pass_rate: float = Field(default=0.8, ge=0.0, le=1.0)
    dedupe: bool = True
    # Keys below came after recipes existed: `spec_dump` leaves them out of the validate
    # stage's spec at their defaults, so a recipe that does not set them keeps its hash.
    # content.leaked_reasoning: what counts as reasoning markup in a message's content.
    reasoning_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REASONING_PATTERNS))
    near_duplicate: NearDuplicateConfig = NearDuplicateConfig()
    # Judge gates, checked against the recipe's llm_judge columns when it loads; a rule on a
    # judge column that is switched off (`enabled: false`) is dropped with it.
    judge: list[JudgeRule] = []

    @field_validator("reasoning_patterns")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for i, pattern in enumerate(value):
            try:
                reasoning_regex([pattern])
            except re.error as exc:
                raise ValueError(
                    f"reasoning_patterns[{i}] {pattern!r} is not a Python regular expression "
                    f"({exc}); a flag must be scoped to its group, e.g. (?i:analysis:)"
                ) from None
        return value

    @field_validator("checks")
    @classmethod
    def _known_codes(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        unknown = sorted(set(value) - set(DEFAULT_SEVERITY))
        if unknown:
            raise ValueError(
                f"unknown check code(s) {', '.join(unknown)}; valid codes: "
                f"{', '.join(DEFAULT_SEVERITY)}"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> ValidationConfig:
        if (self.min_messages is not None and self.max_messages is not None
                and self.min_messages > self.max_messages):
            raise ValueError(
                f"min_messages ({self.min_messages}) is greater than max_messages "
                f"({self.max_messages})"
            )
        return self

    def severity(self, code: str) -> Severity:
        return self.checks.get(code, DEFAULT_SEVERITY[code])

    def spec_dump(self) -> dict[str, Any]:
        """What the validate stage's spec holds: every key, but those added after recipes
        existed only when set to something else than their default."""
        dumped = self.model_dump()
        defaults = type(self)().model_dump()
        for key in LATER_KEYS:
            if dumped[key] == defaults[key]:
                del dumped[key]
        return dumped


LATER_KEYS = ("reasoning_patterns", "near_duplicate", "judge")


def judge_rule_problems(rules: list[JudgeRule], judges: dict[str, list[str]],
                        other_columns: set[str]) -> list[tuple[int, str, str]]:
    """(rule index, key, problem) of every rule that names no llm_judge column of the recipe
    (`judges`: column -> its score names) or no score of it."""
    problems = []
    for i, rule in enumerate(rules):
        if rule.column not in judges:
            what = ("is not an llm_judge column" if rule.column in other_columns
                    else "is no column of the recipe")
            problems.append((i, "column", f"{rule.column!r} {what}; llm_judge columns: "
                             f"{', '.join(judges) or 'none'}"))
        elif rule.score not in judges[rule.column]:
            problems.append((i, "score", f"{rule.score!r} is not a score of {rule.column!r}; "
                             f"its scores: {', '.join(judges[rule.column])}"))
    return problems
