"""AdaptiveLimiter: at most `limit` requests in flight; halves on 429, grows back on success.

The ceiling is this job's share of the endpoint budget (its `llm_slots`); the limit never
exceeds it, so all jobs together never exceed the budget either. Waiters queue FIFO and a
release wakes exactly the waiters that can now run (no thundering herd: with hundreds of
queued records, waking all of them per release cost more CPU than the requests themselves).
"""

from __future__ import annotations

import asyncio
import collections
import time


class AdaptiveLimiter:
    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self._resume_at = 0.0
        self._last_cut = 0.0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    def _free(self) -> bool:
        return self.in_flight < int(self.limit) and time.monotonic() >= self._resume_at

    async def acquire(self) -> None:
        if not self._waiters and self._free():
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the slot was taken for us by _wake
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.in_flight -= 1  # granted and cancelled at once: hand the slot on
                self._wake()
            raise

    def release(self, *, throttled: bool = False, wait: float | None = None) -> None:
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
        self._wake()

    def _wake(self) -> None:
        pause = self._resume_at - time.monotonic()
        if pause > 0:
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(pause, self._after_pause)
            return
        while self._waiters and self.in_flight < int(self.limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def _after_pause(self) -> None:
        self._timer = None
        self._wake()
