"""Generate every LLM column of a batch of records: stored answers first, then the endpoint.

Columns of a record run in dependency order (a prompt may read earlier columns' answers); all
records of the batch run concurrently, bounded per model by the job's share of the budget.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from sdgflow.config.load import llm_column_order
from sdgflow.config.models import Recipe
from sdgflow.generate.budget import BudgetGuard, BudgetReached, StoreTally, price_lookup
from sdgflow.generate.caller import CallFailed, EndpointCaller, ErrorBreaker
from sdgflow.generate.client import make_client, provider_for
from sdgflow.generate.pacing import job_pacer
from sdgflow.generate.reasoning import split_reasoning
from sdgflow.generate.request import build_request, request_key
from sdgflow.generate.shard import ColumnResult
from sdgflow.generate.store import RequestStore, StoredAnswer
from sdgflow.jobs import slots
from sdgflow.jobs.slots import SharedSlots, shared_capacity

log = logging.getLogger(__name__)


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    from_store: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self, in_flight: int) -> str:
        elapsed = max(1e-6, time.monotonic() - self.started)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (f"{self.done}/{self.total} records done ({self.failed} failed, "
                f"{self.from_store} answers from store), {in_flight} requests in flight, "
                f"{self.completion_tokens / elapsed:.0f} tok/s, ETA {eta:.0f}s")


@dataclass
class BatchSummary:
    requests_sent: int
    answers_from_store: int
    records_failed: int
    seconds: float


class BatchGenerator:
    def __init__(self, recipe: Recipe, store: RequestStore, slots_per_job: int) -> None:
        self.recipe, self.store = recipe, store
        self.order = llm_column_order(recipe)
        self.columns = {c.name: c for c in recipe.llm_columns}
        breaker = ErrorBreaker()
        self.guard = BudgetGuard(recipe.budget, StoreTally(store.root, price_lookup(recipe)))
        self.callers: dict[str, EndpointCaller] = {}
        for alias in sorted({c.model_alias for c in recipe.llm_columns}):
            model = recipe.model_for(alias)
            budget = model.inference_parameters.max_parallel_requests
            # In a warm child the runner shares the whole budget among the jobs (slots.py);
            # elsewhere this job keeps to its share.
            ceiling = shared_capacity(budget) if slots.CHANNEL is not None else \
                min(slots_per_job, budget)
            provider = provider_for(recipe, alias)
            self.callers[alias] = EndpointCaller(
                make_client(recipe, alias, ceiling), provider, model.model,
                ceiling, model.inference_parameters.max_retries, breaker,
                pacer=job_pacer(model, provider, min(slots_per_job, budget) / budget),
                guard=self.guard, price=recipe.report.prices.get(alias))
        self.reads = {name: set(self._reads(name)) for name in self.order}
        # store key -> error of requests the Batch API already failed (generate/batch.py):
        # kept as failed records, not re-sent online.
        self.settled: dict[str, str] = {}
        # store key -> attempts, of answers this job's batches paid for (fresh, not from store)
        self.batched: dict[str, int] = {}

    def _reads(self, name: str) -> list[str]:
        from sdgflow.config.prompts import template_variables

        column = self.columns[name]
        names = template_variables(column.prompt) | template_variables(column.system_prompt or "")
        return [n for n in names if n in self.columns]

    async def run(self, records: list[dict[str, Any]], progress_every: float = 10.0
                  ) -> tuple[list[dict[str, ColumnResult]], BatchSummary]:
        started = time.monotonic()
        if records:
            ids = [r["record_id"] for r in records]
            stored = self.store.load(min(ids), max(ids) + 1)
        else:
            stored = {}
        progress = Progress(total=len(records))
        shared = await SharedSlots.connect()
        if shared is not None:
            for caller in self.callers.values():
                caller.share(shared)
        if not self._all_stored(records, stored):
            await asyncio.gather(*(self.callers[a].health_check() for a in self.callers
                                   if not self.recipe.model_for(a).skip_health_check))
        reporter = asyncio.create_task(self._report(progress, progress_every))
        results: list[dict[str, ColumnResult]] = [{} for _ in records]
        queue = iter(enumerate(records))

        async def worker() -> None:
            for index, record in queue:
                results[index] = await self._record(record, stored, progress)

        # A bounded pool instead of one task per record: at most the job's share of the budget
        # is ever waiting on the limiter, whatever the shard size.
        workers = max(c.limiter.ceiling for c in self.callers.values()) if self.callers else 1
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(workers, len(records))):
                    group.create_task(worker())
        finally:
            reporter.cancel()
            for caller in self.callers.values():
                await caller.client.close()
                caller.pacer.close()
            if shared is not None:
                await shared.close()
        log.info("%s", progress.line(0))
        summary = BatchSummary(
            requests_sent=sum(c.requests_sent for c in self.callers.values()),
            answers_from_store=progress.from_store, records_failed=progress.failed,
            seconds=time.monotonic() - started)
        return results, summary

    def _all_stored(self, records: list[dict[str, Any]], stored: dict[str, StoredAnswer]) -> bool:
        """True when no request needs sending (so not even a health check is made)."""
        try:
            for record in records:
                context = dict(record)
                for name in self.order:
                    key = self._key(record["record_id"], name, context)
                    if key not in stored:
                        return False
                    context[name] = stored[key].text
        except Exception:
            return False
        return True

    def _key(self, record_id: int, name: str, context: dict[str, Any]
             ) -> str:
        column = self.columns[name]
        body = build_request(self.recipe, column, context, record_id)
        provider = provider_for(self.recipe, column.model_alias).name
        return request_key(record_id, name, provider, body)

    async def _report(self, progress: Progress, every: float) -> None:
        """A live line on a terminal; periodic log lines in job logs and CI."""
        live = sys.stderr.isatty()
        try:
            while True:
                await asyncio.sleep(0.5 if live else every)
                in_flight = sum(c.limiter.in_flight for c in self.callers.values())
                if live:
                    sys.stderr.write(f"\r\x1b[2K{progress.line(in_flight)}")
                    sys.stderr.flush()
                else:
                    log.info("%s", progress.line(in_flight))
        finally:
            if live:
                sys.stderr.write("\r\x1b[2K")

    async def _record(self, record: dict[str, Any], stored: dict[str, StoredAnswer],
                      progress: Progress) -> dict[str, ColumnResult]:
        record_id = record["record_id"]
        context = dict(record)
        results: dict[str, ColumnResult] = {}
        for name in self.order:
            column = self.columns[name]
            caller = self.callers[column.model_alias]
            provider = caller.provider.name
            failed_inputs = [d for d in self.reads[name] if results[d].error]
            if failed_inputs:
                results[name] = ColumnResult(error=f"upstream column {failed_inputs[0]} failed",
                                             model=caller.model, provider=provider)
                continue
            body = build_request(self.recipe, column, context, record_id)
            key = request_key(record_id, name, provider, body)
            answer = stored.get(key)
            if answer is not None and key in self.batched:
                results[name] = _from_answer(answer, self.batched[key], from_store=False)
            elif answer is not None:
                progress.from_store += 1
                results[name] = _from_answer(answer, attempts=0, from_store=True)
            elif key in self.settled:
                results[name] = ColumnResult(error=self.settled[key], model=caller.model,
                                             provider=provider)
                continue
            else:
                try:
                    call = await caller.call(body, name)
                except CallFailed as exc:
                    results[name] = ColumnResult(error=str(exc), attempts=exc.attempts,
                                                 model=caller.model, provider=provider)
                    continue
                except BudgetReached as exc:
                    # Not a failure of the record: it was never sent. The job reports the cap.
                    results[name] = ColumnResult(error=f"not sent: {exc}", model=caller.model,
                                                 provider=provider)
                    continue
                answer = _answer(key, record_id, name, call.response, call.latency_s,
                                 caller.model, provider)
                self.store.append(answer)
                progress.completion_tokens += answer.completion_tokens or 0
                results[name] = _from_answer(answer, attempts=call.attempts, from_store=False)
            context[name] = answer.text
        progress.done += 1
        progress.failed += any(r.error for r in results.values())
        return results


def _answer(key: str, record_id: int, column: str, response: dict[str, Any], latency: float,
            model: str, provider: str) -> StoredAnswer:
    choice = response["choices"][0]
    text, reasoning = split_reasoning(choice.get("message") or {})
    usage = response.get("usage") or {}
    return StoredAnswer(
        key=key, record_id=record_id, column=column, text=text, reasoning=reasoning,
        finish_reason=choice.get("finish_reason"), prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"), latency_s=round(latency, 4),
        model=model, provider=provider)


def _from_answer(answer: StoredAnswer, attempts: int, from_store: bool) -> ColumnResult:
    return ColumnResult(
        text=answer.text, reasoning=answer.reasoning, finish_reason=answer.finish_reason,
        attempts=attempts, prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens, latency_s=answer.latency_s,
        from_store=from_store, model=answer.model, provider=answer.provider)
