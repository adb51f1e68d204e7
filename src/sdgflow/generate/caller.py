"""EndpointCaller: one model's requests with back-off, adaptive concurrency and a breaker.

Scheduling (how many at once, when to wait) lives here; what to ask and what to keep lives in
the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from sdgflow.config.models import ModelPrice, Provider, RateLimits
from sdgflow.generate.budget import BudgetGuard
from sdgflow.generate.estimate import Usage, limit_tokens
from sdgflow.generate.limiter import AdaptiveLimiter
from sdgflow.generate.pacing import MinutePacer
from sdgflow.generate.retry import (
    EmptyReply,
    FatalEndpointError,
    Outcome,
    backoff,
    classify,
    completion_from,
    request_deadline,
    retry_after,
    within_deadline,
)
from sdgflow.jobs.slots import SharedSlots

log = logging.getLogger(__name__)


class CallFailed(Exception):
    """A request that still failed after its retries (or that retrying cannot fix)."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class CircuitOpen(Exception):
    """Most recent calls failed even after retries: stop instead of burning the budget."""


@dataclass
class CallResult:
    response: dict[str, Any]  # the chat completion as parsed JSON
    attempts: int
    latency_s: float


class ErrorBreaker:
    def __init__(self, window: int = 50, min_calls: int = 20, threshold: float = 0.5) -> None:
        self.recent: deque[bool] = deque(maxlen=window)
        self.min_calls, self.threshold = min_calls, threshold

    def record(self, ok: bool) -> None:
        self.recent.append(ok)
        failed = self.recent.count(False)
        if len(self.recent) >= self.min_calls and failed / len(self.recent) > self.threshold:
            raise CircuitOpen(
                f"{failed} of the last {len(self.recent)} records failed after retries; "
                "stopping so the budget is not burned. Stored answers are kept: fix the endpoint "
                "(see the errors in this log) and rerun to retry only the failed records"
            )


class EndpointCaller:
    def __init__(self, client: openai.AsyncOpenAI, provider: Provider, model: str,
                 ceiling: int, max_retries: int, breaker: ErrorBreaker,
                 pacer: MinutePacer | None = None, guard: BudgetGuard | None = None,
                 price: ModelPrice | None = None) -> None:
        self.client, self.provider, self.model = client, provider, model
        self.limiter = AdaptiveLimiter(ceiling)
        self.max_retries, self.breaker = max_retries, breaker
        self.pacer = pacer or MinutePacer(RateLimits())
        self.guard = guard
        self.price = price
        self.requests_sent = 0
        self.shared: SharedSlots | None = None
        self.lane = 0

    def share(self, shared: SharedSlots) -> None:
        """Take each slot from the warm runner's budget for this endpoint and model too."""
        self.shared = shared
        self.lane = shared.lane(f"{self.provider.endpoint} {self.model}", self.limiter.ceiling)

    async def _acquire(self) -> None:
        await self.limiter.acquire()
        if self.shared is not None:
            try:
                await self.shared.acquire(self.lane)
            except BaseException:
                self.limiter.release()
                raise

    def _release(self, *, throttled: bool = False, wait: float | None = None) -> None:
        if self.shared is not None:
            self.shared.release(self.lane)
        self.limiter.release(throttled=throttled, wait=wait)

    def fatal(self, exc: openai.APIStatusError) -> FatalEndpointError:
        what = {401: "rejected the API key", 403: "denied permission",
                404: "does not know the model or endpoint"}.get(exc.status_code, "refused")
        key = f" in ${self.provider.api_key}" if self.provider.api_key else ""
        return FatalEndpointError(
            f"provider '{self.provider.name}' ({self.provider.endpoint}) {what} "
            f"(HTTP {exc.status_code}) for model '{self.model}'. Check the key{key}, the model "
            "name and the endpoint; nothing else will be sent until then."
        )

    async def health_check(self) -> None:
        """One free request (the model list): a bad key fails here, before any paid call."""
        try:
            models = await self.client.models.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise self.fatal(exc) from None
        except openai.APIError as exc:
            log.warning("health check of %s skipped: %s", self.provider.name, exc)
            return
        ids = {m.id for m in models.data}
        if ids and self.model not in ids:
            log.warning("model '%s' is not in %s's model list (%d models); continuing",
                        self.model, self.provider.name, len(ids))

    def _reserve(self, body: dict[str, Any], column: str | None) -> Usage:
        """Check the spending cap for one attempt (raises BudgetReached); its expected usage."""
        if self.guard is None:
            return Usage()
        return self.guard.admit_request(body, column, self.price)

    async def _pace(self, tokens: int, reservation: Usage) -> None:
        """Take a concurrency slot, then wait for the per-minute limits to allow a start."""
        await self._acquire()
        try:
            await self.pacer.admit(tokens)
        except BaseException:
            self._release()
            self._settle(reservation)
            raise

    def _settle(self, reservation: Usage) -> None:
        if self.guard is not None:
            self.guard.settle(reservation)

    def _learn(self, exc: BaseException, wait: float | None) -> None:
        """What a refused answer says about the limits: its headers, and its Retry-After."""
        response = getattr(exc, "response", None)
        self.pacer.learn(response.headers if response is not None else None)
        if wait and isinstance(exc, openai.RateLimitError):
            self.pacer.pause(wait)

    async def call(self, body: dict[str, Any], column: str | None = None) -> CallResult:
        attempt = 0
        tokens = limit_tokens(body)
        while True:
            reservation = self._reserve(body, column)
            await self._pace(tokens, reservation)
            started = time.monotonic()
            throttled, wait = False, None
            self.requests_sent += 1
            try:
                # The client's low-level post: same auth, timeouts and error types as
                # chat.completions.create, without building typed request and response objects
                # (about 0.6 ms of CPU per request, most of our per-request cost).
                # Under one deadline: the client's timeouts bound each wait, not a body that
                # trickles in forever.
                raw = await within_deadline(
                    self.client.post("/chat/completions", body=body, cast_to=httpx2.Response),
                    request_deadline(self.client.timeout))
                response = completion_from(raw)
                self.pacer.learn(raw.headers, completion=True)
                choices = response.get("choices") or []
                if not choices:
                    raise EmptyReply("the endpoint answered with no choices")
                message = choices[0].get("message") or {}
                if not (message.get("content") or "").strip() and \
                        choices[0].get("finish_reason") != "length":
                    raise EmptyReply("the reply had no content (reasoning only or empty)")
                latency = time.monotonic() - started
                usage = response.get("usage") or {}
                self.pacer.correct(tokens, usage.get("total_tokens"))
                self._release()
                self._settle(reservation)
                self.breaker.record(True)
                return CallResult(response, attempt + 1, latency)
            except Exception as exc:
                outcome = classify(exc)
                throttled = isinstance(exc, openai.RateLimitError)
                wait = retry_after(exc)
                self._learn(exc, wait)
                self._release(throttled=throttled, wait=wait)
                self._settle(reservation)
                if outcome is Outcome.FATAL:
                    raise self.fatal(exc) from None  # type: ignore[arg-type]
                attempt += 1
                if outcome is Outcome.FAIL or attempt > self.max_retries:
                    self.breaker.record(False)
                    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
                    raise CallFailed(f"{type(exc).__name__}: {detail}", attempt) from exc
                log.debug("attempt %d failed (%s); retrying", attempt, type(exc).__name__)
                await asyncio.sleep(backoff(attempt - 1, server_wait=wait))
