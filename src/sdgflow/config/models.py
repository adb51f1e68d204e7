"""Pydantic models of a recipe: the boundary where YAML becomes typed data.

Every model forbids unknown keys so a typo fails where it is written, and the column union is
discriminated on `type` so an unknown column type names the valid ones.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdgflow.pack.config import PackingConfig
from sdgflow.project.config import OutputProjection
from sdgflow.simulator.settings import SimulatorSettings
from sdgflow.validate.config import ValidationConfig


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A value that looks like a credential rather than an environment variable name.
_SECRET_SHAPE = re.compile(r"^(sk-|nvapi-|hf_|ghp_|xox[bp]-|AKIA)|[a-z].*[0-9].*|.{40,}")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Provider(Strict):
    name: str
    endpoint: str
    provider_type: Literal["openai"] = "openai"
    # The NAME of the environment variable holding the key, resolved at request time only.
    api_key: str | None = None

    @field_validator("api_key")
    @classmethod
    def _env_var_name(cls, value: str | None) -> str | None:
        if value is None or _ENV_NAME.match(value):
            return value
        hint = "it looks like a literal key" if _SECRET_SHAPE.search(value) else "it is not one"
        raise ValueError(
            f"api_key must be the NAME of an environment variable (e.g. OPENAI_API_KEY), {hint}. "
            "Put the key in the environment and write its variable name here, so the secret never "
            "lands in the resolved config, logs or outputs."
        )


class InferenceParameters(Strict):
    # Identity parameters: they change what the model answers, so they are part of request hashes.
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    stop: list[str] | str | None = None
    extra_body: dict[str, Any] | None = None
    # Operational parameters: how we call, never what we get (excluded from every hash).
    max_parallel_requests: int = Field(default=16, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=6, ge=0)


class RateLimits(Strict):
    """The endpoint's per-minute limits for this model (hosted APIs set them per key).

    Operational, like max_parallel_requests: excluded from every hash. Limits an endpoint
    announces in `x-ratelimit-*` headers are learned without configuration; a configured limit
    lower than the learned one wins.
    """

    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)


class ModelConfig(Strict):
    alias: str
    model: str
    provider: str
    skip_health_check: bool = False
    inference_parameters: InferenceParameters = InferenceParameters()
    rate_limits: RateLimits = RateLimits()
    # `batch`: each generate job sends its shard as Batch API jobs (generate/batch.py).
    # Operational: the answers are the same store entries either way, so no hash has it.
    execution: Literal["online", "batch"] = "online"


class SeedDataset(Strict):
    path: str
    strategy: Literal["shuffle", "ordered", "sample"] = "shuffle"
    fields: list[str] | None = None


class CategoryColumn(Strict):
    name: str
    type: Literal["category"]
    values: list[str | int | float | bool] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> CategoryColumn:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}; "
                    "give one weight per value"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative and not all zero")
        return self


class SubcategoryColumn(Strict):
    name: str
    type: Literal["subcategory"]
    category: str
    values: dict[str, list[str | int | float | bool]]


class UniformColumn(Strict):
    name: str
    type: Literal["uniform"]
    low: float
    high: float
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> UniformColumn:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class LLMTextColumn(Strict):
    name: str
    type: Literal["llm_text"]
    model_alias: str
    prompt: str
    system_prompt: str | None = None


class LLMStructuredColumn(Strict):
    name: str
    type: Literal["llm_structured"]
    model_alias: str
    prompt: str
    system_prompt: str | None = None
    # A JSON schema (sent as response_format json_schema) or None for plain json_object mode.
    output_format: dict[str, Any] | None = None


class JudgeScore(Strict):
    name: str
    description: str = ""
    options: dict[str, str] = Field(min_length=1)


class LLMJudgeColumn(Strict):
    name: str
    type: Literal["llm_judge"]
    model_alias: str
    prompt: str
    system_prompt: str | None = None
    scores: list[JudgeScore] = Field(min_length=1)
    # false: the column is checked, then left out of the build with the validation.judge rules
    # on it (no request, no stage hash changes); no other column may read it then.
    enabled: bool = Field(default=True, exclude=True)


SamplerColumn = CategoryColumn | SubcategoryColumn | UniformColumn
LLMColumn = LLMTextColumn | LLMStructuredColumn | LLMJudgeColumn
Column = Annotated[
    CategoryColumn | SubcategoryColumn | UniformColumn | LLMTextColumn | LLMStructuredColumn
    | LLMJudgeColumn,
    Field(discriminator="type"),
]
SAMPLER_TYPES = (CategoryColumn, SubcategoryColumn, UniformColumn)
LLM_TYPES = (LLMTextColumn, LLMStructuredColumn, LLMJudgeColumn)


class ModelPrice(Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class ReportConfig(Strict):
    # USD per million tokens, by model alias; the report estimates cost only when present.
    prices: dict[str, ModelPrice] = {}
    samples: int = Field(default=4, ge=0)


class Budget(Strict):
    """A spending cap over everything this recipe's build has paid, across runs (the store's
    answers count), checked before each request. Cost uses `report.prices`."""

    max_requests: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_cost: float | None = Field(default=None, gt=0)

    @property
    def caps(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Recipe(Strict):
    """A resolved, validated recipe. `name` comes from the file name, not the YAML."""

    name: str
    source: str
    output_dir: str
    output_path: str
    num_records: int = Field(gt=0)
    seed: int = 0
    shard_size: int = Field(default=500, gt=0)
    preview: bool = False
    # Overrides every model's provider, e.g. `provider=offline` for a dry run on the simulator.
    provider: str | None = None
    work_dir: str | None = None
    seed_dataset: SeedDataset
    providers: list[Provider] = []
    models: list[ModelConfig] = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)
    output_projection: OutputProjection
    validation: ValidationConfig = ValidationConfig()
    packing: PackingConfig = PackingConfig()
    report: ReportConfig = ReportConfig()
    budget: Budget = Budget()
    # Knobs of the offline simulator (latency, slots, fault rates); see `sdgflow serve-sim --help`.
    simulator: SimulatorSettings = SimulatorSettings()

    @property
    def sampler_columns(self) -> list[CategoryColumn | SubcategoryColumn | UniformColumn]:
        return [c for c in self.columns if isinstance(c, SAMPLER_TYPES)]

    @property
    def llm_columns(self) -> list[LLMTextColumn | LLMStructuredColumn | LLMJudgeColumn]:
        return [c for c in self.columns if isinstance(c, LLM_TYPES)]

    def model_for(self, alias: str) -> ModelConfig:
        return next(m for m in self.models if m.alias == alias)
