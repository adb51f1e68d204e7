"""Recipe model of the `validation:` block: which checks run, how severe, and their knobs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdgflow.validate.codes import DEFAULT_SEVERITY, Severity


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
