"""What the report shows, as plain data: `collect` fills it, `html` renders it.

Keeping the numbers separate from the markup lets the unit tests assert counts without parsing
HTML, and lets the CLI reuse the figures if it ever wants a text summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelUsage:
    """Token use and cost of one (LLM column's model alias, model id, provider)."""

    alias: str
    model: str
    provider: str
    answers: int = 0
    requests: int = 0  # HTTP attempts, retries included
    from_store: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Tokens of answers requested in this run (not re-used from the store): what this run paid.
    fresh_prompt_tokens: int = 0
    fresh_completion_tokens: int = 0
    cost: float | None = None
    fresh_cost: float | None = None


@dataclass
class GenerationStats:
    shards: int = 0
    records: int = 0  # rows in the generation shards
    failed_records: int = 0  # rows where any LLM column failed after retries
    offline_records: int = 0
    requests: int = 0
    from_store: int = 0
    answers: int = 0
    latency_sum_s: float = 0.0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    wall_s: float | None = None
    models: list[ModelUsage] = field(default_factory=list)
    finish_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return sum(m.prompt_tokens + m.completion_tokens for m in self.models)

    @property
    def cost(self) -> float | None:
        costs = [m.cost for m in self.models if m.cost is not None]
        return sum(costs) if costs else None


@dataclass
class CheckRate:
    code: str
    stage: str
    severity: str
    failed: int
    checked: int  # rows the check ran on (projection codes also see projection rejects)
    description: str

    @property
    def pass_rate(self) -> float:
        return 1.0 - self.failed / self.checked if self.checked else 1.0


@dataclass
class RejectReason:
    """One failure code with its count and the first example found."""

    code: str
    stage: str
    severity: str
    count: int
    description: str
    record_id: Any = None
    reason: str = ""
    snippet: str = ""  # raw answer or the offending row, shortened


@dataclass
class ValidationStats:
    present: bool = False
    records_in: int = 0
    projection_rejects: int = 0
    valid: int = 0
    rejected: int = 0
    warned: int = 0
    duplicates: int = 0
    pass_rate: float = 0.0
    min_pass_rate: float = 0.0
    gate_passed: bool = True
    checks: list[CheckRate] = field(default_factory=list)
    repairs: dict[str, int] = field(default_factory=dict)


@dataclass
class DatasetStats:
    """Streamed over the valid JSONL: counters only, plus the sampled conversations."""

    rows: int = 0
    messages_per_row: dict[int, int] = field(default_factory=dict)
    tool_calls: dict[str, int] = field(default_factory=dict)
    tools_offered: dict[str, int] = field(default_factory=dict)
    calls_per_row: dict[int, int] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    categories: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CategoryDist:
    name: str
    values: list[str]
    generated: dict[str, int]
    valid: dict[str, int]


@dataclass
class ReportData:
    recipe_name: str
    output_path: str
    asked: int
    generation: GenerationStats
    validation: ValidationStats
    dataset: DatasetStats
    categories: list[CategoryDist]
    rejects: list[RejectReason]
    packing: dict[str, Any] | None  # packing.json as written by the pack stage
    metadata_fields: list[str]
    created: str
    # validation.json's `diversity` and `judge_scores` (absent in files from older builds)
    diversity: dict[str, Any] | None = None
    judge_scores: dict[str, Any] = field(default_factory=dict)
    # This build against the previous one of the recipe (sdgflow.quality.compare), or None
    comparison: Any = None

    @property
    def rejected_total(self) -> int:
        return self.validation.rejected + self.validation.projection_rejects

    @property
    def offline(self) -> bool:
        return self.generation.offline_records > 0
