"""AdaptiveLimiter: at most `limit` requests in flight; halves on 429, grows back on success.

The ceiling is this job's share of the endpoint budget (its `llm_slots`); the limit never
exceeds it, so all jobs together never exceed the budget either.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class AdaptiveLimiter:
    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self._resume_at = 0.0
        self._last_cut = 0.0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            while True:
                pause = self._resume_at - time.monotonic()
                if pause <= 0 and self.in_flight < int(self.limit):
                    self.in_flight += 1
                    return
                timeout = pause if pause > 0 else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)

    async def release(self, *, throttled: bool = False, wait: float | None = None) -> None:
        async with self._changed:
            self.in_flight -= 1
            now = time.monotonic()
            if throttled:
                # One cut per burst: many 429s from the same moment are one signal.
                if now - self._last_cut > 1.0:
                    self.limit = max(1.0, self.limit / 2)
                    self._last_cut = now
                if wait:
                    self._resume_at = max(self._resume_at, now + wait)
            elif self.limit < self.ceiling:
                # Additive increase: about +1 slot per `limit` successes.
                self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            self._changed.notify_all()
