"""Which endpoint failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

import random
from enum import Enum

import openai


class Outcome(Enum):
    RETRY = "retry"  # transient: 429, 5xx, timeouts, dropped connections, empty replies
    FAIL = "fail"  # this request is wrong (400, 422): retrying cannot help, keep the error
    FATAL = "fatal"  # the run is wrong (401, 403, 404): stop everything now


class EmptyReply(Exception):
    """The endpoint answered 200 with no usable text (empty choices, reasoning only)."""


class FatalEndpointError(Exception):
    """Bad key, no permission or unknown model: every request would fail the same way."""


def classify(exc: BaseException) -> Outcome:
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError |
                  openai.NotFoundError):
        return Outcome.FATAL
    if isinstance(exc, openai.RateLimitError | openai.InternalServerError |
                  openai.APITimeoutError | openai.APIConnectionError | EmptyReply):
        return Outcome.RETRY
    if isinstance(exc, openai.APIStatusError):
        return Outcome.RETRY if exc.status_code >= 500 or exc.status_code == 408 else Outcome.FAIL
    return Outcome.FAIL


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After header), if any."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0,
            server_wait: float | None = None) -> float:
    """Full-jitter exponential back-off, never shorter than what the server asked for."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    return max(delay, server_wait or 0.0)
