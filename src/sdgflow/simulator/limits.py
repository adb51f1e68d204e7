"""Per-minute request and token limits per model, enforced and announced the way OpenAI does.

Each limit is a bucket that refills continuously (`limit / 60` per second). The token bucket
holds a minute's allowance; the request bucket holds one second's (the quantized enforcement
OpenAI documents), so a client may burst a second's requests and then gets the steady rate.
A request takes 1 from the request bucket and its estimated tokens (prompt size plus
`max_tokens`, which OpenAI counts in full before any answer exists) from the token bucket; when
either lacks, it is refused with 429 and takes nothing. Every admitted or refused answer carries
the `x-ratelimit-*` headers: the limit, what remains, and how long until the bucket is full
again (a Go duration such as `1s`, `6m0s` or `20ms`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sdgflow.ratelimit_headers import format_duration

SECONDS_PER_MINUTE = 60.0


# OpenAI: "your rate limit may be quantized, meaning we enforce it over shorter periods of
# time": 60,000 requests/minute may be enforced as 1,000 requests/second. Requests are enforced
# per second here, so a full minute's requests cannot go out in one burst and a build's time is
# bounded by the limit (a token bucket keeps its minute: one request may be large).
REQUEST_QUANTUM_S = 1.0


@dataclass(slots=True)
class Bucket:
    """An allowance of `capacity` that refills at `limit / 60` per second."""

    limit: int
    level: float
    updated: float
    capacity: float = 0.0

    def __post_init__(self) -> None:
        self.capacity = self.capacity or float(self.limit)

    @property
    def per_second(self) -> float:
        return self.limit / SECONDS_PER_MINUTE

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.per_second)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available (0 when it is now)."""
        return max(0.0, (amount - self.level) / self.per_second)

    def used(self) -> int:
        return round(self.capacity - self.level)

    def headers(self, kind: str) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{kind}": str(self.limit),
            f"x-ratelimit-remaining-{kind}": str(math.floor(self.level)),
            f"x-ratelimit-reset-{kind}": format_duration(self.wait_for(self.capacity)),
        }


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on one request: headers for its answer, and a 429 body when refused."""

    headers: dict[str, str]
    refused_on: str | None = None  # "requests" or "tokens"
    message: str = ""  # the 429's error message, worded like OpenAI's


class PerMinuteLimits:
    """The buckets of every model the simulator serves; `None` limits are not enforced."""

    def __init__(
        self,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"requests": requests_per_minute, "tokens": tokens_per_minute}
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def _bucket(self, model: str, kind: str, now: float) -> Bucket | None:
        limit = self._limits[kind]
        if limit is None:
            return None
        bucket = self._buckets.get((model, kind))
        if bucket is None:
            # Starts full, as an account that has sent nothing this minute.
            capacity = max(1.0, limit * REQUEST_QUANTUM_S / SECONDS_PER_MINUTE) \
                if kind == "requests" else float(limit)
            bucket = self._buckets[(model, kind)] = Bucket(limit, capacity, now, capacity)
        bucket.refill(now)
        return bucket

    def admit(self, model: str, tokens: int) -> Admission:
        """Take one request and `tokens` from `model`'s buckets, or refuse without taking."""
        now = self._clock()
        wanted = {"requests": 1, "tokens": tokens}
        buckets = {
            kind: bucket
            for kind in wanted
            if (bucket := self._bucket(model, kind, now)) is not None
        }
        for kind, bucket in buckets.items():
            if bucket.level < wanted[kind]:
                return self._refusal(model, kind, bucket, wanted[kind], buckets)
        for kind, bucket in buckets.items():
            bucket.level -= wanted[kind]
        return Admission(_headers(buckets))

    def _refusal(
        self, model: str, kind: str, bucket: Bucket, wanted: int, buckets: dict[str, Bucket]
    ) -> Admission:
        headers = _headers(buckets)
        unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
        where = f"for {model} in organization org-sdgflow-sim on {unit}"
        if wanted > bucket.limit:
            # No wait helps: OpenAI answers "Request too large" and sends no Retry-After.
            message = (
                f"Request too large {where}: Limit {bucket.limit}, Requested {wanted}. "
                "The input or output tokens must be reduced in order to run successfully."
            )
        else:
            wait = bucket.wait_for(wanted)
            message = (
                f"Rate limit reached {where}: Limit {bucket.limit}, Used {bucket.used()}, "
                f"Requested {wanted}. Please try again in {format_duration(round(wait, 3))}."
            )
            # Retry-After in whole seconds as HTTP defines it, retry-after-ms for the precise
            # wait (the openai client reads retry-after-ms first, as Azure OpenAI sends both).
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        return Admission(headers, kind, message)


def _headers(buckets: dict[str, Bucket]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind, bucket in buckets.items():
        headers |= bucket.headers(kind)
    return headers
