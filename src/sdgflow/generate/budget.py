"""The spending cap: what this recipe's build has paid (the store's answers, across runs and
jobs) plus what this job has in flight, checked before every request.

The store is the truth: every paid answer is appended to it the moment it arrives, by whichever
job received it, so tailing its files tells each job what all of them have spent. A job cannot
see other jobs' requests in flight, so a build stops at most its in-flight requests over a cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sdgflow.config.models import Budget, ModelPrice, Recipe
from sdgflow.generate.estimate import Usage, completion_tokens, priced, prompt_tokens

# Re-read the store at most this often while far from a cap; near a cap, before every request.
REFRESH_S = 0.2


def price_lookup(recipe: Recipe) -> Callable[[str], ModelPrice | None]:
    """Price of a stored answer's model id (answers record the model id, prices are by alias)."""
    by_model: dict[str, ModelPrice] = {}
    for model in recipe.models:
        price = recipe.report.prices.get(model.alias)
        if price is not None:
            by_model.setdefault(model.model, price)
    return by_model.get


@dataclass
class StoreTally:
    """Paid usage in the store, read incrementally: each refresh reads only appended bytes."""

    root: Path
    price_of: Callable[[str], ModelPrice | None]
    usage: Usage = field(default_factory=Usage)
    # column -> (answers, completion tokens): what a column's answers use, for estimates.
    completions: dict[str, tuple[int, int]] = field(default_factory=dict)
    _offsets: dict[Path, int] = field(default_factory=dict)

    def refresh(self) -> Usage:
        for path in sorted(self.root.glob("b*/*.jsonl")):
            start = self._offsets.get(path, 0)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size <= start:
                continue
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read(size - start)
            end = data.rfind(b"\n") + 1  # a line still being written is read next time
            self._offsets[path] = start + end
            for line in data[:end].splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn line of a killed writer (the store skips it too)
                self.add(entry)
        return self.usage

    def add(self, entry: dict) -> None:
        prompt = entry.get("prompt_tokens") or 0
        completion = entry.get("completion_tokens") or 0
        self.usage += priced(1, prompt, completion, self.price_of(entry.get("model", "")))
        count, total = self.completions.get(entry["column"], (0, 0))
        self.completions[entry["column"]] = (count + 1, total + completion)

    def mean_completion(self, column: str) -> float | None:
        count, total = self.completions.get(column, (0, 0))
        return total / count if count else None


class BudgetReached(Exception):
    """The next request would cross a cap in `budget:`; nothing more is sent."""

    def __init__(self, cap: str, limit: float, spent: Usage) -> None:
        self.cap, self.limit, self.spent = cap, limit, spent
        super().__init__(f"budget.{cap} ({_amount(cap, limit)}) reached")


def _amount(cap: str, value: float) -> str:
    return f"${value:,.2f}" if cap == "max_cost" else f"{value:,.0f}"


def spent_line(spent: Usage, priced_models: bool) -> str:
    cost = f", ${spent.cost:,.2f}" if priced_models else ""
    return f"{spent.requests:,} requests, {spent.tokens:,} tokens{cost}"


class BudgetGuard:
    """Admits a request only while the build's spending stays within every cap."""

    def __init__(self, budget: Budget, tally: StoreTally) -> None:
        self.caps = budget.caps
        self.tally = tally
        self.in_flight = Usage()
        self.reached: BudgetReached | None = None
        self._refreshed = 0.0
        if self.caps:
            tally.refresh()
            self._refreshed = time.monotonic()

    def admit(self, tokens: int, cost: float) -> Usage:
        """Reserve a request's expected usage, or raise BudgetReached (and keep raising)."""
        if not self.caps:
            return Usage()
        if self.reached is not None:
            raise self.reached
        want = Usage(1, tokens, 0, cost)
        now = time.monotonic()
        if now - self._refreshed > REFRESH_S or self._near(want):
            self.tally.refresh()
            self._refreshed = now
        after = self.tally.usage + self.in_flight + want
        for cap, value in (("max_requests", after.requests), ("max_tokens", after.tokens),
                           ("max_cost", after.cost)):
            limit = self.caps.get(cap)
            if limit is not None and value > limit:
                self.reached = BudgetReached(cap, limit, self.tally.usage + self.in_flight)
                raise self.reached
        self.in_flight += want
        return want

    def admit_request(self, body: dict[str, Any], column: str | None,
                      price: ModelPrice | None) -> Usage:
        """`admit` for one request: its expected usage from its size and what answers of its
        column used so far (estimate.py), priced."""
        if not self.caps:
            return Usage()
        mean = self.tally.mean_completion(column) if column else None
        expected = priced(1, prompt_tokens(body), completion_tokens(body, mean), price)
        return self.admit(expected.tokens, expected.cost)

    def settle(self, reservation: Usage) -> None:
        """A request admitted earlier has ended (its answer, if any, is in the store)."""
        if reservation.requests:
            self.in_flight += Usage(-reservation.requests, -reservation.prompt_tokens,
                                    -reservation.completion_tokens, -reservation.cost)

    def _near(self, want: Usage) -> bool:
        """Within 64 requests of a cap (more than a job answers between two refreshes), the
        store is read before each request."""
        room = 64
        after = self.tally.usage + self.in_flight
        return any(
            limit is not None and value + room * step > limit
            for limit, value, step in ((self.caps.get("max_requests"), after.requests, 1),
                                       (self.caps.get("max_tokens"), after.tokens, want.tokens),
                                       (self.caps.get("max_cost"), after.cost, want.cost)))
