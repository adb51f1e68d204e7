"""Which endpoint failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from enum import Enum
from typing import Any, TypeVar

import httpx2
import openai
import orjson

T = TypeVar("T")
# How much of a body that is no chat completion the error shows.
BODY_PREVIEW_BYTES = 120


class Outcome(Enum):
    # transient: 429, 5xx, timeouts, dropped connections, empty replies, and 200s that are no
    # chat completion (a proxy's HTML page, a body cut short)
    RETRY = "retry"
    FAIL = "fail"  # this request is wrong (400, 422): retrying cannot help, keep the error
    FATAL = "fatal"  # the run is wrong (401, 403, 404): stop everything now


class EmptyReply(Exception):
    """The endpoint answered 200 with no usable text (empty choices, reasoning only)."""


class NotACompletion(Exception):
    """The endpoint answered 200 with a body that is no chat completion.

    Proxies and load balancers do this: an HTML error page with status 200, a JSON body cut
    short, an error object where the completion should be. The message says what came back.
    """

    def __init__(self, raw: httpx2.Response, reason: str) -> None:
        content = raw.content
        kind = raw.headers.get("content-type", "no content-type").split(";")[0].strip()
        # One line: a failed record keeps only the first line of its error.
        head = " ".join(content[:BODY_PREVIEW_BYTES].decode("utf-8", "replace").split())
        more = "..." if len(content) > BODY_PREVIEW_BYTES else ""
        super().__init__(
            f"HTTP {raw.status_code} {kind} ({reason}, {len(content)} bytes): "
            f"{head + more if head else '(empty body)'}"
        )


class DeadlineExceeded(Exception):
    """The whole request (connect, send, and reading every byte of the answer) took too long."""


class FatalEndpointError(Exception):
    """Bad key, no permission or unknown model: every request would fail the same way."""


def classify(exc: BaseException) -> Outcome:
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError |
                  openai.NotFoundError):
        return Outcome.FATAL
    if isinstance(exc, openai.RateLimitError | openai.InternalServerError |
                  openai.APITimeoutError | openai.APIConnectionError | EmptyReply |
                  NotACompletion | DeadlineExceeded):
        return Outcome.RETRY
    if isinstance(exc, openai.APIStatusError):
        return Outcome.RETRY if exc.status_code >= 500 or exc.status_code == 408 else Outcome.FAIL
    return Outcome.FAIL


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait, if it said: `retry-after-ms` (precise, what Azure
    OpenAI and the openai client use) before `retry-after` (whole seconds by the HTTP spec)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def completion_from(raw: httpx2.Response) -> dict[str, Any]:
    """The chat completion in a 2xx answer; NotACompletion (retried) when the body is none."""
    try:
        response = orjson.loads(raw.content)
    except orjson.JSONDecodeError as err:
        reason = "JSON cut short" if "end of data" in str(err) else "not JSON"
        raise NotACompletion(raw, reason) from None
    if not isinstance(response, dict) or not isinstance(response.get("choices"), list):
        raise NotACompletion(raw, "JSON without a choices list")
    return response


def request_deadline(timeout: float | httpx2.Timeout | None) -> float | None:
    """Seconds the whole request may take: the largest of the client's timeouts.

    `inference_parameters.timeout` becomes the read, write and pool timeouts (connect is
    capped lower); each of those bounds one wait, not the request, so a body that trickles in
    byte by byte would never trip them.
    """
    if isinstance(timeout, httpx2.Timeout):
        parts = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool)
                 if t is not None]
        return max(parts, default=None)
    return float(timeout) if isinstance(timeout, int | float) else None


async def within_deadline(request: Awaitable[T], seconds: float | None) -> T:
    """Await `request`, raising DeadlineExceeded (retried) if it takes over `seconds`."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await request
    except TimeoutError:
        if not deadline.expired():
            raise  # some other timeout inside the request, not ours
        raise DeadlineExceeded(
            f"no complete answer within {seconds:g} s (models[].inference_parameters.timeout): "
            "nothing came back or the body stalled; raise the timeout if answers are really "
            "that slow"
        ) from None


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0,
            server_wait: float | None = None) -> float:
    """Full-jitter exponential back-off, never shorter than what the server asked for."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    return max(delay, server_wait or 0.0)
