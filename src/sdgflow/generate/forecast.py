"""What the next build will send and pay, worked out from the recipe and the store alone.

Every record's request is built exactly as the generate stage builds it and looked up in the
store under the same key, so "requests to send" is what a build would send, not an estimate.
Tokens are estimated (estimate.py): answers already stored calibrate the completion size of
their column; a column that reads an upstream answer not yet stored is sized with a stand-in of
that answer's expected length. Nothing here opens a connection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sdgflow.build.paths import RecipePaths
from sdgflow.config.load import llm_column_order
from sdgflow.config.models import Recipe
from sdgflow.generate.budget import StoreTally, price_lookup, spent_line
from sdgflow.generate.client import provider_for
from sdgflow.generate.estimate import (
    CHARS_PER_TOKEN,
    Usage,
    completion_tokens,
    limit_tokens,
    priced,
    prompt_tokens,
)
from sdgflow.generate.request import build_request, request_key
from sdgflow.generate.store import RequestStore


@dataclass
class ColumnForecast:
    column: str
    model_alias: str
    model: str
    records: int
    answers_in_store: int = 0
    requests_to_send: int = 0
    estimated_prompt_tokens: int = 0
    estimated_completion_tokens: int = 0
    estimated_cost: float | None = None
    # What requests count against a tokens-per-minute limit (prompt + max_tokens).
    limit_tokens: int = 0
    mean_latency_s: float | None = None


@dataclass
class ModelForecast:
    model_alias: str
    model: str
    requests_to_send: int
    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_parallel_requests: int
    seconds_by_requests_limit: float | None
    seconds_by_tokens_limit: float | None
    seconds_by_concurrency: float | None

    @property
    def seconds(self) -> float | None:
        known = [s for s in (self.seconds_by_requests_limit, self.seconds_by_tokens_limit,
                             self.seconds_by_concurrency) if s is not None]
        return max(known) if known else None


@dataclass
class Forecast:
    recipe: str
    records: int
    records_remaining: int
    columns: list[ColumnForecast]
    models: list[ModelForecast]
    spent: Usage
    priced: bool
    budget: dict[str, float] = field(default_factory=dict)

    @property
    def requests_to_send(self) -> int:
        return sum(c.requests_to_send for c in self.columns)

    def as_json(self) -> dict[str, Any]:
        costs = [c.estimated_cost for c in self.columns]
        seconds = [m.seconds for m in self.models if m.requests_to_send]
        return {
            "recipe": self.recipe,
            "records": self.records,
            "records_remaining": self.records_remaining,
            "requests_to_send": self.requests_to_send,
            "answers_in_store": sum(c.answers_in_store for c in self.columns),
            "estimated_prompt_tokens": sum(c.estimated_prompt_tokens for c in self.columns),
            "estimated_completion_tokens": sum(c.estimated_completion_tokens
                                               for c in self.columns),
            "estimated_tokens": sum(c.estimated_prompt_tokens + c.estimated_completion_tokens
                                    for c in self.columns),
            "estimated_cost": None if None in costs else round(sum(costs), 6),  # type: ignore
            "estimated_seconds": None if None in seconds or not seconds else max(seconds),
            "spent": {**asdict(self.spent), "tokens": self.spent.tokens},
            "budget": self.budget,
            "columns": [asdict(c) for c in self.columns],
            "models": [{**asdict(m), "estimated_seconds": m.seconds} for m in self.models],
        }


def _rows(recipe: Recipe) -> list[dict[str, Any]]:
    from sdgflow.seed.read import read_seed_rows
    from sdgflow.seed.sample import sample_rows

    seed_rows = read_seed_rows(recipe.seed_dataset.path, recipe.seed_dataset.fields)
    return sample_rows(recipe, seed_rows, 0, recipe.num_records).to_pylist()


def forecast(recipe: Recipe) -> Forecast:
    store_root = RecipePaths.of(recipe).store
    tally = StoreTally(store_root, price_lookup(recipe))
    tally.refresh()
    stored = RequestStore(store_root).load(0, recipe.num_records)
    order = llm_column_order(recipe)
    columns = {c.name: c for c in recipe.llm_columns}
    results: dict[str, ColumnForecast] = {}
    latency: dict[str, list[float]] = {}
    for name in order:
        alias = columns[name].model_alias
        results[name] = ColumnForecast(name, alias, recipe.model_for(alias).model,
                                       recipe.num_records)
    remaining = 0
    for row in _rows(recipe):
        context = dict(row)
        missing = False
        for name in order:
            column, result = columns[name], results[name]
            body = build_request(recipe, column, context, row["record_id"])
            provider = provider_for(recipe, column.model_alias).name
            answer = stored.get(request_key(row["record_id"], name, provider, body))
            if answer is not None:
                result.answers_in_store += 1
                context[name] = answer.text
                if answer.latency_s is not None:
                    latency.setdefault(name, []).append(answer.latency_s)
                continue
            missing = True
            expected = completion_tokens(body, tally.mean_completion(name))
            result.requests_to_send += 1
            result.estimated_prompt_tokens += prompt_tokens(body)
            result.estimated_completion_tokens += expected
            result.limit_tokens += limit_tokens(body)
            # Later columns read this answer: size their prompts with a stand-in as long.
            context[name] = "x" * (expected * CHARS_PER_TOKEN)
        remaining += missing
    prices = recipe.report.prices
    for name, result in results.items():
        price = prices.get(result.model_alias)
        if price is not None:
            result.estimated_cost = priced(result.requests_to_send,
                                           result.estimated_prompt_tokens,
                                           result.estimated_completion_tokens, price).cost
        if latency.get(name):
            result.mean_latency_s = sum(latency[name]) / len(latency[name])
    used = {c.model_alias for c in recipe.llm_columns}
    return Forecast(
        recipe=recipe.name, records=recipe.num_records, records_remaining=remaining,
        columns=list(results.values()),
        models=[_model_forecast(recipe, alias, [r for r in results.values()
                                                if r.model_alias == alias])
                for alias in sorted(used)],
        spent=tally.usage, priced=used <= set(prices), budget=recipe.budget.caps)


def _model_forecast(recipe: Recipe, alias: str, columns: list[ColumnForecast]) -> ModelForecast:
    model = recipe.model_for(alias)
    limits, parallel = model.rate_limits, model.inference_parameters.max_parallel_requests
    requests = sum(c.requests_to_send for c in columns)
    tokens = sum(c.limit_tokens for c in columns)
    latencies = [c.mean_latency_s * c.requests_to_send for c in columns
                 if c.mean_latency_s is not None]
    by_concurrency = sum(latencies) / parallel if len(latencies) == len(columns) else None
    return ModelForecast(
        model_alias=alias, model=model.model, requests_to_send=requests,
        requests_per_minute=limits.requests_per_minute, tokens_per_minute=limits.tokens_per_minute,
        max_parallel_requests=parallel,
        seconds_by_requests_limit=60.0 * requests / limits.requests_per_minute
        if limits.requests_per_minute else None,
        seconds_by_tokens_limit=60.0 * tokens / limits.tokens_per_minute
        if limits.tokens_per_minute else None,
        seconds_by_concurrency=by_concurrency)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "under 1s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else \
        f"{secs}s"


def summary_lines(plan: Forecast) -> list[str]:
    """The plan as log lines: one per column, one per model's timing, the spend and caps."""
    data = plan.as_json()
    lines = [f"plan for {plan.recipe}: {plan.records:,} records, {plan.records_remaining:,} "
             f"still need answers; {data['requests_to_send']:,} requests to send, "
             f"{data['answers_in_store']:,} answers in the store"]
    for c in plan.columns:
        cost = f", ~${c.estimated_cost:,.2f}" if c.estimated_cost is not None else ""
        lines.append(f"  {c.column} ({c.model}): {c.requests_to_send:,} to send, "
                     f"{c.answers_in_store:,} stored; ~{c.estimated_prompt_tokens:,} prompt + "
                     f"~{c.estimated_completion_tokens:,} completion tokens{cost}")
    for m in plan.models:
        if not m.requests_to_send:
            continue
        parts = [f"{m.max_parallel_requests} parallel: "
                 f"{_duration(m.seconds_by_concurrency)}"]
        if m.requests_per_minute:
            parts.append(f"{m.requests_per_minute:,} requests/min: "
                         f"{_duration(m.seconds_by_requests_limit)}")
        if m.tokens_per_minute:
            parts.append(f"{m.tokens_per_minute:,} tokens/min: "
                         f"{_duration(m.seconds_by_tokens_limit)}")
        if m.seconds is None:
            lines.append(f"  time for {m.model_alias}: unknown until answers are stored to "
                         "time (and no per-minute limit is configured)")
        else:
            lines.append(f"  time for {m.model_alias}: at least {_duration(m.seconds)} "
                         f"({'; '.join(parts)})")
    total_cost = data["estimated_cost"]
    cost = f", ~${total_cost:,.2f}" if total_cost is not None else \
        " (no cost: set report.prices.<alias> to see one)"
    lines.append(f"  estimated: ~{data['estimated_tokens']:,} tokens{cost}; paid so far: "
                 f"{spent_line(plan.spent, plan.priced)}")
    if plan.budget:
        caps = ", ".join(f"{k}={v:g}" for k, v in plan.budget.items())
        lines.append(f"  budget: {caps}")
    return lines


def budget_stop_message(recipe: Recipe, cap: str) -> str:
    """What was spent, which cap stopped the build, what remains, and the override that
    continues it (a rerun with a higher cap resumes from the store)."""
    plan = forecast(recipe)
    data = plan.as_json()
    spent = plan.spent
    need = {"max_requests": spent.requests + plan.requests_to_send,
            "max_tokens": spent.tokens + data["estimated_tokens"],
            "max_cost": spent.cost + (data["estimated_cost"] or 0.0)}[cap]
    value = f"{need * 1.1:.2f}" if cap == "max_cost" else str(int(need * 1.1) + 1)
    return (f"budget.{cap} = {recipe.budget.caps[cap]:g} stopped this build: paid so far "
            f"(every run of this recipe, from the store) {spent_line(spent, plan.priced)}; "
            f"{plan.records_remaining:,} of {plan.records:,} records still need "
            f"{plan.requests_to_send:,} requests. Requests in flight finished and every answer "
            f"is kept. To continue, raise the cap and rerun (nothing stored is asked again): "
            f"--config 'set=[budget.{cap}={value}]' (sdgflow: budget.{cap}={value})")


def announce(recipe: Recipe, dag: Any, log: Any) -> None:
    """Log the plan before a build's first request (Snakefile `onstart:`); only when a
    generate job will run, so a rebuild of later stages pays nothing for it."""
    if any(job.rule.name == "generate" for job in dag.needrun_jobs()):
        for line in summary_lines(forecast(recipe)):
            log(line)
